-- Argo CD health of a vmmigration.dev/v1 CloneJob.
-- CANCELLED is Suspended, not Degraded: a cancel is something a person chose to do, not a fault.
local hs = {}
local function progress(status)
  local text = status.state
  if status.currentStep ~= nil then
    text = text .. ", step " .. status.currentStep
  end
  if status.progressPercent ~= nil then
    text = text .. " (" .. tostring(status.progressPercent) .. "%)"
  end
  if status.conditions ~= nil then
    for _, condition in ipairs(status.conditions) do
      if condition.type == "Reconciling" and condition.status == "True" and condition.message ~= nil
          and condition.message ~= "" then
        text = text .. ": " .. condition.message
      end
    end
  end
  return text
end

if obj.metadata ~= nil and obj.metadata.deletionTimestamp ~= nil then
  hs.status = "Progressing"
  hs.message = "Being deleted: an unfinished job is cancelled and its products removed first"
  return hs
end
local status = obj.status
if status ~= nil and status.conditions ~= nil then
  for _, condition in ipairs(status.conditions) do
    if condition.type == "Ready" and condition.reason == "UntrustedStatus" then
      hs.status = "Degraded"  -- whatever the state says: the operator did not write it, and acts on nothing
      hs.message = "Held: " .. (condition.message or "its status was not written by the operator")
      return hs
    end
  end
end
if status == nil or status.state == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to pick the job up"
  return hs
end
if status.observedGeneration == nil or obj.metadata.generation == nil
    or status.observedGeneration < obj.metadata.generation then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to observe the latest spec"
  return hs
end
local state = status.state
if state == "SUCCEEDED" then
  hs.status = "Healthy"
  hs.message = "The clone is ready"
elseif state == "FAILED" then
  hs.status = "Degraded"
  hs.message = "Failed"
  if status.error ~= nil and status.error.message ~= nil then
    hs.message = "Failed: " .. status.error.message
  end
elseif state == "CANCELLED" then
  hs.status = "Suspended"
  hs.message = "Cancelled; everything it created was removed"
else
  hs.status = "Progressing"
  hs.message = progress(status)
end
return hs
