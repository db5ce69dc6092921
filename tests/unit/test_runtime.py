"""runtime: what the process says about kinds it cannot watch, once each."""

from __future__ import annotations

import logging

import pytest
from kubernetes.client import Configuration

from clonejob_operator.kube import CLONE_JOB, MIGRATING_VM, Kube
from clonejob_operator.metrics import Metrics
from clonejob_operator.runtime import Launch, Process
from clonejob_operator.settings import Settings
from clonejob_operator.targets.catalog import REGISTRY
from clonejob_operator.targets.kubevirt.kinds import DATA_VOLUME


def test_a_kind_that_cannot_be_watched_is_said_once_with_its_cost(caplog: pytest.LogCaptureFixture) -> None:
    process = Process(Kube(Configuration()), Launch(Settings(poll_interval=5.0)), Metrics())
    caplog.set_level(logging.WARNING, logger="clonejob_operator.runtime")
    process._say_unwatched(frozenset({CLONE_JOB, MIGRATING_VM}))
    process._say_unwatched(frozenset({CLONE_JOB, MIGRATING_VM}))  # the next term: nothing new to say
    said = [r.getMessage() for r in caplog.records]
    assert len(said) == len(REGISTRY.watched()) - 2
    (datavolumes,) = [m for m in said if m.startswith(f"{DATA_VOLUME.plural}.{DATA_VOLUME.group}")]
    assert "is not served" in datavolumes and "every 5s" in datavolumes and "install the CRD" in datavolumes
    assert "(its CRD is absent)" in datavolumes
    (jobs,) = [m for m in said if m.startswith("jobs.batch/v1")]
    assert "(the API group batch is not enabled)" in jobs and "CRD is absent" not in jobs


def test_the_aftermath_of_an_outage_already_told_is_info(monkeypatch: pytest.MonkeyPatch) -> None:
    from clonejob_operator import runtime
    from clonejob_operator.outages import RETRIES

    monkeypatch.setattr(RETRIES, "told_within", lambda seconds: seconds == runtime.AFTERMATH)
    assert runtime._level() == logging.INFO
    monkeypatch.setattr(RETRIES, "told_within", lambda seconds: False)
    assert runtime._level() == logging.WARNING


def test_a_steady_heap_freezes_what_starting_made_and_collects_the_young_less_often() -> None:
    import gc

    from clonejob_operator.runtime import GC_THRESHOLDS, steady_heap

    before = gc.get_threshold()
    try:
        started: list[object] = []  # made while starting: a tracked object the collector walks until the freeze
        assert any(o is started for o in gc.get_objects())
        steady_heap()
        assert not any(o is started for o in gc.get_objects()), "frozen: out of every generation's walk"
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold() == GC_THRESHOLDS
        assert GC_THRESHOLDS[0] > before[0], "the young generation is collected after more allocations"
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
