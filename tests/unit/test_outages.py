"""retries: kopf retries without end, and an outage is told once per 10 s, not once per attempt."""

from __future__ import annotations

import itertools
import logging

import pytest

from clonejob_operator.outages import KOPF_BACKOFF, RetryLog
from tests.clocks import Clock


def attempt(n: int) -> logging.LogRecord:
    message = f"Request attempt #{n} failed; will retry: GET https://api/apis/x -> ClientConnectorError('refused')"
    return logging.LogRecord("kopf.clients", logging.ERROR, __file__, 1, message, None, None)


def test_backoffs_go_on_every_2s_and_each_request_starts_afresh() -> None:
    backoffs = KOPF_BACKOFF
    assert list(itertools.islice(backoffs, 6)) == [0.5, 1.0, 2.0, 2.0, 2.0, 2.0]
    assert next(iter(backoffs)) == 0.5, "a new request iterates from the start"


def test_an_outage_is_one_warning_per_interval_after_a_grace(caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock(0.0)
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
    with caplog.at_level(logging.INFO, logger="clonejob_operator.outages"):
        log.answered()
        log.answered()
    assert [r.getMessage() for r in caplog.records] == ["the API server answers again, after 20s"]


def test_a_retry_that_succeeds_within_the_grace_says_nothing(caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock(0.0)
    log = RetryLog(grace=2.0, clock=clock)
    assert log.filter(attempt(1)) is False  # a 429 while the server's storage initialises, say
    clock.now += 1.0
    with caplog.at_level(logging.INFO):
        log.answered()
    assert caplog.records == []


def test_other_lines_pass_untouched() -> None:
    record = logging.LogRecord("kopf", logging.INFO, __file__, 1, "Initial authentication has finished.", None, None)
    assert RetryLog().filter(record) is True and record.levelno == logging.INFO


def test_a_failed_run_is_recognised_by_its_exception_and_its_traceback_dropped() -> None:
    import aiohttp

    log = RetryLog()

    def failed(error: BaseException, name: str = "kopf.running") -> logging.LogRecord:
        return logging.LogRecord(
            name, logging.ERROR, __file__, 1, "any words: %s", (error,), (type(error), error, None)
        )

    class Answer(Exception):
        def __init__(self, status: int) -> None:
            self.status = status

    for error in (aiohttp.ClientConnectionError("gone"), TimeoutError(), Answer(404), Answer(503), Answer(429)):
        assert log.filter(failed(error)) is False, error  # not --verbose: the runtime says it once
    assert log.filter(failed(Answer(403))) is True, "a refusal is no outage: shown"
    assert log.filter(failed(ValueError("a bug"))) is True, "a bug is shown, traceback and all"
    assert log.filter(failed(OSError("x"), name="clonejob_operator.x")) is True, "only kopf's lines"
    from aiohttp import streams

    closed = _raise_from(streams.__dict__)
    assert log.filter(failed(closed)) is False, "aiohttp's RuntimeError('Connection closed.') is an outage"
    assert log.filter(failed(RuntimeError("elsewhere"))) is True, "any other RuntimeError is shown"
    told: list[BaseException] = []
    log.failing = told.append  # what the runtime sets for the run under way: it ends the run at once
    gone = aiohttp.ClientConnectionError("gone")
    log.filter(failed(gone))
    log.filter(failed(ValueError("a bug")))
    assert told == [gone], "a failed run is told; a bug in a handler is not a failed run"


def test_the_real_kopf_retries_forever_its_retry_lines_are_condensed_and_a_failed_run_raises() -> None:
    """What the operator relies on in kopf, checked against the kopf installed: its retry line is recognised
    (the only words of kopf's that are read), each request takes its own backoffs, a run whose requests give
    up ends by raising, and the lines of that failure are recognised by their exception."""
    import asyncio
    import socket

    import kopf

    from clonejob_operator.kopfwiring import operator_settings

    with socket.socket() as sock:  # a port where nothing listens: an API server that is not there
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    registry = kopf.OperatorRegistry()
    kopf.on.login(registry=registry)(lambda **_: kopf.ConnectionInfo(server=f"http://127.0.0.1:{port}"))
    kopf.on.event("vmmigration.dev", "v1", "clonejobs", registry=registry)(lambda **_: None)
    settings = operator_settings(("ns",))
    assert settings.process.ultimate_exiting_timeout is None, "no SIGKILL after a failed run"
    settings.networking.error_backoffs = [0.01, 0.01]  # two retries per request, then it gives up

    async def run() -> BaseException | None:
        asyncio.get_running_loop().set_exception_handler(lambda *_: None)  # kopf's own leftovers, not ours
        try:
            await asyncio.wait_for(kopf.operator(registry=registry, settings=settings, standalone=True,
                                                 namespaces=["ns"], clusterwide=False), 30)  # fmt: skip
        except Exception as error:
            return error
        return None

    seen: list[logging.LogRecord] = []
    kept = _Keep(seen)  # every kopf line, before any filter of ours
    kopf_log = logging.getLogger("kopf")
    kopf_log.addHandler(kept)
    try:
        ended = asyncio.run(run())
    finally:
        kopf_log.removeHandler(kept)
    assert ended is not None and not isinstance(ended, TimeoutError), f"kopf's run did not end by raising: {ended!r}"
    lines = [r for r in seen if r.name.startswith("kopf")]
    log = RetryLog(grace=60.0)
    condensed = [r for r in lines if _quieted(log, logging.makeLogRecord(r.__dict__))]
    retried = [r for r in condensed if not r.exc_info]
    failures = [r for r in condensed if r.exc_info]
    assert len(retried) >= 2 and all("GET http://127.0.0.1" in r.getMessage() for r in retried), [
        r.getMessage() for r in lines
    ]  # kopf's retry lines, as kopf words them, are the ones condensed
    assert failures, "the run's failure is recognised by its exception"


def test_an_outage_told_is_remembered_for_its_aftermath() -> None:
    clock = Clock(0.0)
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


def _quieted(log: RetryLog, record: logging.LogRecord) -> bool:
    """Dropped, or (with DEBUG on) shown at DEBUG."""
    return log.filter(record) is False or record.levelno == logging.DEBUG


class _Keep(logging.Handler):
    def __init__(self, seen: list[logging.LogRecord]) -> None:
        super().__init__(logging.WARNING)
        self.seen = seen

    def emit(self, record: logging.LogRecord) -> None:
        self.seen.append(record)


def _raise_from(module_globals: dict[str, object]) -> BaseException:
    """A RuntimeError raised by code whose globals are ``module_globals`` (as aiohttp's stream raises it)."""
    scope: dict[str, object] = dict(module_globals)
    exec("def read():\n    raise RuntimeError('Connection closed.')", scope)
    try:
        scope["read"]()  # type: ignore[operator]
    except RuntimeError as error:
        return error
    raise AssertionError("not raised")
