"""The largest objects the generated CRDs admit, computed from their schemas: every field is bounded, and a
MigratingVm and a CloneJob stay small, so that one tenant cannot push the operator past its memory limit."""

from __future__ import annotations

from typing import Any

import pytest
from bench.largest import key_limit, one_of, refused, requires

from clonejob_operator import crdgen

Schema = dict[str, Any]


class Unbounded(Exception):
    """A field whose size has no limit."""


def bounded(condition: bool, what: str) -> None:
    if not condition:
        raise Unbounded(what)


LIMITS_KIB = {"MigratingVm": 152, "CloneJob": 240, "TargetProject": 4}
"""The worst case each kind may reach (docs/security.md gives these figures)."""


def _key_limit(node: Schema, path: str) -> int:
    limit = key_limit(node)
    if limit is None:
        raise Unbounded(f"{path}: a map whose keys are not bounded")
    return limit


def worst(node: Schema, path: str) -> int:
    """The most characters a JSON value of this schema can take."""
    bounded(not node.get("x-kubernetes-preserve-unknown-fields"), f"{path}: any content")
    kind = node.get("type")
    if "enum" in node:
        return max(len(str(value)) + 2 for value in node["enum"])
    if kind == "string":
        bounded("maxLength" in node, f"{path}: an unbounded string")
        return int(node["maxLength"]) + 2
    if kind in ("integer", "number"):
        return 20
    if kind == "boolean":
        return 5
    if kind == "array":
        bounded("maxItems" in node, f"{path}: an unbounded list")
        return 2 + int(node["maxItems"]) * (worst(node.get("items", {}), f"{path}[]") + 1)
    members = {
        name: len(name) + 4 + worst(prop, f"{path}.{name}")
        for name, prop in (node.get("properties") or {}).items()
        if name not in refused(node)
    }
    attached: dict[str, int] = {}  # a member that needs another (``!has(self.a) || has(self.b)``) goes with it
    for needing, needed in requires(node):
        attached[needed] = attached.get(needed, 0) + members.pop(needing, 0)
    for group in one_of(node):
        largest = max(members.pop(name, 0) + attached.pop(name, 0) for name in group)
        members["|".join(group)] = largest
    total = 2 + sum(members.values()) + sum(attached.values())
    if isinstance(node.get("additionalProperties"), dict):
        bounded("maxProperties" in node, f"{path}: a map without a size")
        value = worst(node["additionalProperties"], f"{path}{{}}")
        total += int(node["maxProperties"]) * (_key_limit(node, path) + 4 + value)
    return total


def worst_of(kind: str) -> int:
    """The most characters of a ``kind``'s spec and status."""
    crd = next(c for c in crdgen.all_crds().values() if c["spec"]["names"]["kind"] == kind)
    root = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    return worst({"properties": {k: v for k, v in root["properties"].items() if k in ("spec", "status")}}, kind)


def largest(kind: str) -> int:
    return worst_of(kind) + 1024  # metadata as the operator keeps it: names, uid, versions, finalizers


@pytest.mark.parametrize("kind", sorted(LIMITS_KIB))
def test_the_largest_object_a_tenant_can_write_is_small(kind: str) -> None:
    assert largest(kind) <= LIMITS_KIB[kind] * 1024, f"{kind}: {largest(kind) / 1024:.0f} KiB at most"


def test_every_field_of_every_crd_is_bounded() -> None:
    """AdaptationProfiles too: only cluster admins write them, and the operator reads them when needed only."""
    for crd in crdgen.all_crds().values():
        assert largest(crd["spec"]["names"]["kind"]) < 1024 * 1024


def test_the_walk_notices_what_is_unbounded() -> None:
    with pytest.raises(Unbounded, match="x: an unbounded string"):
        worst({"type": "string"}, "x")
    with pytest.raises(Unbounded, match="m: a map whose keys are not bounded"):
        worst({"type": "object", "maxProperties": 2, "additionalProperties": {"type": "integer"}}, "m")
    one = {"type": "string", "maxLength": 10}
    both = {"properties": {"a": one, "b": one}}
    assert worst(
        {**both, "x-kubernetes-validations": [{"rule": "[has(self.a), has(self.b)].filter(x, x).size() == 1"}]}, "o"
    ) < worst(both, "o")
