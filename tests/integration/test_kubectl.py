"""What kubectl and Flux users rely on: `kubectl wait` on the Ready condition and on the state."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from datetime import timedelta
from typing import Any

import pytest

from clonejob_operator import crdgen
from clonejob_operator.api.clonejob import StepKind
from clonejob_operator.kube import CLONE_JOB, MIGRATING_VM, Kube
from clonejob_operator.targets.kubevirt.kinds import DATA_VOLUME
from tests.integration.kit import World, running_operator, settings_for, wait_for


@pytest.fixture
def kubectl(cluster_kubeconfig: str) -> list[str]:
    found = os.environ.get("KUBECTL") or shutil.which("kubectl")
    if not found:
        pytest.skip("no kubectl: set KUBECTL or put kubectl on PATH")
    return [found, "--kubeconfig", cluster_kubeconfig]


def wait(kubectl: list[str], namespace: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*kubectl, "-n", namespace, "wait", *args, "--timeout=60s"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def test_kubectl_wait_for_ready_returns_when_the_job_succeeds(
    kube: Kube, world: World, namespace: str, kubectl: list[str]
) -> None:
    world.migrating_vm("web-1")
    with running_operator(kube, settings_for(namespace)):
        world.clone_job("cj")
        waiter = wait(kubectl, namespace, "--for=condition=Ready", "cjob/cj")
        world.finish_disks("cj")
        assert waiter.poll() is None, "Ready before the clone was"
        world.ready_vm("cj")
        output, _ = waiter.communicate(timeout=70)
    assert waiter.returncode == 0, output
    assert "condition met" in output
    assert world.state("cj") == "SUCCEEDED"


def test_kubectl_wait_for_failed_state(kube: Kube, world: World, namespace: str, kubectl: list[str]) -> None:
    world.migrating_vm("web-1")
    timeouts = {kind: timedelta(minutes=5) for kind in StepKind}
    with running_operator(kube, settings_for(namespace, step_timeouts=timeouts)):
        world.clone_job("cj")
        waiter = wait(kubectl, namespace, "--for=jsonpath={.status.state}=FAILED", "cjob/cj")
        world.wait_object(DATA_VOLUME, "cj-disk-0")
        world.set_status(DATA_VOLUME, "cj-disk-0", {"phase": "Failed"})
        output, _ = waiter.communicate(timeout=70)
    assert waiter.returncode == 0, output
    stalled = next(c for c in world.status("cj")["conditions"] if c["type"] == "Stalled")
    assert stalled["status"] == "True" and stalled["reason"] == "Internal"


def kstatus(body: dict[str, object]) -> str:
    """kstatus' verdict for a resource with standard conditions (sigs.k8s.io/cli-utils pkg/kstatus, generic rules)."""
    meta = body["metadata"]
    status = body.get("status") or {}
    assert isinstance(meta, dict) and isinstance(status, dict)
    if status.get("observedGeneration") != meta.get("generation"):
        return "InProgress"
    conditions = {c["type"]: c["status"] for c in status.get("conditions", [])}
    if conditions.get("Reconciling") == "True":
        return "InProgress"
    if conditions.get("Stalled") == "True":
        return "Failed"
    if conditions.get("Ready") == "False":
        return "InProgress"
    return "Current"


def test_kstatus_reads_running_as_in_progress_succeeded_as_current_failed_as_failed(
    kube: Kube, world: World, namespace: str
) -> None:
    world.migrating_vm("web-1")
    with running_operator(kube, settings_for(namespace)):
        world.clone_job("ok")
        world.wait_step("ok", "preparingVmDisks")
        assert kstatus(world.job("ok")) == "InProgress"
        world.finish_disks("ok")
        world.ready_vm("ok")
        world.wait_state("ok", "SUCCEEDED")
        assert kstatus(world.job("ok")) == "Current"
        world.clone_job("bad")
        world.wait_object(DATA_VOLUME, "bad-disk-0")
        world.set_status(DATA_VOLUME, "bad-disk-0", {"phase": "Failed"})
        world.wait_state("bad", "FAILED")
        assert kstatus(world.job("bad")) == "Failed"
        world.clone_job("stop")
        world.wait_step("stop", "preparingVmDisks")
        world.cancel("stop")
        world.wait_state("stop", "CANCELLED")
        assert kstatus(world.job("stop")) == "Failed"


