"""Events: posted on transitions with the involved object; a refusal never fails anything."""

from __future__ import annotations

import asyncio
import logging

import kmock
import pytest

from clonejob_operator.events import EventPoster
from clonejob_operator.kube import Kube
from clonejob_operator.timestamps import parse_time

INVOLVED = {"apiVersion": "vmmigration.dev/v1", "kind": "CloneJob", "name": "cj", "namespace": "ns", "uid": "u1"}


@pytest.mark.asyncio
async def test_event_is_posted_with_the_involved_object(kmock: kmock.KubernetesEmulator, mock_kube: Kube) -> None:
    posted = await asyncio.to_thread(EventPoster(mock_kube).post, INVOLVED, "Normal", "Started", "step began")
    assert posted is True
    creates = list(kmock[kmock.resource("v1/events")])
    assert len(creates) == 1
    body = creates[0].data
    assert creates[0].method == "POST" and creates[0].url.path == "/api/v1/namespaces/ns/events"
    assert body["involvedObject"] == INVOLVED
    assert (body["type"], body["reason"], body["message"]) == ("Normal", "Started", "step began")
    assert body["metadata"]["name"].startswith("cj.")
    assert body["source"] == {"component": "clonejob-operator"}
    parse_time(body["firstTimestamp"])  # the client re-renders it; the server stores metav1.Time


@pytest.mark.asyncio
async def test_forbidden_events_are_tolerated_and_logged_once(
    kmock: kmock.KubernetesEmulator, mock_kube: Kube, caplog: pytest.LogCaptureFixture
) -> None:
    kmock["post /api/v1/namespaces/ns/events"] << 403 << {"kind": "Status", "code": 403, "reason": "Forbidden"}
    poster = EventPoster(mock_kube)
    with caplog.at_level(logging.WARNING, logger="clonejob_operator.events"):
        results = [await asyncio.to_thread(poster.post, INVOLVED, "Warning", "Failed", "x") for _ in range(3)]
    assert results == [False, False, False]
    assert len(kmock[kmock.resource("v1/events")]) == 1  # never retried, then paused: one request, not three
    assert sum("cannot post Events (API answered 403)" in r.message for r in caplog.records) == 1
