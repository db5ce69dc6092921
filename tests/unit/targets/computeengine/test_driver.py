from __future__ import annotations

from typing import Any, cast

import pytest
from pydantic import ValidationError

from clonejob_operator import names
from clonejob_operator.api.clonejob import CloneJobStatus, StepKind
from clonejob_operator.api.computeengine import (
    ComputeEngineDisksTargetDefaults,
    ComputeEngineTargetDefaults,
    ComputeEngineTargetDetails,
    legacy_details,
)
from clonejob_operator.api.migratingvm import LastSync, MigratingVmSpec
from clonejob_operator.api.targetproject import SecretKeyRef
from clonejob_operator.codes import Code, JobError
from clonejob_operator.kube import TARGET_PROJECT, Kind, KubeClient, Secret
from clonejob_operator.machine.reasons import WaitReason
from clonejob_operator.settings import Settings
from clonejob_operator.targets.base import Plan, Source
from clonejob_operator.targets.computeengine.client import Compute
from clonejob_operator.targets.computeengine.driver import ComputeEngineDriver
from clonejob_operator.targets.computeengine.plan import disks_details, vm_details
from clonejob_operator.targets.computeengine.targetproject import Pin, target_project_name
from clonejob_operator.targets.computeengine.targetproject import TargetProjects as TargetProjects_


def test_vm_details_copy_the_defaults_field_for_field() -> None:
    defaults = ComputeEngineTargetDefaults.model_validate(
        {
            "vmName": "web",
            "targetProject": "projects/p/locations/global/targetProjects/tp",
            "zone": "europe-west1-b",
            "machineType": "n2-standard-4",
            "networkInterfaces": [{"network": "default", "networkTier": "NETWORK_TIER_PREMIUM"}],
            "diskType": "COMPUTE_ENGINE_DISK_TYPE_SSD",
            "secureBoot": True,
            "labels": {"a": "b"},
        }
    )
    details = vm_details(defaults).wire()
    assert details == {
        "vmName": "web",
        "zone": "europe-west1-b",
        "machineType": "n2-standard-4",
        "networkInterfaces": [{"network": "default", "networkTier": "NETWORK_TIER_PREMIUM"}],
        "diskType": "COMPUTE_ENGINE_DISK_TYPE_SSD",
        "labels": {"a": "b"},
        "secureBoot": True,
    }


def test_disks_details() -> None:
    vm = ComputeEngineDisksTargetDefaults.model_validate(
        {"zone": "z", "vmTargetDefaults": {"vmName": "v", "machineType": "m"}, "disks": [{"sourceDiskNumber": 1}]}
    )
    assert disks_details(vm).wire() == {"vmTargetDetails": {}, "disks": [{"sourceDiskNumber": 1}]}
    only_disks = ComputeEngineDisksTargetDefaults.model_validate({"zone": "z"})
    assert disks_details(only_disks).wire() == {"disksTargetDetails": {}}


class TargetProjects:
    """Just enough of Kube: TargetProjects by namespace and name, and who asked for what."""

    def __init__(self, **by_namespace: dict[str, dict[str, Any]]) -> None:
        self.by_namespace = by_namespace
        self.asked: list[tuple[str, str]] = []

    def get(self, kind: Kind, namespace: str, name: str) -> dict[str, Any] | None:
        assert kind is TARGET_PROJECT
        self.asked.append((namespace, name))
        spec = self.by_namespace.get(namespace, {}).get(name)
        return {"metadata": {"name": name, "namespace": namespace}, "spec": spec} if spec else None

    refresh = get

    def read_secret(self, namespace: str, name: str) -> Secret:
        """Every Secret a TargetProject names exists, opted in, with the key it names."""
        return Secret(labels=dict([names.SECRET_OPT_IN]), data={"key.json": "e30="})


CLIENTS = cast(Compute, object())
"""Stands for the Compute Engine clients a TargetProject's credentials make."""
KEYED = {"project": "my-proj-123", "credentialsSecretRef": {"name": "sa", "key": "key.json"}}
PATH = "projects/p/locations/global/targetProjects/tp"


