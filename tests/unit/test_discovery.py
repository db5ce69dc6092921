"""discovery: a kind served after the watches started is found, and ends the run so that the next watches it."""

from __future__ import annotations

import asyncio
import logging
import time
from types import SimpleNamespace
from typing import Any

import pytest

from clonejob_operator.discovery import NewlyServed, served_since, wanted
from clonejob_operator.kube import CLONE_JOB, MIGRATING_VM, Kind
from clonejob_operator.metrics import Metrics
from clonejob_operator.runtime import Launch, Process
from clonejob_operator.settings import Settings
from clonejob_operator.sources.volsync.kinds import REPLICATION_DESTINATION
from clonejob_operator.targets.kubevirt.kinds import DATA_VOLUME

OWN = frozenset({CLONE_JOB, MIGRATING_VM})


class Discovery:
    """An API server whose answers about kinds change from one look to the next."""

    def __init__(self, *answers: tuple[Kind, ...] | BaseException) -> None:
        self.answers = list(answers)
        self.asked: list[tuple[Kind, ...]] = []

    def servable(self, kinds: tuple[Kind, ...]) -> tuple[Kind, ...]:
        self.asked.append(kinds)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, BaseException):
            raise answer
        return tuple(kind for kind in answer if kind in kinds)


def test_a_kind_served_later_is_found_after_a_look_without_an_answer() -> None:
    kube: Any = Discovery((), ConnectionRefusedError("refused"), (DATA_VOLUME,))
    found = asyncio.run(asyncio.wait_for(served_since(kube, OWN, interval=0.01), 5))
    assert isinstance(found, NewlyServed) and found.kinds == (DATA_VOLUME,)
    assert str(found) == "datavolumes.cdi.kubevirt.io"
    assert kube.asked[0] == tuple(kind for kind in wanted() if kind not in OWN), "what is not watched"
    assert {DATA_VOLUME, REPLICATION_DESTINATION} <= set(kube.asked[0]), "the targets' kinds and the feeds'"


def test_nothing_is_asked_when_every_kind_is_watched() -> None:
    kube: Any = Discovery((DATA_VOLUME,))
    with pytest.raises(TimeoutError):
        asyncio.run(asyncio.wait_for(served_since(kube, frozenset({*OWN, *wanted()}), interval=0.01), 0.2))
    assert kube.asked == []


def test_a_run_ended_by_a_kind_served_now_is_started_again_at_once(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    process = Process(Any, Launch(Settings()), Metrics())  # type: ignore[arg-type]
    controller = SimpleNamespace(cache=SimpleNamespace(watched=OWN))
    assembled: list[frozenset[Kind]] = []
    runs = [NewlyServed((DATA_VOLUME,)), None]

    def assemble(watched: frozenset[Kind]) -> Any:
        assembled.append(watched)
        return controller

    async def run(controller: Any, ends: list[Any]) -> BaseException | None:
        for end in ends:  # what would end a real run, never awaited here
            end.close()
        return runs.pop(0)

    monkeypatch.setattr(process, "_assemble", assemble)
    monkeypatch.setattr(process, "_run", run)
    monkeypatch.setattr(process, "_say_unwatched", lambda watched: None)
    caplog.set_level(logging.INFO, logger="clonejob_operator.runtime")

    async def term() -> None:
        process._stopping = asyncio.Event()
        await process._term()

    began = time.monotonic()
    asyncio.run(term())
    assert len(assembled) == 2 and runs == [], "a second run, with a fresh controller"
    assert time.monotonic() - began < 0.4, "no failure's pause"
    assert any("datavolumes.cdi.kubevirt.io served now" in r.getMessage() for r in caplog.records)
