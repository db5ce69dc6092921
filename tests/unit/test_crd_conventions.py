"""API conventions over the generated CRDs: every string, list and map is bounded, enums are enums, lists a
user writes say how they merge, and the limits agree with what the operator writes."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from clonejob_operator import crdgen, names
from clonejob_operator.api.bounds import MAX_DISKS, MAX_PRODUCTS
from clonejob_operator.api.clonejob import ResourceRef
from clonejob_operator.api.common import MAX_MESSAGE, Condition, RpcStatus

Node = dict[str, Any]


def schemas() -> dict[str, Node]:
    out = {}
    for crd in crdgen.all_crds().values():
        (version,) = crd["spec"]["versions"]
        out[crd["spec"]["names"]["plural"]] = version["schema"]["openAPIV3Schema"]
    return out


def walk(node: Node, path: str = "") -> Iterator[tuple[str, Node]]:
    yield path, node
    for key, child in (node.get("properties") or {}).items():
        yield from walk(child, f"{path}.{key}")
    if isinstance(node.get("items"), dict):
        yield from walk(node["items"], f"{path}[]")
    if isinstance(node.get("additionalProperties"), dict):
        yield from walk(node["additionalProperties"], f"{path}{{}}")


def every(kind: str | None = None) -> Iterator[tuple[str, str, Node]]:
    for plural, schema in schemas().items():
        if kind in (None, plural):
            for path, node in walk(schema):
                yield plural, path, node


def at(plural: str, path: str) -> Node:
    found = dict(walk(schemas()[plural]))
    return found[path]


SERVER_OWNED = {".apiVersion", ".kind"}
"""The API server itself checks these."""


def test_every_string_is_bounded() -> None:
    unbounded = [
        f"{plural}{path}"
        for plural, path, node in every()
        if node.get("type") == "string"
        and path not in SERVER_OWNED
        and "maxLength" not in node
        and "enum" not in node
        and node.get("format") != "date-time"
    ]
    assert unbounded == []


def test_every_list_and_map_is_bounded() -> None:
    lists = [f"{p}{path}" for p, path, node in every() if node.get("type") == "array" and "maxItems" not in node]
    maps = [
        f"{p}{path}"
        for p, path, node in every()
        if isinstance(node.get("additionalProperties"), dict) and "maxProperties" not in node
    ]
    assert lists == [] and maps == []


ENUM_NAMES = re.compile(r"(^state$|State$|Type$|Tier$|Option$|Conversion$|^operator$|^onHostMaintenance$|^status$)")
FREE_FORM = {"machineType", "type"}
"""Names that match but are free-form by the API: a machine type is a Compute Engine name, and a
condition's type (like the ``type`` of an applied license, which is an enum and checked below) is open."""


def test_every_enum_of_the_api_is_an_enum() -> None:
    missing = []
    for plural, path, node in every():
        leaf = path.rsplit(".", 1)[-1].removesuffix("[]")
        if node.get("type") == "string" and ENUM_NAMES.search(leaf) and leaf not in FREE_FORM and "enum" not in node:
            missing.append(f"{plural}{path}")
    assert missing == []
    assert "enum" in at("clonejobs", ".status.computeEngineTargetDetails.appliedLicense.type")
    assert set(at("clonejobs", ".status.state")["enum"]) >= {"PENDING", "ACTIVE", "SUCCEEDED", "CANCELLED"}
    assert set(at("clonejobs", ".status.currentStep")["enum"]) == {
        "preparingVmDisks",
        "adaptingOs",
        "instantiatingMigratedVm",
    }


def test_every_list_a_user_writes_says_how_it_merges() -> None:
    unsaid = [
        f"{plural}{path}"
        for plural, path, node in every()
        if path.startswith(".spec") and node.get("type") == "array" and "x-kubernetes-list-type" not in node
    ]
    assert unsaid == []
    sets = [(p, path) for p, path, node in every() if node.get("x-kubernetes-list-type") == "set"]
    assert all(at(p, f"{path}[]").get("type") == "string" for p, path in sets), "a set holds scalars only"


def test_conditions_are_a_map_keyed_by_type() -> None:
    conditions = at("clonejobs", ".status.conditions")
    assert conditions["x-kubernetes-list-type"] == "map" and conditions["x-kubernetes-list-map-keys"] == ["type"]


def test_created_resources_hold_every_product_the_largest_clone_makes() -> None:
    assert MAX_PRODUCTS == MAX_DISKS + 2  # a disk per snapshot, the OS adaptation Job and the VM
    assert at("clonejobs", ".status.createdResources")["maxItems"] == MAX_PRODUCTS
    assert at("migratingvms", ".status.lastSync.snapshots")["maxItems"] == MAX_DISKS
    assert at("clonejobs", ".status.sourceSync.snapshots")["maxItems"] == MAX_DISKS
    assert at("clonejobs", ".status.computeEngineDisksTargetDetails.disks")["maxItems"] == MAX_DISKS


MIRRORS = [
    (".spec.kubevirtTargetDefaults", ".status.kubevirtTargetDetails"),
    (".spec.computeEngineTargetDefaults", ".status.computeEngineTargetDetails"),
    (".spec.computeEngineDisksTargetDefaults", ".status.sourceSync.disksTargetDefaults"),
]
BOUNDS = ("maxLength", "maxItems", "maxProperties", "enum", "pattern", "minimum", "maximum")


@pytest.mark.parametrize(("defaults", "details"), MIRRORS)
def test_what_a_job_copies_from_its_migrating_vm_fits_where_it_is_copied(defaults: str, details: str) -> None:
    source = {path.removeprefix(defaults): node for path, node in walk(at("migratingvms", defaults))}
    target = {path.removeprefix(details): node for path, node in walk(at("clonejobs", details))}
    shared = sorted(set(source) & set(target))
    assert len(shared) > 5, "the mirror shares its fields"
    differ = [
        f"{path}: {key}"
        for path in shared
        for key in BOUNDS
        if source[path].get(key) != target[path].get(key) and target[path].get(key) is not None
    ]
    assert differ == []


def test_messages_the_operator_writes_are_cut_to_fit() -> None:
    huge = "a Google error body " * 5000
    assert len(huge) > MAX_MESSAGE
    error = RpcStatus(code=13, message=huge)
    assert error.message is not None and len(error.message) == MAX_MESSAGE and error.message.endswith("[...]")
    condition = Condition.model_validate(
        {
            "type": "Ready",
            "status": "False",
            "lastTransitionTime": "2026-12-02T00:00:00Z",
            "reason": "X",
            "message": huge,
        }
    )
    assert len(condition.message) == MAX_MESSAGE
    assert at("clonejobs", ".status.error.message")["maxLength"] == MAX_MESSAGE
    assert at("clonejobs", ".status.conditions[].message")["maxLength"] == MAX_MESSAGE


def test_product_names_fit_where_they_are_recorded() -> None:
    name_limit = ResourceRef.model_fields["name"].metadata[0].max_length
    vm = names.vm_name("j" * 253, None)
    longest = [vm, names.disk_name(vm, MAX_DISKS - 1), names.adaptation_job_name(vm)]
    assert all(len(name) <= 63 for name in longest) and name_limit >= 63, "DNS labels, whatever the job's name"
