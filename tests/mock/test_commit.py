"""One writer, and its failures as facts: an injected refusal of a status write, a kind the API server does
not serve, and an exception nobody expected, each through the whole reconciler against a mock API."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import Any

import kmock
import pytest

from clonejob_operator.codes import Code
from clonejob_operator.kube import Kube
from clonejob_operator.reconciler import Reconciler
from clonejob_operator.targets.kubevirt.driver import KubevirtDriver
from clonejob_operator.targets.kubevirt.kinds import DATA_VOLUME
from tests.clocks import NOON, Clock
from tests.mock.test_refusals import NS, SETTINGS, Runner, _setup

STATUS = "patch /apis/vmmigration.dev/v1/namespaces/ns/clonejobs/cj/status"


@pytest.mark.asyncio
async def test_a_refused_status_write_ends_the_job_with_the_servers_words(
    kmock: kmock.KubernetesEmulator, mock_kube: Kube
) -> None:
    await asyncio.to_thread(_setup, mock_kube)
    refusals = {"left": 1}

    def refuse(request: Any) -> bool:
        status = (request.data or {}).get("status") or {}
        if "createdResources" in status and refusals["left"]:
            refusals["left"] -= 1
            return True
        return False

    message = 'CloneJob.vmmigration.dev "cj" is invalid: status.createdResources: Too many: 67'
    kmock[STATUS][refuse] << 422 << {"kind": "Status", "code": 422, "reason": "Invalid", "message": message}
    run = Runner(mock_kube)
    await run.tick(2)
    await run.set_status(DATA_VOLUME, "cj-disk-0", {"phase": "Succeeded", "progress": "100.0%"})
    await run.tick()  # the write that records the disk is refused
    status = await run.tick(2)
    assert refusals["left"] == 0
    assert status["state"] == "FAILED" and status["error"]["code"] == Code.INVALID_ARGUMENT
    assert (
        "the status could not be written" in status["error"]["message"] and "Too many: 67" in status["error"]["message"]
    )
    assert await asyncio.to_thread(mock_kube.get, DATA_VOLUME, NS, "cj-disk-0") is None, "cleaned up by its label"


@pytest.mark.asyncio
async def test_a_kind_the_server_does_not_serve_is_named(kmock: kmock.KubernetesEmulator, mock_kube: Kube) -> None:
    await asyncio.to_thread(_setup, mock_kube)
    kmock["post /apis/cdi.kubevirt.io/v1beta1/namespaces/ns/datavolumes"] << 404 << b"404 page not found\n"
    status = await Runner(mock_kube).tick(3)
    assert status["state"] == "FAILED" and status["error"]["code"] == Code.FAILED_PRECONDITION
    message = status["error"]["message"]
    assert "does not serve datavolumes.cdi.kubevirt.io/v1beta1" in message and "\n" not in message


@pytest.mark.asyncio
async def test_an_unexpected_exception_stalls_the_job_logs_once_and_the_step_timeout_still_fires(
    kmock: kmock.KubernetesEmulator,
    mock_kube: Kube,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await asyncio.to_thread(_setup, mock_kube)
    clock = Clock(NOON)
    run = Runner(mock_kube)
    run.reconciler = Reconciler(mock_kube, SETTINGS, clock=clock)
    await run.tick()  # PENDING, then ACTIVE

    def broken(self: KubevirtDriver, *_: Any) -> Any:
        raise TypeError("'NoneType' object is not subscriptable")

    monkeypatch.setattr(KubevirtDriver, "look", broken)
    with caplog.at_level(logging.ERROR, logger="clonejob_operator"):
        for _ in range(3):
            clock.now += timedelta(seconds=5)
            status = await run.tick()
    assert status["state"] == "ACTIVE" and "error" not in status
    stalled = next(c for c in status["conditions"] if c["type"] == "Stalled")
    assert stalled["status"] == "True" and "unexpected TypeError" in stalled["message"]
    traced = [r for r in caplog.records if r.exc_info and "unexpected TypeError" in r.getMessage()]
    assert len(traced) == 1, "a bug is logged once with its traceback"
    clock.now += SETTINGS.step_timeout(next(iter(SETTINGS.step_timeouts))) + timedelta(minutes=1)
    status = await run.tick(2)
    assert status["state"] == "FAILED" and status["error"]["code"] == Code.DEADLINE_EXCEEDED