def plan(defaults: dict[str, Any], kube: Any, ambient: bool = False) -> Plan:
    spec = MigratingVmSpec.model_validate({"sourceVmId": "v", "computeEngineTargetDefaults": defaults})
    driver = ComputeEngineDriver(cast(KubeClient, kube), Settings(allow_ambient_credentials=ambient))
    return driver.plan("cj", Source("web-1", "uid", spec, LastSync(cycle_number=2), namespace="team-a"))


@pytest.mark.parametrize(
    ("reference", "name"),
    [(PATH, "tp"), ("tp", "tp"), ("projects/p/locations/l/targetProjects/Bad_Name", None), ("a/b", None), ("", None)],
)
def test_target_project_reference_forms(reference: str, name: str | None) -> None:
    assert target_project_name(reference) == name


def test_plan_resolves_the_target_project_records_details_and_mirrors_then_refuses() -> None:
    kube = TargetProjects(**{"team-a": {"tp": KEYED}})
    result = plan({"zone": "z", "vmName": "web", "machineType": "n2-standard-2", "targetProject": PATH}, kube)
    assert kube.asked == [("team-a", "tp")]  # the MigratingVm's namespace, and no other
    assert result.refusal is None
    assert result.steps == (StepKind.PREPARING_VM_DISKS, StepKind.INSTANTIATING_MIGRATED_VM)
    assert result.source_sync.target_project == "tp"
    status = recorded(result)
    assert set(status.wire()) == {"computeEngineTargetDetails", "targetDetails", "computeEngineVmDetails"}
    assert status.compute_engine_target_details is not None
    assert status.compute_engine_target_details.project == "my-proj-123"
    assert status.target_details is not None and status.target_details.wire() == {
        "name": "web",
        "zone": "z",
        "machineType": "n2-standard-2",
        "project": "my-proj-123",
        "targetProject": PATH,
    }
    assert result.source_sync.cycle_number == 2


def test_a_missing_target_project_waits_and_another_namespace_is_never_used() -> None:
    kube = TargetProjects(**{"team-b": {"tp": KEYED}})
    result = plan({"zone": "z", "targetProject": "tp"}, kube)
    assert result.waiting is not None and result.waiting.reason == "TargetProjectNotFound"
    assert "namespace team-a" in result.waiting.message and result.waiting_code is Code.NOT_FOUND
    assert recorded(result) == CloneJobStatus() and kube.asked == [
        ("team-a", "tp"),
        ("team-a", "tp"),
    ]  # cache, then the API


def test_ambient_credentials_are_refused_unless_the_operator_allows_them() -> None:
    kube = TargetProjects(**{"team-a": {"tp": {"project": "my-proj-123"}}})
    refused = plan({"targetProject": "tp", "zone": "z", "machineType": "m"}, kube)
    assert refused.refusal is not None and refused.refusal.code is Code.PERMISSION_DENIED
    assert (
        "--allow-ambient-credentials" in refused.refusal.message and "credentialsSecretRef" in refused.refusal.message
    )
    allowed = plan({"targetProject": "tp", "zone": "z", "machineType": "m"}, kube, ambient=True)
    assert allowed.refusal is None


