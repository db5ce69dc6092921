#!/usr/bin/env bash
# Stand-in for the snapshot, CDI and KubeVirt controllers, for clusters that have only their CRDs
# (clonejob-operator crds --stand-ins): it marks VolumeSnapshots readyToUse, DataVolumes Succeeded and VirtualMachines ready,
# exactly the status fields clonejob-operator waits for. Never run it where the real controllers run.
# It creates nothing: a VolumeSnapshot to mark comes from the replication tool, or, to try things out,
# from manifests/samples/replication/ (the README's first clone); `clonejob-operator demo` does it all.
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

while true; do
  mark volumesnapshots.snapshot.storage.k8s.io readyToUse true '{"status":{"readyToUse":true,"restoreSize":"1Gi"}}'
  mark datavolumes.cdi.kubevirt.io phase Succeeded '{"status":{"phase":"Succeeded","progress":"100.0%"}}'
  mark virtualmachines.kubevirt.io ready true '{"status":{"created":true,"ready":true,"printableStatus":"Running"}}'
  sleep 2
done
