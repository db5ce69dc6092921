-- Argo CD health of a vmmigration.dev/v1 MigratingVm, from the state its replication tool reports (or, with
-- spec.replication.volSync, the state the operator keeps from VolSync's ReplicationDestinations).
local hs = {}
local status = obj.status
local fed = obj.spec ~= nil and obj.spec.replication ~= nil and obj.spec.replication.volSync ~= nil
if status == nil or status.state == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for replication to report a state"
  if fed then
    hs.message = "Waiting for the operator to read its ReplicationDestinations"
  end
  return hs
end
local state = status.state
if state == "ERROR" or state == "EXPIRED" or state == "FINALIZED_EXPIRED" then
  hs.status = "Degraded"
  hs.message = state
  if status.error ~= nil and status.error.message ~= nil then
    hs.message = state .. ": " .. status.error.message
  end
elseif state == "PAUSED" then
  hs.status = "Suspended"
  hs.message = "Replication is paused"
elseif state == "ACTIVE" or state == "CUTOVER" or state == "FINALIZED" then
  hs.status = "Healthy"
  hs.message = state
  if status.lastSync ~= nil and status.lastSync.lastSyncTime ~= nil then
    hs.message = state .. ", last sync " .. status.lastSync.lastSyncTime
  end
elseif state == "FIRST_SYNC" and fed and status.lastReplicationCycle ~= nil and status.lastReplicationCycle.progressPercent ~= nil then
  hs.status = "Progressing"
  hs.message = "FIRST_SYNC: " .. status.lastReplicationCycle.progressPercent .. "% of the disks have an image"
else
  hs.status = "Progressing"
  hs.message = state
end
return hs