@pytest.mark.parametrize(
    ("defaults", "snapshots", "code", "words"),
    [
        ({"machineType": "m"}, [], Code.INVALID_ARGUMENT, "spec.computeEngineTargetDefaults.zone is required"),
        ({"zone": "z"}, [], Code.INVALID_ARGUMENT, "spec.computeEngineTargetDefaults.machineType is required"),
        (
            {"zone": "z", "machineType": "m"},
            [{"disk": "d0", "volumeSnapshot": "s"}],
            Code.INVALID_ARGUMENT,
            "status.lastSync.snapshots[0].computeEngineSnapshot is required",
        ),
        ({"zone": "z", "machineType": "m", "bootConversion": "BIOS_TO_EFI"}, [], Code.UNIMPLEMENTED, "bootConversion"),
        (
            {"zone": "z", "machineType": "m", "adaptationModifiers": [{"modifier": "x", "value": "y"}]},
            [],
            Code.UNIMPLEMENTED,
            "adaptationModifiers",
        ),
    ],
)
def test_what_cannot_be_cloned_is_refused_naming_the_field(
    defaults: dict[str, Any], snapshots: list[dict[str, Any]], code: Code, words: str
) -> None:
    spec = MigratingVmSpec.model_validate(
        {"sourceVmId": "v", "computeEngineTargetDefaults": {**defaults, "targetProject": "tp"}}
    )
    driver = ComputeEngineDriver(cast(KubeClient, TargetProjects(**{"team-a": {"tp": KEYED}})), Settings())
    sync = LastSync.model_validate({"cycleNumber": 1, "snapshots": snapshots})
    result = driver.plan("cj", Source("web-1", "uid", spec, sync, namespace="team-a"))
    assert result.refusal is not None and result.refusal.code is code and words in result.refusal.message


def test_a_disks_target_without_a_vm_has_one_step() -> None:
    spec = MigratingVmSpec.model_validate(
        {
            "sourceVmId": "v",
            "computeEngineDisksTargetDefaults": {"zone": "z", "targetProject": "tp", "disksTargetDefaults": {}},
        }
    )
    driver = ComputeEngineDriver(cast(KubeClient, TargetProjects(**{"team-a": {"tp": KEYED}})), Settings())
    result = driver.plan("cj", Source("web-1", "uid", spec, LastSync(cycle_number=1), namespace="team-a"))
    assert result.refusal is None and result.steps == (StepKind.PREPARING_VM_DISKS,)
    assert result.source_sync.disks_target_defaults is not None


@pytest.mark.parametrize(
    ("defaults", "field"),
    [({"zone": "z"}, "is required"), ({"targetProject": "projects/x"}, "is neither")],
)
def test_an_unusable_reference_names_the_field(defaults: dict[str, Any], field: str) -> None:
    with pytest.raises(JobError) as raised:
        plan(defaults, TargetProjects())
    assert raised.value.code is Code.INVALID_ARGUMENT
    assert "spec.computeEngineTargetDefaults.targetProject" in raised.value.message and field in raised.value.message


def test_output_only_fields_are_not_accepted_in_the_defaults() -> None:
    for field in ("appliedLicense", "bootOption"):
        with pytest.raises(ValidationError):
            ComputeEngineTargetDefaults.model_validate({field: {} if field == "appliedLicense" else "X"})


def test_legacy_details_rename_enums_and_lift_the_first_nic() -> None:
    details = ComputeEngineTargetDetails.model_validate(
        {
            "vmName": "web",
            "diskType": "COMPUTE_ENGINE_DISK_TYPE_HYPERDISK_BALANCED",
            "licenseType": "COMPUTE_ENGINE_LICENSE_TYPE_BYOL",
            "bootOption": "COMPUTE_ENGINE_BOOT_OPTION_EFI",
            "networkInterfaces": [{"network": "n", "subnetwork": "s", "internalIp": "10.0.0.2"}, {"network": "m"}],
            "enableVtpm": True,
        }
    )
    legacy = legacy_details(details, "tp").wire()
    assert legacy["diskType"] == "DISK_TYPE_UNSPECIFIED"  # no hyperdisk in the older message
    assert (legacy["licenseType"], legacy["bootOption"]) == ("BYOL", "EFI")
    assert (legacy["network"], legacy["subnetwork"], legacy["internalIp"]) == ("n", "s", "10.0.0.2")
    assert "enableVtpm" not in legacy and legacy["targetProject"] == "tp" and legacy["name"] == "web"


