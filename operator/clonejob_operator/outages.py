"""kopf's retried requests: retried for as long as an outage lasts, and told once.

kopf retries a failed request (a watch, a list) on a schedule that ends after about a minute, and
logs an ERROR line for every request and every attempt: an outage of the API server is seven lines
a second, then the watches give up. Here the schedule goes on every 2 s for as long as the outage
lasts (``KOPF_BACKOFF``, the operator's one ``Backoff`` policy given to kopf's public
``networking.error_backoffs``; a watch resumes within 2 s of the
server's return), and the lines become one WARNING once the trouble has lasted a moment, then at most
one per 10 s, and one INFO line when the server answers again. A 429 at start (the server's storage
still initialising) that a retry gets past within the moment stays at DEBUG.

kopf has no public hook that says "a request failed and will be retried": this module recognises
kopf's retry line by its words (``RETRY_LINE``), the one place the operator reads kopf's text. If kopf
rewords it, nothing breaks but the condensing (every attempt is logged again), and
``tests/unit/test_outages.py`` fails: it runs the real kopf against a server that is not there.
When a run of kopf fails (a watch given up, the server gone), kopf logs the error with its traceback
and ends its run (``kopf.operator`` raises); the term says it once and starts another. Such lines are
recognised by the type of their exception, never by their words.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable

import aiohttp

from clonejob_operator.workqueue import Backoff

log = logging.getLogger(__name__)
RETRY_EVERY = 2.0
KOPF_BACKOFF = Backoff(first=0.5, most=RETRY_EVERY)
"""kopf's ``error_backoffs``: 0.5 s, 1 s, then every 2 s without end. Each request iterates afresh."""


class RetryLog(logging.Filter):
    """A handler filter that condenses kopf's "Request attempt #N failed; will retry" lines."""

    def __init__(self, grace: float = 2.0, interval: float = 10.0, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.grace, self.interval, self.clock = grace, interval, clock
        self._lock = threading.Lock()
        self._since: float | None = None
        """When the current run of failed attempts began (None: the server answers)."""
        self._failed = 0
        self._warned_at: float | None = None
        self._told_at: float | None = None
        """When an outage was last told at WARNING (kept after the server answers again)."""
        self.failing: Callable[[BaseException], None] | None = None
        """Told when kopf's run fails (set by the runtime for the run under way): kopf's teardown may then hang
        in a re-authentication that never comes, so the runtime ends the run itself rather than wait for it."""

    def filter(self, record: logging.LogRecord) -> bool:
        if _run_failure(record):
            if self.failing is not None and record.exc_info and record.exc_info[1] is not None:
                self.failing(record.exc_info[1])
            return _quiet(record)  # the term says it once, without a traceback, and starts the run again
        message = record.getMessage()
        if not RETRY_LINE.match(message):
            return True
        now = self.clock()
        with self._lock:
            if self._since is None:
                self._since, self._failed, self._warned_at = now, 0, None
            self._failed += 1
            lasted = now - self._since
            if lasted < self.grace or (self._warned_at is not None and now - self._warned_at < self.interval):
                return _quiet(record)
            self._warned_at = self._told_at = now
            failed = self._failed
        detail = message.split("will retry: ", 1)[-1]
        record.levelno, record.levelname = logging.WARNING, logging.getLevelName(logging.WARNING)
        record.msg = "the API server has not answered for %.0fs (%d attempts retried, the last: %s); retrying every %gs"
        record.args = (lasted, failed, detail[:300], RETRY_EVERY)
        record.exc_info = record.exc_text = None
        return True

    def told_within(self, seconds: float) -> bool:
        """Whether an outage was told at WARNING in the last ``seconds``: what follows from it (the watches
        failing while a restarted API server registers its CRDs) is then part of what was told."""
        with self._lock:
            return self._told_at is not None and self.clock() - self._told_at < seconds

    def answered(self) -> None:
        """Something came back from the API server: an outage that was told of ends with one line."""
        if self._since is None:  # the usual case, without taking the lock
            return
        with self._lock:
            since, warned = self._since, self._warned_at
            self._since = None
        if since is not None and warned is not None:
            log.info("the API server answers again, after %.0fs", self.clock() - since)


RETRY_LINE = re.compile(r"^Request attempt #\d+(/\d+)? failed; will retry")
"""kopf's line for a failed request it will try again (kopf 1.45: ``Request attempt #N[/M] failed; will retry:
METHOD URL -> ERROR``)."""

CONNECTION_FAULTS: tuple[type[BaseException], ...] = (aiohttp.ClientError, TimeoutError, OSError)


def _run_failure(record: logging.LogRecord) -> bool:
    """A kopf line about a run that failed for want of the API server: its exception is a connection fault,
    or an answer of the server's that says it is not (yet) there (404 page not found while a restarted
    server registers its CRDs, 429 while its storage initialises, 5xx)."""
    if not record.name.startswith("kopf") or not record.exc_info or record.exc_info[1] is None:
        return False
    error = record.exc_info[1]
    status = getattr(error, "status", None)
    if isinstance(error, RuntimeError) and _raised_in(error, "aiohttp."):
        return True  # aiohttp's stream read from a connection the server closed (a RuntimeError of its own)
    return isinstance(error, CONNECTION_FAULTS) or (isinstance(status, int) and (status in (404, 429) or status >= 500))


def _raised_in(error: BaseException, package: str) -> bool:
    """Whether the innermost frame of ``error``'s traceback is in ``package``."""
    tb = error.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    return tb is not None and str(tb.tb_frame.f_globals.get("__name__", "")).startswith(package)


def _quiet(record: logging.LogRecord) -> bool:
    """Shown at DEBUG, without its traceback, when the operator runs --verbose; dropped otherwise."""
    if not logging.getLogger().isEnabledFor(logging.DEBUG) and not logging.getLogger("kopf").isEnabledFor(
        logging.DEBUG
    ):
        return False
    record.levelno, record.levelname = logging.DEBUG, logging.getLevelName(logging.DEBUG)
    record.exc_info, record.exc_text = None, None
    return True


RETRIES = RetryLog()
"""The process's one filter: installed on the log handlers by the command, told of answers by the controller."""


def install(logger: logging.Logger | None = None) -> None:
    for handler in (logger or logging.getLogger()).handlers:
        if RETRIES not in handler.filters:
            handler.addFilter(RETRIES)
