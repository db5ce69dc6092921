"""The Compute Engine request builders: every mapped field reaches the REST body under its REST name."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from google.cloud import compute_v1

from clonejob_operator.api.computeengine import ComputeEngineTargetDetails, Encryption
from clonejob_operator.codes import Code
from clonejob_operator.targets.computeengine import requests

PLAN = requests.DiskPlan(index=0, name="web-disk-0", snapshot="projects/p/global/snapshots/s")
LINKS = [(PLAN, "projects/p/zones/z/disks/web-disk-0")]


def _rest(message: Any) -> dict[str, Any]:
    """The body as the REST API receives it (google-cloud-compute's own serialisation)."""
    return dict(json.loads(type(message).to_json(message)))


def _at(body: Any, path: str) -> Any:
    for part in path.split("."):
        body = body[int(part)] if part.isdigit() else body[part]
    return body


# (a field of ComputeEngineTargetDetails, its value, where it lands in the instances.insert body, what it is there)
INSTANCE_FIELDS = [
    ("machineType", "n2-standard-4", "machineType", "zones/z/machineTypes/n2-standard-4"),
    ("labels", {"team": "web"}, "labels.team", "web"),
    ("networkTags", ["http"], "tags.items.0", "http"),
    ("networkInterfaces", [{"network": "n1"}], "networkInterfaces.0.network", "n1"),
    ("networkInterfaces", [{"subnetwork": "s1"}], "networkInterfaces.0.subnetwork", "s1"),
    ("networkInterfaces", [{"internalIp": "10.0.0.3"}], "networkInterfaces.0.networkIP", "10.0.0.3"),
    ("networkInterfaces", [{"externalIp": "34.1.2.3"}], "networkInterfaces.0.accessConfigs.0.natIP", "34.1.2.3"),
    (
        "networkInterfaces",
        [{"networkTier": "NETWORK_TIER_STANDARD"}],
        "networkInterfaces.0.accessConfigs.0.networkTier",
        "STANDARD",
    ),
    ("serviceAccount", "sa@p.iam.gserviceaccount.com", "serviceAccounts.0.email", "sa@p.iam.gserviceaccount.com"),
    ("computeScheduling", {"onHostMaintenance": "TERMINATE"}, "scheduling.onHostMaintenance", "TERMINATE"),
    ("computeScheduling", {"restartType": "NO_AUTOMATIC_RESTART"}, "scheduling.automaticRestart", False),
    ("computeScheduling", {"minNodeCpus": 2}, "scheduling.minNodeCpus", 2),
    (
        "computeScheduling",
        {"nodeAffinities": [{"key": "k", "operator": "IN", "values": ["v"]}]},
        "scheduling.nodeAffinities.0.values.0",
        "v",
    ),
    ("secureBoot", True, "shieldedInstanceConfig.enableSecureBoot", True),
    ("enableVtpm", True, "shieldedInstanceConfig.enableVtpm", True),
    ("enableIntegrityMonitoring", False, "shieldedInstanceConfig.enableIntegrityMonitoring", False),
    ("metadata", {"startup-script": "x"}, "metadata.items.0.key", "startup-script"),
    ("hostname", "web.example.internal", "hostname", "web.example.internal"),
]


@pytest.mark.parametrize(("field", "value", "path", "expected"), INSTANCE_FIELDS, ids=[f[2] for f in INSTANCE_FIELDS])
def test_every_vm_field_reaches_the_instance_body(field: str, value: Any, path: str, expected: Any) -> None:
    details = ComputeEngineTargetDetails.model_validate({"machineType": "m", field: value})
    body = _rest(requests.instance(details, "web", "z", LINKS, {"clone-job-uid": "u"}))
    assert _at(body, path) == expected


# Fields that go to the disks rather than the instance.
DISK_FIELDS = [
    ("diskType", "COMPUTE_ENGINE_DISK_TYPE_SSD", "type", "zones/z/diskTypes/pd-ssd"),
    (
        "encryption",
        {"kmsKey": "projects/p/locations/l/keyRings/r/cryptoKeys/k"},
        "diskEncryptionKey.kmsKeyName",
        "projects/p/locations/l/keyRings/r/cryptoKeys/k",
    ),
    ("diskReplicaZones", ["z-a", "z-b"], "replicaZones.1", "z-b"),
    ("storagePool", "projects/p/zones/z/storagePools/pool", "storagePool", "projects/p/zones/z/storagePools/pool"),
    ("additionalLicenses", ["projects/p/global/licenses/l"], "licenses.0", "projects/p/global/licenses/l"),
]


@pytest.mark.parametrize(("field", "value", "path", "expected"), DISK_FIELDS, ids=[f[2] for f in DISK_FIELDS])
def test_every_disk_field_reaches_the_disk_body(field: str, value: Any, path: str, expected: Any) -> None:
    details = ComputeEngineTargetDetails.model_validate({field: value})
    plan = requests.DiskPlan(0, "d", "projects/p/global/snapshots/s", details.disk_type, None, details.encryption)
    message = requests.disk(
        plan,
        "z",
        {"clone-job-uid": "u"},
        details.disk_replica_zones,
        details.storage_pool,
        licenses=details.additional_licenses,
    )
    body = _rest(message)
    assert _at(body, path) == expected
    assert body["sourceSnapshot"] == "projects/p/global/snapshots/s" and body["labels"]["clone-job-uid"] == "u"


def test_the_boot_disk_comes_first_and_nothing_is_deleted_with_the_instance() -> None:
    second = requests.DiskPlan(1, "web-disk-1", "s1")
    body = _rest(
        requests.instance(ComputeEngineTargetDetails(machine_type="m"), "web", "z", [(second, "l1"), (PLAN, "l0")], {})
    )
    assert [(d["source"], d.get("boot", False), d.get("autoDelete", False)) for d in body["disks"]] == [
        ("l0", True, False),
        ("l1", False, False),
    ]


def test_a_vm_without_a_machine_type_is_refused() -> None:
    with pytest.raises(Exception) as raised:
        requests.instance(ComputeEngineTargetDetails(machine_type_series="n2"), "web", "z", LINKS, {})
    assert getattr(raised.value, "code", None) is Code.INVALID_ARGUMENT


@pytest.mark.parametrize("base", ["web", "Web_Server.Prod", "9lives", "x" * 80, "---"])
def test_names_are_valid_compute_engine_names_and_stable(base: str) -> None:
    name = requests.gce_name(base, "-disk-1")
    assert re.fullmatch(r"[a-z]([-a-z0-9]*[a-z0-9])?", name) and len(name) <= 63
    assert requests.gce_name(base, "-disk-1") == name
    if base == "web":
        assert name == "web-disk-1"


def test_labels_follow_compute_engine_rules() -> None:
    labels = requests.product_labels("Web.Clone", "0f9c-ABC", "m" * 70)
    assert set(labels) == {"clone-job", "clone-job-uid", "migrating-vm", "managed-by"}
    assert all(re.fullmatch(r"[a-z0-9_-]{0,63}", value) for value in labels.values())
    assert requests.uid_filter("0f9c-ABC") == 'labels.clone-job-uid = "0f9c-abc"'


def test_request_ids_are_uuids_fixed_by_job_and_product() -> None:
    first = requests.request_id("uid-1", "disk", "d0")
    assert first == requests.request_id("uid-1", "disk", "d0") and re.fullmatch(r"[0-9a-f-]{36}", first)
    assert len({first, requests.request_id("uid-2", "disk", "d0"), requests.request_id("uid-1", "disk", "d1")}) == 3


@pytest.mark.parametrize(
    ("errors", "status", "code"),
    [
        ([("QUOTA_EXCEEDED", "Quota exceeded")], 403, Code.RESOURCE_EXHAUSTED),
        ([("ZONE_RESOURCE_POOL_EXHAUSTED", "none left")], 503, Code.RESOURCE_EXHAUSTED),
        ([("RESOURCE_NOT_FOUND", "gone")], 404, Code.NOT_FOUND),
        ([("SOMETHING", "bad")], 400, Code.INVALID_ARGUMENT),
        ([("SOMETHING", "no")], 403, Code.PERMISSION_DENIED),
        ([], 0, None),
    ],
)
def test_a_failed_operation_keeps_its_message_and_maps_its_code(
    errors: list[tuple[str, str]], status: int, code: Code | None
) -> None:
    op = compute_v1.Operation(name="op", http_error_status_code=status)
    if errors:
        op.error = compute_v1.Error(errors=[compute_v1.Errors(code=c, message=m) for c, m in errors])
    error = requests.operation_error(op, "inserting disk d")
    if code is None:
        assert error is None
    else:
        assert error is not None and error.code is code and errors[0][1] in error.message


def test_encryption_is_a_kms_key_name() -> None:
    plan = requests.DiskPlan(0, "d", "s", encryption=Encryption(kms_key="k"))
    assert _rest(requests.disk(plan, "z", {}, None, None))["diskEncryptionKey"] == {"kmsKeyName": "k"}