class Secrets(TargetProjects):
    """TargetProjects plus one Secret (or a refusal to read it)."""

    def __init__(self, data: dict[str, str] | None, refuse: int = 0, labels: dict[str, str] | None = None) -> None:
        super().__init__(**{"team-a": {"tp": KEYED}})
        self.data, self.refuse = data, refuse
        self.labels = dict([names.SECRET_OPT_IN]) if labels is None else labels
        self.read: list[tuple[str, str]] = []

    def read_secret(self, namespace: str, name: str) -> Secret:
        self.read.append((namespace, name))
        if self.refuse or self.data is None:
            from kubernetes.client.exceptions import ApiException

            raise ApiException(status=self.refuse or 404, reason="Forbidden" if self.refuse else "NotFound")
        return Secret(labels=self.labels, data=dict(self.data))


PIN = Pin("tp", "uid-tp", "my-proj-123", SecretKeyRef(name="sa", key="key.json"))
UNUSABLE = "names Secret sa, which this operator may not use: it uses only a Secret of namespace team-a labelled"


@pytest.mark.parametrize(
    ("data", "refuse", "labels", "code", "words"),
    [
        ({"other": "e30="}, 0, None, Code.INVALID_ARGUMENT, "has no key 'key.json'"),
        ({"key.json": "bm90IGpzb24="}, 0, None, Code.INVALID_ARGUMENT, "does not hold a service-account key"),
        (None, 403, None, Code.PERMISSION_DENIED, "may not read Secrets in namespace team-a"),
        (None, 0, None, Code.PERMISSION_DENIED, UNUSABLE),
        ({"key.json": "bm90IGpzb24="}, 0, {}, Code.PERMISSION_DENIED, UNUSABLE),
        ({"key.json": "bm90IGpzb24="}, 0, {names.SECRET_OPT_IN[0]: "yes"}, Code.PERMISSION_DENIED, UNUSABLE),
    ],
    ids=["no such key", "not a key", "forbidden", "missing", "not labelled", "labelled otherwise"],
)
def test_the_target_projects_key_is_read_from_its_secret_and_never_shown(
    data: dict[str, str] | None, refuse: int, labels: dict[str, str] | None, code: Code, words: str
) -> None:
    kube = Secrets(data, refuse, labels)
    driver = ComputeEngineDriver(cast(KubeClient, kube), Settings(), connect=lambda credentials, endpoint: CLIENTS)
    with pytest.raises(JobError) as raised:
        driver.projects.compute("team-a", PIN)
    assert raised.value.code is code and words in raised.value.message
    assert kube.read == [("team-a", "sa")]  # the TargetProject's own namespace
    assert "bm90IGpzb24" not in raised.value.message and "not json" not in raised.value.message


def test_a_secret_that_did_not_opt_in_is_told_apart_from_a_missing_one_by_nothing() -> None:
    """Whether a Secret exists, and what its keys are called, is not said to whoever wrote the TargetProject."""
    missing, unlabelled = Secrets(None), Secrets({"key.json": "e30=", "other": "e30="}, labels={})
    said = []
    for kube in (missing, unlabelled):
        driver = ComputeEngineDriver(cast(KubeClient, kube), Settings(), connect=lambda credentials, endpoint: CLIENTS)
        with pytest.raises(JobError) as raised:
            driver.projects.compute("team-a", PIN)
        said.append((raised.value.code, raised.value.message))
    assert said[0] == said[1] and "other" not in said[1][1]


