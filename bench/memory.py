"""The operator's memory with N of the largest MigratingVm and CloneJob pairs the schemas admit.

Each pair is a MigratingVm and a finished CloneJob (its status sealed by the operator's key, as a finished job's
is), both at the largest size their CRDs admit (bench/largest.py). The operator runs as a process, as users
run it; its peak RSS is read once it holds every object: idle (nothing to watch), at a start, and at a second
start (a restart lists everything at once again).

    python -m bench.memory --pairs 500 --output bench/results/memory-500.json
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import kubernetes
from kubernetes.client.exceptions import ApiException

from bench import largest
from bench.throughput import OperatorProcess, cluster, install_crds, manifest, wait
from clonejob_operator.kube import CLONE_JOB, MIGRATING_VM, Kube
from clonejob_operator.seal import Sealer

NAMESPACE = "bench-memory"


def fill(kube: Kube, pairs: int, sealer: Sealer) -> int:
    """``pairs`` largest MigratingVm and finished CloneJob pairs; the bytes of JSON they hold."""
    spec, status = largest.of("MigratingVm")
    job_spec, job_status = largest.of("CloneJob")
    job_status = {**job_status, "state": "SUCCEEDED", "observedGeneration": 1}  # finished, and nothing to look at
    job_status["conditions"] = [{**c, "observedGeneration": 1} for c in job_status["conditions"]]

    def one(index: int) -> int:
        name = f"mvm-{index:04d}"
        body = manifest(MIGRATING_VM, NAMESPACE, name, spec)
        kube.create(MIGRATING_VM, NAMESPACE, body)
        kube.patch_status(MIGRATING_VM, NAMESPACE, name, {"status": status})
        job = kube.create(
            CLONE_JOB, NAMESPACE, manifest(CLONE_JOB, NAMESPACE, f"cj-{index:04d}", {**job_spec, "migratingVm": name})
        )
        sealed = sealer.sealed(job["metadata"]["uid"], job_status)
        kube.patch_status(CLONE_JOB, NAMESPACE, job["metadata"]["name"], {"status": sealed})
        return len(json.dumps([spec, status, job_spec, sealed], separators=(",", ":")))

    with ThreadPoolExecutor(8) as pool:
        return sum(pool.map(one, range(pairs)))


def measure(kubeconfig: str, key: Path, log: Path, settle: float = 5.0, timeout: float = 600.0) -> dict[str, float]:
    """Start the operator, wait until its memory has stopped growing for ``settle`` seconds, read its peak."""
    began = time.monotonic()
    operator = OperatorProcess(kubeconfig, NAMESPACE, None, ["--seal-key", f"file:{key}"], log, None)
    try:
        operator.wait_ready()
        last, since = 0.0, time.monotonic()

        def settled() -> bool:
            nonlocal last, since
            now = operator.usage().peak_rss_mib
            if now > last:
                last, since = now, time.monotonic()
            return time.monotonic() - since >= settle

        wait(settled, timeout, "the operator's memory to settle", every=0.5)
        usage = operator.usage()
        return {
            "peak_rss_mib": usage.peak_rss_mib,
            "cpu_seconds": usage.cpu_seconds,
            "wall_s": round(time.monotonic() - began, 1),
        }
    finally:
        operator.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.memory", description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=int, default=500)
    parser.add_argument("--kubeconfig", help="a cluster to use (default: start a local control plane)")
    parser.add_argument("--output", help="write the results as JSON here")
    args = parser.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="bench-memory-"))
    key = workdir / "seal-key"
    sealer = Sealer.random()
    key.write_text(base64.b64encode(sealer.key).decode())
    with cluster(args.kubeconfig) as kubeconfig:
        kube = Kube.from_kubeconfig(kubeconfig)
        install_crds(kube)
        try:
            kube.core.create_namespace(
                kubernetes.client.V1Namespace(metadata=kubernetes.client.V1ObjectMeta(name=NAMESPACE))
            )
        except ApiException as error:
            if error.status not in (403, 409):  # a CRD-only server serves no namespaces, and needs none
                raise
        idle = measure(kubeconfig, key, workdir / "idle.log")
        held = fill(kube, args.pairs, sealer)
        first = measure(kubeconfig, key, workdir / "first.log")
        again = measure(kubeconfig, key, workdir / "restart.log")
    result = {"pairs": args.pairs, "json_mib": round(held / 2**20, 1), "idle": idle, "start": first, "restart": again}
    sys.stdout.write(json.dumps(result, indent=2) + "\n")
    if args.output:
        Path(args.output).write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
