"""The happy path on a real API server: states, steps, timestamps, products, and the MigratingVm record."""

from __future__ import annotations

import functools
import re

from clonejob_operator import names
from clonejob_operator.kube import CLONE_JOB, MIGRATING_VM, Kube
from clonejob_operator.targets.kubevirt.kinds import DATA_VOLUME, VIRTUAL_MACHINE
from clonejob_operator.timestamps import PATTERN, parse_time
from tests.integration.kit import StateRecorder, World, running_operator, settings_for, wait_for


def test_happy_path_states_steps_and_timestamps(kube: Kube, operator_kube: Kube, world: World, namespace: str) -> None:
    world.migrating_vm("web-1", disks=2)
    with (
        running_operator(operator_kube, settings_for(namespace)) as operator,
        StateRecorder(kube, namespace, "web-1-test-3") as states,
    ):
        world.clone_job("web-1-test-3")
        status = world.wait_step("web-1-test-3", "preparingVmDisks")
        assert status["state"] == "ACTIVE"
        dv = world.wait_object(DATA_VOLUME, "web-1-test-3-disk-1")
        assert dv["spec"]["source"] == {"snapshot": {"namespace": namespace, "name": "web-1-c3-d1"}}
        assert dv["spec"]["storage"]["resources"]["requests"]["storage"] == str(2 * 2**30)
        assert dv["metadata"]["labels"][names.LABEL_JOB] == "web-1-test-3"
        assert "ownerReferences" not in dv["metadata"]
        world.set_status(DATA_VOLUME, "web-1-test-3-disk-0", {"phase": "ImportInProgress", "progress": "50.0%"})
        wait_for(
            lambda: (world.status("web-1-test-3")["steps"][0].get("progressPercent") or 0) >= 25,
            10,
            "disk progress to show",
        )
        world.finish_disks("web-1-test-3", disks=2)
        world.wait_step("web-1-test-3", "instantiatingMigratedVm")
        world.ready_vm("web-1-test-3")
        assert states.wait_for("SUCCEEDED") == ["PENDING", "ACTIVE", "SUCCEEDED"]
        metrics = operator.reconciler.metrics.registry
        wait_for(lambda: metrics.get_sample_value("clonejob_jobs", {"state": "SUCCEEDED"}) == 1, 5, "the gauge")
        # The gauge follows the watch; the counters, the reconcile once its whole commit is done (the finalizer's
        # release and the MigratingVm's record come after the status write whose event moves the gauge).
        for before, after in (("STATE_UNSPECIFIED", "PENDING"), ("PENDING", "ACTIVE"), ("ACTIVE", "SUCCEEDED")):
            labels = {"from_state": before, "to_state": after}
            count = functools.partial(metrics.get_sample_value, "clonejob_transitions_total", labels)
            wait_for(count, 5, f"the transition {before} -> {after} counted")
            assert metrics.get_sample_value("clonejob_transitions_total", labels) == 1
        for step in ("preparingVmDisks", "instantiatingMigratedVm"):
            labels = {"step": step, "outcome": "succeeded"}
            assert metrics.get_sample_value("clonejob_step_duration_seconds_count", labels) == 1
        status = world.status("web-1-test-3")

    assert status["name"] == f"namespaces/{namespace}/migratingVms/web-1/cloneJobs/web-1-test-3"
    assert [
        list(k for k in step if k in ("preparingVmDisks", "adaptingOs", "instantiatingMigratedVm"))
        for step in status["steps"]
    ] == [["preparingVmDisks"], ["instantiatingMigratedVm"]]
    stamps = [status["createTime"]]
    for step in status["steps"]:
        stamps += [step["startTime"], step["endTime"]]
        assert step["progressPercent"] == 100
    stamps += [status["endTime"]]
    assert all(re.match(PATTERN, stamp) for stamp in [*stamps, status["stateTime"]])
    moments = [parse_time(stamp) for stamp in stamps]
    assert moments == sorted(moments)
    assert status["stateTime"] == status["endTime"]
    assert status["progressPercent"] == 100
    assert status["kubevirtTargetDetails"]["vmName"] == "web-1-test-3"
    assert status["sourceSync"]["cycleNumber"] == 3
    assert {c["type"]: c["status"] for c in status["conditions"]} == {
        "Ready": "True",
        "Reconciling": "False",
        "Stalled": "False",
    }
    assert all(c["observedGeneration"] == 1 for c in status["conditions"])
    assert status["observedGeneration"] == 1
    assert sorted(r["kind"] for r in status["createdResources"]) == ["DataVolume", "DataVolume", "VirtualMachine"]
    vm = world.get(VIRTUAL_MACHINE, "web-1-test-3")
    assert vm is not None
    assert [v["dataVolume"]["name"] for v in vm["spec"]["template"]["spec"]["volumes"]] == [
        "web-1-test-3-disk-0",
        "web-1-test-3-disk-1",
    ]
    recent = (world.get(MIGRATING_VM, "web-1") or {})["status"]["recentCloneJobs"]
    assert [(entry["name"].rsplit("/", 1)[-1], entry["state"]) for entry in recent] == [("web-1-test-3", "SUCCEEDED")]
    assert world.get(CLONE_JOB, "web-1-test-3") is not None
