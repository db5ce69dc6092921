from __future__ import annotations

from collections.abc import Mapping

import pytest

from clonejob_operator.api.clonejob import CloneJobStatus, StepKind
from clonejob_operator.api.kubevirt import KubevirtTargetDetails
from clonejob_operator.api.migratingvm import LastSync, MigratingVmSpec
from clonejob_operator.codes import Code, JobError
from clonejob_operator.kube import ADAPTATION_PROFILE
from clonejob_operator.targets.base import Plan, Source
from clonejob_operator.targets.kubevirt.driver import KubevirtDriver, _percent
from tests.fakekube import FakeKube


def source(defaults: Mapping[str, object], snapshots: list[dict[str, object]]) -> Source:
    spec = MigratingVmSpec.model_validate({"sourceVmId": "v", "kubevirtTargetDefaults": defaults})
    return Source("web-1", "mvm-uid", spec, LastSync.model_validate({"cycleNumber": 4, "snapshots": snapshots}))


def test_plan_resolves_every_default() -> None:
    plan = KubevirtDriver(kube=None).plan("web-1-test", source({}, [{"disk": "d", "volumeSnapshot": "s"}]))  # type: ignore[arg-type]
    details = recorded(plan)
    assert details.wire() == {
        "vmName": "web-1-test",
        "diskBus": "virtio",
        "firmware": {"bootloader": "BIOS"},
        "memory": "2Gi",
        "cpu": {"cores": 1},
        "networks": [{"name": "default", "pod": {}, "binding": "masquerade"}],
        "runStrategy": "Always",
    }
    assert plan.steps == (StepKind.PREPARING_VM_DISKS, StepKind.INSTANTIATING_MIGRATED_VM)
    assert plan.source_sync.cycle_number == 4 and plan.source_sync.migrating_vm_uid == "mvm-uid"


def profiles(*names: str) -> FakeKube:
    kube = FakeKube()
    for name in names:
        kube.put(ADAPTATION_PROFILE, "", name, spec={"image": "adapt:1"})
    return kube


def test_plan_keeps_instancetype_without_memory_and_adds_adaptation() -> None:
    defaults = {"vmName": "clone", "instancetype": {"name": "u1.large"}, "osAdaptation": {"profile": "virt-v2v"}}
    plan = KubevirtDriver(kube=profiles("virt-v2v")).plan("cj", source(defaults, []))
    details = recorded(plan)
    assert details.vm_name == "clone" and details.memory is None
    assert details.os_adaptation is not None and details.os_adaptation.profile == "virt-v2v"
    assert plan.steps == (StepKind.PREPARING_VM_DISKS, StepKind.ADAPTING_OS, StepKind.INSTANTIATING_MIGRATED_VM)


def test_plan_refuses_an_adaptation_profile_that_does_not_exist_naming_the_field() -> None:
    defaults = {"osAdaptation": {"profile": "nope"}}
    with pytest.raises(JobError) as caught:
        KubevirtDriver(kube=profiles("virt-v2v")).plan("cj", source(defaults, []))
    assert caught.value.code is Code.FAILED_PRECONDITION
    assert "AdaptationProfile nope (MigratingVm web-1: spec.kubevirtTargetDefaults.osAdaptation.profile)" in str(
        caught.value.message
    )


def test_plan_refuses_a_disk_without_a_volumesnapshot_naming_the_field() -> None:
    snapshots = [{"disk": "a", "volumeSnapshot": "s"}, {"disk": "b", "computeEngineSnapshot": "projects/p/snap"}]
    with pytest.raises(JobError) as caught:
        KubevirtDriver(kube=None).plan("cj", source({}, snapshots))  # type: ignore[arg-type]
    assert caught.value.code is Code.INVALID_ARGUMENT
    assert "status.lastSync.snapshots[1].volumeSnapshot" in caught.value.message


@pytest.mark.parametrize(
    ("text", "value"), [("45.5%", 45.5), ("100.0%", 99.0), ("N/A", 0.0), (None, 0.0), ("7 %", 7.0)]
)
def test_datavolume_progress_parsing(text: str | None, value: float) -> None:
    assert _percent(text) == value