def test_no_client_is_ever_made_with_the_operators_own_identity_without_the_flag(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every construction checks the flag: a pin without a Secret (a TargetProject changed mid-job, a forged
    status) never reaches Application Default Credentials."""
    import google.auth

    asked: list[object] = []

    def default(**kwargs: Any) -> tuple[object, str]:
        asked.append(kwargs)
        return object(), "p"

    monkeypatch.setattr(google.auth, "default", default)
    ambient = Pin("tp", "uid-tp", "my-proj-123", None)
    driver = ComputeEngineDriver(cast(KubeClient, Secrets(None)), Settings(), connect=lambda c, e: CLIENTS)
    with pytest.raises(JobError) as raised:
        driver.projects.compute("team-a", ambient)
    assert raised.value.code is Code.PERMISSION_DENIED and "--allow-ambient-credentials" in raised.value.message
    assert asked == []
    allowed = ComputeEngineDriver(
        cast(KubeClient, Secrets(None)), Settings(allow_ambient_credentials=True), connect=lambda c, e: CLIENTS
    )
    assert allowed.projects.compute("team-a", ambient) is CLIENTS and len(asked) == 1


@pytest.mark.parametrize(
    ("now", "words"),
    [
        (None, "was deleted"),
        ({"uid": "other", **KEYED}, "was deleted and made again"),
        ({"uid": "uid-tp", **KEYED, "project": "other-proj-1"}, "now names project other-proj-1"),
        ({"uid": "uid-tp", "project": "my-proj-123"}, "now names other credentials"),
    ],
    ids=["deleted", "remade", "project", "credentials"],
)
def test_a_target_project_changed_under_a_running_job_fails_it(now: dict[str, Any] | None, words: str) -> None:
    class Live(TargetProjects):
        def get(self, kind: Kind, namespace: str, name: str) -> dict[str, Any] | None:
            if now is None:
                return None
            spec = {k: v for k, v in now.items() if k != "uid"}
            return {"metadata": {"name": name, "namespace": namespace, "uid": now["uid"]}, "spec": spec}

        refresh = get

    projects = TargetProjects_(cast(KubeClient, Live()), Settings())
    with pytest.raises(JobError) as raised:
        projects.check("team-a", PIN)
    assert raised.value.code is Code.FAILED_PRECONDITION and words in raised.value.message


def test_an_endpoint_means_anonymous_credentials_and_no_secret_read() -> None:
    kube = Secrets({"key.json": "e30="})
    made: list[Any] = []

    def connect(credentials: Any, endpoint: str | None) -> Compute:
        made.append((credentials, endpoint))
        return CLIENTS

    driver = ComputeEngineDriver(cast(KubeClient, kube), Settings(compute_endpoint="http://127.0.0.1:9"), connect)
    assert driver.projects.compute("team-a", PIN) is CLIENTS and kube.read == []
    assert type(made[0][0]).__name__ == "AnonymousCredentials" and made[0][1] == "http://127.0.0.1:9"


def test_a_secret_made_late_is_waited_for_like_a_target_project_naming_it() -> None:
    """Missing, not labelled, or without its key: the job waits (and says which Secret), within the deadline."""

    class Late(TargetProjects):
        def read_secret(self, namespace: str, name: str) -> Secret:
            from kubernetes.client.exceptions import ApiException

            raise ApiException(status=404, reason="NotFound")

    waiting = plan({"zone": "z", "machineType": "m", "targetProject": "tp"}, Late(**{"team-a": {"tp": KEYED}}))
    assert waiting.waiting is not None and waiting.waiting.wait is WaitReason.CREDENTIALS_SECRET_UNUSABLE
    assert "names Secret sa, which this operator may not use" in waiting.waiting.message
    assert waiting.waiting_code is Code.PERMISSION_DENIED and recorded(waiting) == CloneJobStatus()
    assert WaitReason.CREDENTIALS_SECRET_UNUSABLE.blocked, "it counts towards the pending deadline"


def test_only_the_tenants_secret_is_waited_for_never_the_operators_own_missing_role() -> None:
    """A Secret missing, not labelled or without its key is the tenant's to fix, so a job waits for it; the operator's
    role lacking get on Secrets is the installation's, and no wait would end it."""
    for data, labels in ((None, None), ({"key.json": "e30="}, {}), ({"other": "e30="}, None)):
        projects = ComputeEngineDriver(cast(KubeClient, Secrets(data, 0, labels)), Settings()).projects
        assert projects.waiting_for("team-a", PIN) is not None
    forbidden = ComputeEngineDriver(cast(KubeClient, Secrets(None, 403)), Settings()).projects
    with pytest.raises(JobError) as raised:
        forbidden.waiting_for("team-a", PIN)
    assert raised.value.code is Code.PERMISSION_DENIED and "its role lacks get on secrets" in raised.value.message


def recorded(result: Plan) -> CloneJobStatus:
    """What a plan records in a status of its own."""
    status = CloneJobStatus()
    result.record.apply(status)
    return status
