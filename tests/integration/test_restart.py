"""The operator killed hard mid-step (SIGKILL, no cleanup of its own) and started again."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

import pytest

from clonejob_operator import names
from clonejob_operator.kube import Kube
from clonejob_operator.targets.kubevirt.kinds import DATA_VOLUME, VIRTUAL_MACHINE
from tests.integration.kit import World, running_operator, settings_for, wait_for
from tests.integration.replicas import operator_process


def _kill(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGKILL)
    assert process.wait(10) == -signal.SIGKILL


@pytest.mark.parametrize("step", ["preparingVmDisks", "instantiatingMigratedVm"])
def test_killed_mid_step_then_restarted_completes_without_duplicates(
    kube: Kube, world: World, namespace: str, cluster_kubeconfig: str, tmp_path: Path, step: str
) -> None:
    world.migrating_vm("web-1", disks=2)
    log = tmp_path / "operator.log"
    with operator_process(cluster_kubeconfig, namespace, log) as process:
        world.clone_job("cj")
        world.wait_object(DATA_VOLUME, "cj-disk-1", timeout=60)
        if step == "instantiatingMigratedVm":
            world.finish_disks("cj", disks=2)
            world.wait_object(VIRTUAL_MACHINE, "cj")
        world.wait_step("cj", step)
        _kill(process)
    uids = {p["metadata"]["uid"] for kind in (DATA_VOLUME, VIRTUAL_MACHINE) for p in world.products(kind)}
    assert len(uids) == (3 if step == "instantiatingMigratedVm" else 2), log.read_text()[-3000:]

    with running_operator(kube, settings_for(namespace)):
        if step == "preparingVmDisks":
            world.finish_disks("cj", disks=2)
        world.ready_vm("cj")
        status = world.wait_state("cj", "SUCCEEDED")
    products = [p for kind in (DATA_VOLUME, VIRTUAL_MACHINE) for p in world.products(kind)]
    assert sorted(p["metadata"]["name"] for p in products) == ["cj", "cj-disk-0", "cj-disk-1"]
    assert uids <= {p["metadata"]["uid"] for p in products}, "a product was re-created"
    refs = [(r["kind"], r["name"]) for r in status["createdResources"]]
    assert sorted(refs) == [("DataVolume", "cj-disk-0"), ("DataVolume", "cj-disk-1"), ("VirtualMachine", "cj")]
    assert len(status["steps"]) == 2
    assert all(s["startTime"] <= s["endTime"] for s in status["steps"])


def test_cleanup_finds_products_by_label_even_when_unrecorded(kube: Kube, world: World, namespace: str) -> None:
    """Something created just before a crash, never written to createdResources, is still removed."""
    world.migrating_vm("web-1")
    with running_operator(kube, settings_for(namespace)):
        job = world.clone_job("cj")
        world.wait_step("cj", "preparingVmDisks")
        run = names.run_of(world.status("cj")["createdRevision"])
        stray = world.create(DATA_VOLUME, "stray", {}, names.product_labels("cj", job["metadata"]["uid"], "web-1", run))
        unrelated = world.create(
            DATA_VOLUME, "unrelated", {}, {names.LABEL_JOB: "cj", names.LABEL_JOB_UID: "someone-else"}
        )
        world.cancel("cj")
        world.wait_state("cj", "CANCELLED")
    assert world.get(DATA_VOLUME, "stray") is None, stray["metadata"]["name"]
    kept = world.get(DATA_VOLUME, "unrelated")
    assert kept is not None and kept["metadata"]["uid"] == unrelated["metadata"]["uid"]
    wait_for(lambda: world.get(DATA_VOLUME, "cj-disk-0") is None, 5, "the job's own disk to be gone")


def test_liveness_and_metrics_endpoints_answer_and_sigterm_stops_cleanly(
    cluster_kubeconfig: str, namespace: str, tmp_path: Path
) -> None:
    import socket
    import urllib.request

    ports = []
    for _ in range(2):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            ports.append(probe.getsockname()[1])
    url = f"http://127.0.0.1:{ports[0]}/healthz"
    log = tmp_path / "operator.log"
    extra = ("--liveness", url, "--metrics-port", str(ports[1]), "--metrics-address", "127.0.0.1")
    with operator_process(cluster_kubeconfig, namespace, log, *extra) as process:

        def healthy() -> bool:
            assert process.poll() is None, log.read_text()[-2000:]
            try:
                with urllib.request.urlopen(url, timeout=2) as answer:
                    return bool(answer.status == 200)
            except OSError:
                return False

        wait_for(healthy, 30, "the liveness endpoint")
        with urllib.request.urlopen(f"http://127.0.0.1:{ports[1]}/metrics", timeout=5) as answer:
            exposition = answer.read().decode()
        assert 'clonejob_jobs{state="ACTIVE"}' in exposition
        assert "# TYPE clonejob_step_duration_seconds histogram" in exposition
        assert 'clonejob_migratingvms{state="ERROR"}' in exposition
        assert "# TYPE clonejob_feed_faults_total counter" in exposition
        process.terminate()
        assert process.wait(20) == 0, log.read_text()[-2000:]
