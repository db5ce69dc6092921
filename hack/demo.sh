#!/usr/bin/env bash
# The whole thing working, in one command: `clonejob-operator demo` (see its --help) on the cluster in
# KUBECONFIG. When KUBECONFIG is unset and the local control plane that CI uses sits beside this
# checkout (../shared/k8s/cluster), the demo runs on a fresh one of those, stopped afterwards.
# Without clonejob-operator installed, it installs this checkout into a virtualenv first (.demo-venv).
#   hack/demo.sh [--namespace NS] [--keep] [--use-running-operator] [--context NAME]
set -euo pipefail
cd "$(dirname "$0")/.."

if ! python3 -c 'import clonejob_operator' 2>/dev/null; then
  if [ ! -x .demo-venv/bin/python ]; then
    echo "installing clonejob-operator from this checkout into .demo-venv (once)"
    python3 -m venv .demo-venv
    .demo-venv/bin/python -m pip install --quiet .
  fi
  python=.demo-venv/bin/python
else
  python=python3
fi

local_plane=../shared/k8s/cluster
if [ -z "${KUBECONFIG:-}" ] && [ -f "$local_plane" ]; then
  dir=$(mktemp -d)/cluster
  echo "KUBECONFIG is unset: starting a local API server ($local_plane up --full)"
  eval "$(python3 "$local_plane" up --full --dir "$dir")"
  trap 'python3 "$local_plane" down --dir "$dir" >/dev/null 2>&1 || true' EXIT
fi

"$python" -m clonejob_operator.cli demo "$@"
