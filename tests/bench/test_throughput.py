"""The benchmark script itself, at N = 20 against the test cluster: it runs end to end and its counts
hold what the operator must guarantee (each product created once, reads from the caches). No timing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench import throughput

pytestmark = pytest.mark.cluster


def test_smoke_run_counts_what_the_operator_did(cluster_kubeconfig: str, tmp_path: Path) -> None:
    output = tmp_path / "result.json"
    code = throughput.main(["--jobs", "20", "--kubeconfig", cluster_kubeconfig, "--output", str(output), "--idle", "3"])
    result = json.loads(output.read_text())
    run = result["operator"]
    assert code == 0 and run["finished"] == 20
    # Every product exactly once: 10 jobs with one disk and 10 with two, and one VM each.
    assert run["requests"]["POST datavolumes"] == 30 and run["requests"]["POST virtualmachines"] == 20
    # One claim and one record on each MigratingVm, and no refusal of any write.
    assert run["requests"]["PATCH migratingvms/status"] == 40
    refused = [k for k in run["requests"] if "(" in k and "(429)" not in k and k.split()[0] in ("POST", "PATCH")]
    assert not refused, run["requests"]  # 429s are the API server's back-pressure, retried; nothing else refused
    assert run["reads_per_job"] <= 3  # reads come from the watch caches
    assert result["bare_wall_s"] > 0 and result["ratio"] > 0
    latencies = run["latency_s"]
    assert latencies["create -> SUCCEEDED"]["n"] == 20 and latencies["VM ready -> SUCCEEDED"]["n"] == 20
    assert latencies["reaction to a change"]["n"] == 60  # PENDING -> ACTIVE, disks, VM: three per job
    assert result["idle"]["waiting_jobs"] == 20 and result["idle"]["cpu_seconds"] >= 0


def test_smoke_run_fed_by_volsync_counts_the_holds(cluster_kubeconfig: str, tmp_path: Path) -> None:
    output = tmp_path / "result.json"
    argv = ["--jobs", "20", "--kubeconfig", cluster_kubeconfig, "--output", str(output), "--volsync", "--no-baseline"]
    code = throughput.main(argv)
    run = json.loads(output.read_text())["operator"]
    assert code == 0 and run["finished"] == 20
    assert run["requests"]["POST datavolumes"] == 30 and run["requests"]["POST virtualmachines"] == 20
    # Each job holds each of its images before its first disk and lets go once its disks are done: two writes
    # per image (30 images); the MigratingVms keep holding theirs (VolSync's latest), so nothing is deleted.
    assert run["requests"]["PATCH volumesnapshots"] == 60
    assert "DELETE volumesnapshots" not in run["requests"]
    # A claim per job (a job starts only once it is written) and at most a record per job (best effort): no write of
    # the feed's while the jobs run, as the cycles did not move.
    assert 20 <= run["requests"]["PATCH migratingvms/status"] <= 40, run["requests"]
