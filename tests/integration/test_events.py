"""Events on a server that serves them: every transition of a job once, about the CloneJob, in order."""

from __future__ import annotations

import logging

import pytest
from kubernetes.client.exceptions import ApiException

from clonejob_operator import permissions
from clonejob_operator.kube import Kube
from tests.integration.conftest import chart_identity
from tests.integration.kit import CHART_IDENTITIES, StateRecorder, World, running_operator, settings_for, wait_for


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
        world.clone_to_success("cj")
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


def test_a_role_without_events_costs_one_warning_line_and_nothing_else(
    kube: Kube, world: World, namespace: str, caplog: pytest.LogCaptureFixture
) -> None:
    granted = [rule for rule in permissions.namespaced() if rule.resources != ("events",)]
    identity = chart_identity(kube, namespace, granted)
    CHART_IDENTITIES.discard(id(identity))  # its 403s are the point here
    world.migrating_vm("web-1")
    caplog.set_level(logging.WARNING)
    with StateRecorder(kube, namespace, "cj") as states, running_operator(identity, settings_for(namespace)):
        world.clone_to_success("cj")
        assert states.wait_for("SUCCEEDED") == ["PENDING", "ACTIVE", "SUCCEEDED"]
    warned = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING and r.name.startswith("clonejob")]
    assert len(warned) == 1 and warned[0].startswith("cannot post Events (API answered 403: "), warned
    assert 'cannot create resource "events"' in warned[0], "the server's words: which right is missing"
    assert warned[0].endswith("); carrying on without them")
    assert _events(kube, namespace, "cj") == []
