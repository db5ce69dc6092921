"""Events on a server that serves them: every transition of a job once, about the CloneJob, in order."""

from __future__ import annotations

import pytest
from kubernetes.client.exceptions import ApiException

from clonejob_operator.kube import Kube
from tests.integration.kit import World, running_operator, settings_for, wait_for


def _events(kube: Kube, namespace: str, name: str) -> list[tuple[str, str, str]]:
    listing = kube.core.list_namespaced_event(namespace, field_selector=f"involvedObject.name={name}")
    ordered = sorted(listing.items, key=lambda e: (e.first_timestamp or e.event_time, e.metadata.name))
    return [(str(e.type), str(e.reason), str(e.involved_object.kind)) for e in ordered]


def test_each_transition_is_one_event_about_the_clonejob(
    kube: Kube, operator_kube: Kube, world: World, namespace: str
) -> None:
    try:
        kube.core.list_namespaced_event(namespace)
    except ApiException as error:
        if error.status == 403:
            pytest.skip("this API server serves no Events (a CRD-only server): the mock tests hold them")
        raise
    world.migrating_vm("web-1")
    with running_operator(operator_kube, settings_for(namespace)):
        world.clone_job("cj")
        world.finish_disks("cj")
        world.ready_vm("cj")
        world.wait_state("cj", "SUCCEEDED")
        wanted = [
            ("Normal", "Pending", "CloneJob"),
            ("Normal", "Started", "CloneJob"),
            ("Normal", "InstantiatingMigratedVm", "CloneJob"),
            ("Normal", "Succeeded", "CloneJob"),
        ]
        seen = wait_for(
            lambda: (lambda got: got if got == wanted else None)(_events(kube, namespace, "cj")), 10, "Events"
        )
    assert seen == wanted
