"""A kind whose CRD is installed after the operator started: the running operator finds it served, starts its
watches again with fresh caches (no restart of the process), and goes on cloning."""

from __future__ import annotations

import contextlib
from typing import Any

import kubernetes
import pytest

from clonejob_operator import discovery
from clonejob_operator.kube import Kind, Kube
from tests.integration.kit import World, running_operator, settings_for, wait_for


def _crd(kind: Kind) -> dict[str, Any]:
    schema = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{kind.plural}.{kind.group}"},
        "spec": {
            "group": kind.group,
            "scope": "Namespaced",
            "names": {"kind": kind.kind, "plural": kind.plural, "singular": "widget", "listKind": f"{kind.kind}List"},
            "versions": [
                {"name": kind.version, "served": True, "storage": True, "schema": {"openAPIV3Schema": schema}}
            ],
        },
    }


def test_a_crd_installed_after_the_operator_started_starts_its_watches_again(
    kube: Kube, world: World, namespace: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The kind is the test's own (every real one is installed for the whole session): the operator's first run
    looks for it, as it looks for a target's or a feed's kinds that were not served; the next run does not."""
    widgets = Kind(f"{namespace}.example", "v1", "widgets", "Widget")
    looks: list[int] = []

    def wanted() -> tuple[Kind, ...]:
        looks.append(1)
        return (widgets,) if len(looks) == 1 else ()

    monkeypatch.setattr(discovery, "wanted", wanted)
    monkeypatch.setattr(discovery, "INTERVAL", 0.5)
    api: Any = kubernetes.client.ApiextensionsV1Api(kube.api_client)
    world.migrating_vm("web-1")
    try:
        with running_operator(kube, settings_for(namespace)) as operator:
            first = operator.controller
            api.create_custom_resource_definition(_crd(widgets))
            fresh = lambda: operator.process.controller if operator.process.controller not in (None, first) else None  # noqa: E731
            again = wait_for(fresh, 30, "a run with fresh caches")
            assert again.cache is not first.cache
            wait_for(lambda: len(looks) >= 2, 10, "the new run to look for what it does not watch")
            world.clone_to_success("cj")  # the new run clones as the first would have
    finally:
        with contextlib.suppress(kubernetes.client.exceptions.ApiException):
            api.delete_custom_resource_definition(f"widgets.{widgets.group}")