def test_kubectl_field_selectors_on_migratingvm_and_state(world: World, namespace: str, kubectl: list[str]) -> None:
    world.clone_job("a", migrating_vm="web-1")
    world.clone_job("b", migrating_vm="web-2")
    world.set_status(CLONE_JOB, "a", {"state": "FAILED"})
    selector = "spec.migratingVm=web-1,status.state=FAILED"
    out = subprocess.run(
        [*kubectl, "-n", namespace, "get", "cjob", "--field-selector", selector, "-o", "name"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["clonejob.vmmigration.dev/a"]


def test_kubectl_patch_cancelling_a_finished_job_is_refused(world: World, namespace: str, kubectl: list[str]) -> None:
    world.clone_job("done")
    world.set_status(CLONE_JOB, "done", {"state": "SUCCEEDED"})
    out = subprocess.run(
        [*kubectl, "-n", namespace, "patch", "cjob", "done", "--type", "merge", "-p", '{"spec":{"cancel":true}}'],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode != 0
    assert "spec.cancel" in out.stderr and "has finished (status.state SUCCEEDED)" in out.stderr


@pytest.mark.parametrize(
    ("field", "words"),
    [
        ("clonejob.status.state", "The clone job has not yet started."),
        ("clonejob.status.name", "Output only. The name of the clone"),
        ("clonejob.status.steps.preparingVmDisks", "Preparing VM disks step."),
        ("targetproject.spec.project", "The target Google Cloud project ID."),
        ("migratingvm.spec.replication.volSync.disks", "One entry per source disk, in the order of the clone's disks."),
        ("clonejob.status.sourceSync.replication", "the job holds the snapshots it restores from"),
    ],
)
def test_kubectl_explain_shows_the_vmmigration_descriptions(kubectl: list[str], field: str, words: str) -> None:
    def explained() -> str | None:
        out = subprocess.run([*kubectl, "explain", field], capture_output=True, text=True, timeout=60)
        return out.stdout if out.returncode == 0 and words in " ".join(out.stdout.split()) else None

    assert wait_for(explained, 30, f"kubectl explain {field}")


def _raw(kubectl: list[str], path: str) -> dict[str, Any] | None:
    done = subprocess.run([*kubectl, "get", "--raw", path], capture_output=True, text=True, timeout=30)
    return json.loads(done.stdout) if done.returncode == 0 else None  # a CRD-only server refuses /api/v1


def test_no_built_in_resource_uses_our_short_names(kubectl: list[str], world: World) -> None:
    """On a real cluster a built-in short name wins over a CRD's (``cj`` is CronJob): ours must be free.
    Asked of the server's own discovery; then ``kubectl get cjob`` must reach CloneJobs without a warning."""
    ours = {short for crd in crdgen.all_crds().values() for short in crd["spec"]["names"].get("shortNames", [])}
    taken: dict[str, str] = {}
    paths = ["/api/v1"]
    for group in (_raw(kubectl, "/apis") or {}).get("groups", []):
        if group["name"] != "vmmigration.dev":
            paths += [f"/apis/{version['groupVersion']}" for version in group["versions"]]
    for path in paths:
        for resource in (_raw(kubectl, path) or {}).get("resources", []):
            taken.update({short: f"{resource['name']} ({path})" for short in resource.get("shortNames", [])})
    assert ours == {"cjob", "mvm", "tp", "adprofile"}
    assert not ours & set(taken), f"short names taken by built-in resources: {ours & set(taken)}"
    world.clone_job("mine")
    done = subprocess.run(
        [*kubectl, "-n", world.namespace, "get", "cjob", "-o", "name"], capture_output=True, text=True, timeout=30
    )
    assert done.stdout.split() == ["clonejob.vmmigration.dev/mine"] and "could also match" not in done.stderr


def get_wide(kubectl: list[str], namespace: str, resource: str = "cjob") -> dict[str, dict[str, str]]:
    """`kubectl get RESOURCE -o wide`, as name -> column -> cell (cells split on the header's columns, whose titles
    may be words apart by one space: SOURCE VM)."""
    done = subprocess.run(
        [*kubectl, "-n", namespace, "get", resource, "-o", "wide"], capture_output=True, text=True, check=True
    )
    header, *rows = done.stdout.splitlines()
    titles = [(m.group(), m.start()) for m in re.finditer(r"\S+(?: \S+)*", header)]
    ends = [start for _, start in titles[1:]] + [None]
    return {
        row.split()[0]: {title: row[start:end].strip() for (title, start), end in zip(titles, ends, strict=True)}
        for row in rows
    }


def test_kubectl_get_says_why_a_job_waits_and_names_a_vm_only_once_made(
    kube: Kube, world: World, namespace: str, kubectl: list[str]
) -> None:
    world.migrating_vm("web-1")
    world.migrating_vm("bare", synced=False)
    with running_operator(kube, settings_for(namespace)):
        world.clone_job("waits", migrating_vm="bare")
        world.clone_job("ghost", migrating_vm="nobody")
        world.clone_job("cj")
        world.finish_disks("cj", phase="Failed")
        world.wait_state("cj", "FAILED")
        world.wait_reason("waits", "NoSnapshots")
        world.wait_reason("ghost", "MigratingVmNotFound")
        table = get_wide(kubectl, namespace)
    assert table["waits"]["STATE"] == "PENDING" and table["waits"]["REASON"] == "NoSnapshots"
    assert "snapshot" in table["waits"]["MESSAGE"].lower()
    assert table["ghost"]["REASON"] == "MigratingVmNotFound"
    assert table["cj"]["STATE"] == "FAILED" and table["cj"]["REASON"] == "Internal"
    assert "cj-disk-0" in table["cj"]["MESSAGE"]
    assert all(row["VM"] == "" for row in table.values()), "no job made a VM"
    default = subprocess.run([*kubectl, "-n", namespace, "get", "cjob"], capture_output=True, text=True, check=True)
    assert default.stdout.split()[:7] == ["NAME", "STATE", "STEP", "MIGRATINGVM", "AGE", "ENDED", "REASON"]


def test_kubectl_get_names_the_vm_of_a_clone(kube: Kube, world: World, namespace: str, kubectl: list[str]) -> None:
    world.migrating_vm("web-1")
    with running_operator(kube, settings_for(namespace)):
        world.clone_to_success("cj")
        table = get_wide(kubectl, namespace)
    assert (table["cj"]["VM"], table["cj"]["REASON"], table["cj"]["MESSAGE"]) == (
        "cj",
        "Succeeded",
        "the clone is ready",
    )


def test_kubectl_get_mvm_wide_shows_the_cycle_under_way_and_the_error(
    world: World, namespace: str, kubectl: list[str]
) -> None:
    world.migrating_vm("web-1")
    cycle = {"cycleNumber": 4, "progressPercent": 50, "state": "RUNNING"}
    error = {"code": 5, "message": "ReplicationDestination web-1-boot not found"}
    world.set_status(MIGRATING_VM, "web-1", {"state": "ERROR", "error": error, "lastReplicationCycle": cycle})
    row = get_wide(kubectl, namespace, "mvm")["web-1"]
    assert (row["STATE"], row["CYCLE PROGRESS"], row["ERROR"]) == ("ERROR", "50", error["message"]), row
