"""The largest objects the schemas admit, sent to the real API server: accepted whole (nothing pruned), and as
large as tests/unit/test_sizes.py computes the worst case to be (so that figure is no guess)."""

from __future__ import annotations

import json

import pytest

from bench import largest
from clonejob_operator.kube import CLONE_JOB, MIGRATING_VM, TARGET_PROJECT, Kind, Kube
from tests.integration.kit import manifest
from tests.unit.test_sizes import LIMITS_KIB, worst_of


@pytest.mark.parametrize("kind", [MIGRATING_VM, CLONE_JOB, TARGET_PROJECT], ids=lambda k: k.kind)
def test_the_largest_object_is_accepted_whole_and_as_large_as_computed(kube: Kube, namespace: str, kind: Kind) -> None:
    spec, status = largest.of(kind.kind)
    name = "x" * 63
    kube.create(kind, namespace, manifest(kind, namespace, name, spec))
    if status:
        kube.patch_status(kind, namespace, name, {"status": status})
    stored = kube.get(kind, namespace, name)
    assert stored is not None and stored["spec"] == spec and stored.get("status", {}) == status, "nothing pruned"
    size = len(json.dumps({"spec": spec, "status": status}, separators=(",", ":")))
    assert 0.95 * worst_of(kind.kind) <= size <= worst_of(kind.kind) <= LIMITS_KIB[kind.kind] * 1024
