"""retries: kopf retries without end, and an outage is told once per 10 s, not once per attempt."""

from __future__ import annotations

import itertools
import logging

import pytest

from clonejob_operator.retries import Backoffs, RetryLog


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def attempt(n: int) -> logging.LogRecord:
    message = f"Request attempt #{n} failed; will retry: GET https://api/apis/x -> ClientConnectorError('refused')"
    return logging.LogRecord("kopf._cogs.clients.watching", logging.ERROR, __file__, 1, message, None, None)


def test_backoffs_go_on_every_2s_and_each_request_starts_afresh() -> None:
    backoffs = Backoffs()
    assert list(itertools.islice(backoffs, 6)) == [0.5, 1.0, 2.0, 2.0, 2.0, 2.0]
    assert next(iter(backoffs)) == 0.5, "a new request iterates from the start"


def test_an_outage_is_one_warning_per_interval_after_a_grace(caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    log = RetryLog(grace=2.0, interval=10.0, clock=clock)
    shown = []
    for n in range(1, 40):  # seven watches, an attempt each 0.5 s: 20 s of outage
        record = attempt(n)
        if log.filter(record):
            shown.append((clock.now, record.levelno, record.getMessage()))
        clock.now += 0.5
    assert [at for at, _, _ in shown] == [2.0, 12.0], "the first after the grace, then one per 10 s"
    assert all(level == logging.WARNING for _, level, _ in shown)
    assert "has not answered for 2s (5 attempts retried" in shown[0][2] and "ClientConnectorError" in shown[0][2]
    with caplog.at_level(logging.INFO, logger="clonejob_operator.retries"):
        log.answered()
        log.answered()
    assert [r.getMessage() for r in caplog.records] == ["the API server answers again, after 20s"]


def test_a_retry_that_succeeds_within_the_grace_says_nothing(caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    log = RetryLog(grace=2.0, clock=clock)
    assert log.filter(attempt(1)) is False  # a 429 while the server's storage initialises, say
    clock.now += 1.0
    with caplog.at_level(logging.INFO):
        log.answered()
    assert caplog.records == []


def test_other_lines_pass_untouched() -> None:
    record = logging.LogRecord("kopf", logging.INFO, __file__, 1, "Initial authentication has finished.", None, None)
    assert RetryLog().filter(record) is True and record.levelno == logging.INFO


def test_a_failed_run_is_told_to_the_runtime_and_its_traceback_dropped() -> None:
    log = RetryLog()
    told: list[str] = []
    log.on_failed_run = told.append
    message = "Watcher for clonejobs.v1.vmmigration.dev@ns has failed: 404 page not found"
    record = logging.LogRecord("kopf", logging.ERROR, __file__, 1, message, None, None)
    assert log.filter(record) is False  # not --verbose: the runtime says it once, without a traceback
    assert told == [message]


def test_an_outage_told_is_remembered_for_its_aftermath() -> None:
    clock = Clock()
    log = RetryLog(grace=2.0, interval=10.0, clock=clock)
    assert not log.told_within(30)
    for n in range(1, 8):  # 3.5 s of outage: told once, at 2 s
        log.filter(attempt(n))
        clock.now += 0.5
    log.answered()
    clock.now += 20
    assert log.told_within(30), "the server answers again, and what follows is still part of it"
    clock.now += 20
    assert not log.told_within(30)
    quiet = RetryLog(grace=2.0, interval=10.0, clock=clock)
    quiet.filter(attempt(1))
    quiet.answered()
    assert not quiet.told_within(30), "a retry within the grace was never told"
