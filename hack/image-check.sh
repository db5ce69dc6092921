#!/usr/bin/env bash
# Build the operator's image and run it against a cluster as the chart runs it: the chart's ServiceAccount
# (a token of it, with the RBAC the chart renders), the chart's args, leader election and the sealing key in
# its own namespace; then run the demo against it (--use-running-operator) and fail on any failure or refusal.
#
#   KUBECONFIG=... HELM=... CONTAINER="podman" hack/image-check.sh
#
# CONTAINER builds and runs images (docker, podman, or a wrapper: "CONTAINER build ...", "CONTAINER run ...");
# CONTAINER_ADMIN removes a container and reads its logs ("... rm -f NAME", "... logs NAME"; default: CONTAINER).
set -euo pipefail
cd "$(dirname "$0")/.."
: "${KUBECONFIG:?the cluster to run the image against}"
: "${CONTAINER:?a container engine: docker, podman, or a wrapper}"
helm=${HELM:-helm}
admin=${CONTAINER_ADMIN:-$CONTAINER}
python=${PYTHON:-python3}
image=${IMAGE:-clonejob-operator:check}
release=clonejob-operator
system=cj-image-$RANDOM
demo=cj-image-demo-$RANDOM
name=cj-image-check-$RANDOM
work=$(mktemp -d)
say() { printf 'image check: %s\n' "$*"; }

cleanup() {
  $admin rm -f "$name" >/dev/null 2>&1 || true
  [ -f "$work/rendered.yaml" ] && kubectl delete --ignore-not-found -f "$work/rendered.yaml" >/dev/null 2>&1 || true
  kubectl delete namespace "$system" "$demo" --ignore-not-found >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

say "building $image"
started=$(date +%s)
$CONTAINER build -q -t "$image" . >"$work/build.log" 2>&1 || { cat "$work/build.log"; exit 1; }
say "built in $(( $(date +%s) - started ))s"
$CONTAINER run --rm --entrypoint python "$image" -c \
  'import clonejob_operator.cli, clonejob_operator.targets.computeengine.driver' \
  || { say "the image cannot import the operator and its Compute Engine target"; exit 1; }

free_port() { "$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
live=$(free_port); metrics=$(free_port)
kubectl create namespace "$system" >/dev/null
kubectl create namespace "$demo" >/dev/null   # watched from the start; the demo's own (labelled so), and empty
kubectl label namespace "$demo" app.kubernetes.io/managed-by=clonejob-operator-demo >/dev/null
kubectl apply --server-side -f crds/ >/dev/null
"$helm" template "$release" charts/clonejob-operator -n "$system" --set "watch.namespaces={$demo}" \
  --set "liveness.port=$live" --set "metrics.port=$metrics" --set replicaCount=1 >"$work/chart.yaml"
# What a cluster without a kubelet can hold: the ServiceAccount, the RBAC and the policy (not the Deployment).
"$python" - "$work/chart.yaml" "$work/rendered.yaml" "$work/args" <<'PY'
import json, sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
kept = [d for d in docs if d["kind"] not in ("Deployment", "Service", "PodDisruptionBudget", "ServiceMonitor")]
open(sys.argv[2], "w").write(yaml.safe_dump_all(kept))
(deployment,) = [d for d in docs if d["kind"] == "Deployment"]
open(sys.argv[3], "w").write("\n".join(deployment["spec"]["template"]["spec"]["containers"][0]["args"]) + "\n")
PY
kubectl apply --server-side -f "$work/rendered.yaml" >/dev/null
mapfile -t args <"$work/args"

# The chart's ServiceAccount, spoken for by a token, as a pod's would be.
token=$(kubectl -n "$system" create token "$release" --duration=1h)
server=$(kubectl config view --minify -o jsonpath='{.clusters[0].cluster.server}')
ca=$(kubectl config view --raw --minify -o jsonpath='{.clusters[0].cluster.certificate-authority-data}')
[ -n "$ca" ] || ca=$(base64 -w0 <"$(kubectl config view --minify -o jsonpath='{.clusters[0].cluster.certificate-authority}')")
cat >"$work/kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "$server", certificate-authority-data: "$ca"}}]
users: [{name: u, user: {token: "$token"}}]
contexts: [{name: c, context: {cluster: c, user: u, namespace: "$system"}}]
current-context: c
EOF
chmod 0644 "$work/kubeconfig"

say "running it as system:serviceaccount:$system:$release with the chart's args: ${args[*]}"
$CONTAINER run -d --name "$name" --network=host -e "POD_NAMESPACE=$system" -e "POD_NAME=$name" \
  -v "$work/kubeconfig:/etc/clonejob/kubeconfig:ro" "$image" "${args[@]}" --kubeconfig /etc/clonejob/kubeconfig \
  >/dev/null
for _ in $(seq 120); do
  curl -fsS "http://127.0.0.1:$live/healthz" 2>/dev/null | grep -q '"leading": true' && break
  sleep 1
done
curl -fsS "http://127.0.0.1:$live/healthz" | grep -q '"leading": true' \
  || { say "the image's operator never led"; $admin logs "$name"; exit 1; }
say "the image's operator leads; running the demo against it"

started=$(date +%s)
"$python" -m clonejob_operator.cli demo --use-running-operator --namespace "$demo" >"$work/demo.log" 2>&1 \
  || { cat "$work/demo.log"; say "the demo failed"; $admin logs "$name" | tail -50; exit 1; }
say "the demo passed in $(( $(date +%s) - started ))s"
$admin logs "$name" >"$work/operator.log" 2>&1
if grep -Eqi '"(status|code)": ?403|forbidden| 403 ' "$work/operator.log"; then
  grep -Ei 'forbidden|403' "$work/operator.log" | head -5
  say "the chart's ServiceAccount was refused something"
  exit 1
fi
# Told, not required: the demo installs the stand-in CRDs after the operator started, and removes them as it ends,
# so whether the operator's look for them (every 60 s) fell within the demo depends on the demo's length.
say "$(grep -c 'served now: starting the watches again' "$work/operator.log" || true) runs started again for CRDs served since the operator started"
say "passed: $(grep -c 'CloneJob ' "$work/operator.log") log lines about jobs, no refusal"
