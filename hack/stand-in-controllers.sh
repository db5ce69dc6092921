#!/usr/bin/env bash
# Stand-in for the snapshot, CDI, KubeVirt and VolSync controllers, for clusters that have only their CRDs
# (clonejob-operator crds --stand-ins): it marks VolumeSnapshots readyToUse, DataVolumes Succeeded and VirtualMachines
# ready, exactly the status fields clonejob-operator waits for, and plays VolSync's first sync of each
# ReplicationDestination (a ready image it owns, published as its latestImage). Never run it where the real controllers
# run. A VolumeSnapshot to mark comes from the replication tool, or, to try things out, from
# manifests/samples/replication/ (the README's first clone); `clonejob-operator demo` does it all.
#   hack/stand-in-controllers.sh NAMESPACE        (loops until killed)
set -euo pipefail
ns="${1:?namespace}"

# mark RESOURCE FIELD DONE-VALUE STATUS-PATCH: patch every object whose status FIELD is not DONE-VALUE yet.
mark() {
  kubectl -n "$ns" get "$1" -o jsonpath="{range .items[*]}{.metadata.name}={.status.$2}{'\n'}{end}" 2>/dev/null |
    awk -F= -v done="$3" '$1 != "" && $2 != done {print $1}' |
    while read -r name; do
      kubectl -n "$ns" patch "$1" "$name" --subresource=status --type merge -p "$4" >/dev/null && echo "marked $1/$name"
    done
}

# sync NAME UID: VolSync's first sync of a ReplicationDestination: an image it owns, ready, published as its latest.
sync() {
  local image="volsync-$1-dst-1" now
  now="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  local owner="{apiVersion: volsync.backube/v1alpha1, kind: ReplicationDestination, name: $1, uid: $2}"
  printf '%s\n' "apiVersion: snapshot.storage.k8s.io/v1" "kind: VolumeSnapshot" \
    "metadata: {name: $image, ownerReferences: [$owner]}" \
    "spec: {source: {persistentVolumeClaimName: volsync-$1-dst}}" |
    kubectl -n "$ns" apply --server-side -f - >/dev/null
  kubectl -n "$ns" patch volumesnapshots.snapshot.storage.k8s.io "$image" --subresource=status --type merge \
    -p "{\"status\":{\"readyToUse\":true,\"restoreSize\":\"1Gi\",\"creationTime\":\"$now\"}}" >/dev/null
  local latest="{\"apiGroup\":\"snapshot.storage.k8s.io\",\"kind\":\"VolumeSnapshot\",\"name\":\"$image\"}"
  kubectl -n "$ns" patch replicationdestinations.volsync.backube "$1" --subresource=status --type merge \
    -p "{\"status\":{\"latestImage\":$latest,\"lastSyncStartTime\":\"$now\",\"lastSyncTime\":\"$now\"}}" >/dev/null &&
    echo "synced replicationdestination/$1: $image"
}

# first_syncs: every ReplicationDestination that has published no image yet gets its first.
first_syncs() {
  kubectl -n "$ns" get replicationdestinations.volsync.backube \
    -o jsonpath="{range .items[*]}{.metadata.name}={.metadata.uid}={.status.latestImage.name}{'\n'}{end}" 2>/dev/null |
    awk -F= '$1 != "" && $3 == "" {print $1, $2}' |
    while read -r name uid; do sync "$name" "$uid"; done
}

while true; do
  first_syncs
  mark volumesnapshots.snapshot.storage.k8s.io readyToUse true '{"status":{"readyToUse":true,"restoreSize":"1Gi"}}'
  mark datavolumes.cdi.kubevirt.io phase Succeeded '{"status":{"phase":"Succeeded","progress":"100.0%"}}'
  mark virtualmachines.kubevirt.io ready true '{"status":{"created":true,"ready":true,"printableStatus":"Running"}}'
  sleep 2
done
