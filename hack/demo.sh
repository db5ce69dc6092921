#!/usr/bin/env bash
# The whole thing working, in one command: `clonejob-operator demo` (see its --help) on the cluster in
# KUBECONFIG. When KUBECONFIG is unset and the local control plane that CI uses sits beside this
# checkout (../shared/k8s/cluster), the demo runs on a fresh one of those, stopped afterwards.
# Without clonejob-operator installed, it installs this checkout into a virtualenv first (.demo-venv).
#   hack/demo.sh [--namespace NS] [--keep] [--use-running-operator] [--context NAME] [--operator-log PATH]
# PYTHON names the interpreter to use (default python3).
set -euo pipefail
cd "$(dirname "$0")/.."

python=${PYTHON:-python3}   # an interpreter that has clonejob-operator installed, if not python3
if ! "$python" -c 'import clonejob_operator' 2>/dev/null; then
  if [ ! -x .demo-venv/bin/python ]; then
    echo "installing clonejob-operator from this checkout into .demo-venv (once)"
    python3 -m venv .demo-venv
    .demo-venv/bin/python -m pip install --quiet .
  fi
  python=.demo-venv/bin/python
fi

local_plane=../shared/k8s/cluster
if [ -z "${KUBECONFIG:-}" ] && [ -f "$local_plane" ]; then
  scratch=$(mktemp -d)
  dir=$scratch/cluster
  echo "KUBECONFIG is unset: starting a local API server ($local_plane up --full)"
  trap 'python3 "$local_plane" down --dir "$dir" >/dev/null 2>&1 || true; rm -rf "$scratch"' EXIT
  eval "$(python3 "$local_plane" up --full --dir "$dir")"
fi

"$python" -m clonejob_operator.cli demo "$@"
