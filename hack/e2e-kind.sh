#!/usr/bin/env bash
# End to end on a real cluster: kind, the image, the Helm chart, a MigratingVm and a CloneJob.
# Needs docker (or podman), kind, kubectl and helm. KubeVirt, CDI and the snapshot controller are
# replaced by their CRDs plus hack/stand-in-controllers.sh, unless USE_REAL_CONTROLLERS=1 says they
# are installed already.
set -euo pipefail
cd "$(dirname "$0")/.."
cluster="${KIND_CLUSTER:-clonejob-e2e}"
version="$(awk '/^appVersion:/ {gsub(/"/, "", $2); print $2}' charts/clonejob-operator/Chart.yaml)"
image="ghcr.io/clonejob-operator/clonejob-operator:${version}"
ns=migration

kind get clusters | grep -qx "$cluster" || kind create cluster --name "$cluster" --wait 120s
trap '[ -n "${stand_in:-}" ] && kill "$stand_in" 2>/dev/null; [ -z "${KEEP_CLUSTER:-}" ] && kind delete cluster --name "$cluster"' EXIT
kubectl config use-context "kind-$cluster"

docker build -t "$image" .
kind load docker-image "$image" --name "$cluster"

if [ -z "${USE_REAL_CONTROLLERS:-}" ]; then
  clonejob-operator crds --stand-ins | kubectl apply --server-side -f -
fi
helm upgrade --install clonejob-operator charts/clonejob-operator --namespace clonejob-system --create-namespace \
  --set image.pullPolicy=Never --wait --timeout 3m

kubectl create namespace "$ns" --dry-run=client -o yaml | kubectl apply --server-side -f -
if [ -z "${USE_REAL_CONTROLLERS:-}" ]; then
  hack/stand-in-controllers.sh "$ns" & stand_in=$!
fi

# Play the replication tool: a snapshot of the one disk, named in the MigratingVm's lastSync.
kubectl apply --server-side -f manifests/samples/migratingvm.yaml
kubectl -n "$ns" apply --server-side -f - <<'YAML'
apiVersion: snapshot.storage.k8s.io/v1
kind: VolumeSnapshot
metadata: {name: web-1-c3-d0}
spec: {source: {persistentVolumeClaimName: web-1-source}}
YAML
kubectl -n "$ns" patch mvm web-1 --subresource=status --type merge -p '{"status": {"state": "ACTIVE",
  "lastSync": {"cycleNumber": 3, "lastSyncTime": "2026-11-26T09:00:00Z",
               "snapshots": [{"disk": "disk-0", "volumeSnapshot": "web-1-c3-d0", "sizeBytes": 1073741824}]}}}'

kubectl apply --server-side -f manifests/samples/clonejob.yaml
kubectl -n "$ns" wait --for=condition=Ready cjob/web-1-test-3 --timeout=5m
kubectl -n "$ns" get cjob -o wide
test "$(kubectl -n "$ns" get cjob web-1-test-3 -o jsonpath='{.status.state}')" = SUCCEEDED
echo "e2e: SUCCEEDED"