@pytest.mark.parametrize(("name", "refused"), [("lan", False), ("team-a/lan", False), ("team-b/secure-net", True)])
def test_a_multus_network_of_another_namespace_is_refused_naming_the_field(name: str, refused: bool) -> None:
    networks = [{"name": "p", "pod": {}}, {"name": "n", "multus": {"networkName": name}}]
    spec = MigratingVmSpec.model_validate({"sourceVmId": "v", "kubevirtTargetDefaults": {"networks": networks}})
    snapshots = LastSync.model_validate({"snapshots": [{"disk": "d", "volumeSnapshot": "s"}]})
    source = Source("web-1", "mvm-uid", spec, snapshots, namespace="team-a")
    if not refused:
        assert KubevirtDriver(kube=FakeKube()).plan("cj", source).steps
        return
    with pytest.raises(JobError) as caught:
        KubevirtDriver(kube=FakeKube()).plan("cj", source)
    assert caught.value.code is Code.INVALID_ARGUMENT
    assert "spec.kubevirtTargetDefaults.networks[1].multus.networkName 'team-b/secure-net'" in caught.value.message


def test_the_adaptation_job_is_released_when_its_step_ends_and_the_clone_waits_for_it_to_go() -> None:
    from clonejob_operator import names
    from clonejob_operator.api.clonejob import CloneJobStatus
    from clonejob_operator.targets.base import JobContext
    from clonejob_operator.targets.kubevirt.kinds import BATCH_JOB, DATA_VOLUME, VIRTUAL_MACHINE

    kube = profiles("virt-v2v")
    status = CloneJobStatus.model_validate(
        {
            "createdRevision": 7,
            "kubevirtTargetDetails": {"vmName": "cj", "osAdaptation": {"profile": "virt-v2v"}},
            "sourceSync": {"snapshots": [{"disk": "d", "volumeSnapshot": "s"}]},
        }
    )
    job = JobContext("ns", "cj", "u", "web-1", status)

    def meta(name: str) -> dict[str, object]:
        return {"name": name, "namespace": "ns", "labels": job.labels}

    kube.put(DATA_VOLUME, "ns", "cj-disk-0", metadata=meta("cj-disk-0"), status={"phase": "Succeeded"})
    complete = {"conditions": [{"type": "Complete", "status": "True"}]}
    kube.put(BATCH_JOB, "ns", "cj-adapt-os", metadata=meta("cj-adapt-os"), status=complete)
    driver = KubevirtDriver(kube=kube)
    adapted = driver.look(StepKind.ADAPTING_OS, job)
    assert adapted.done and [d.ref.name for d in adapted.releases] == ["cj-adapt-os"]
    kube.put(VIRTUAL_MACHINE, "ns", "cj", metadata=meta("cj"), status={"ready": True})
    waiting = driver.look(StepKind.INSTANTIATING_MIGRATED_VM, job)  # the VM is ready; the core holds its end back
    assert waiting.done and waiting.lingering == "Job cj-adapt-os being removed"
    assert [d.ref.name for d in waiting.releases] == ["cj-adapt-os"]
    kube.delete(BATCH_JOB, "ns", "cj-adapt-os")
    gone = driver.look(StepKind.INSTANTIATING_MIGRATED_VM, job)
    assert gone.done and gone.lingering == "" and gone.releases == ()
    assert names.LABEL_JOB_RUN in job.labels


def test_a_recorded_disk_a_filling_cache_misses_is_read_from_the_api_server_and_progress_never_goes_back() -> None:
    from clonejob_operator.api.clonejob import CloneJobStatus
    from clonejob_operator.cache import Cache, CachedKube
    from clonejob_operator.targets.base import JobContext
    from clonejob_operator.targets.kubevirt.kinds import DATA_VOLUME

    status = CloneJobStatus.model_validate(
        {
            "createdRevision": 7,
            "kubevirtTargetDetails": {"vmName": "cj"},
            "sourceSync": {"snapshots": [{"disk": "d", "volumeSnapshot": "s"}]},
            "createdResources": [{"apiVersion": "cdi.kubevirt.io/v1beta1", "kind": "DataVolume", "name": "cj-disk-0"}],
        }
    )
    job = JobContext("ns", "cj", "u", "web-1", status)
    api = FakeKube()
    meta = {"name": "cj-disk-0", "namespace": "ns", "labels": job.labels}
    api.put(DATA_VOLUME, "ns", "cj-disk-0", metadata=meta, status={"phase": "ImportInProgress", "progress": "50.0%"})
    after_a_restart = CachedKube(api, Cache((DATA_VOLUME,)))  # watched, and not listed yet
    report = KubevirtDriver(kube=after_a_restart).look(StepKind.PREPARING_VM_DISKS, job)
    assert report.progress == 50 and report.creates == () and [p.name for p in report.products] == ["cj-disk-0"]


def recorded(plan: Plan) -> KubevirtTargetDetails:
    """The details a plan records when its job starts."""
    status = CloneJobStatus()
    plan.record.apply(status)
    assert status.kubevirt_target_details is not None
    return status.kubevirt_target_details
