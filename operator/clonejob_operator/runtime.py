"""The process: one term of the operator at a time, standalone or under the leader Lease.

A term is everything that reads and writes: kopf's watches, the caches, the work queue and its workers,
built fresh. Standalone, one term lasts as long as the process. With leader election a term begins when
this replica takes the Lease and ends when it loses it; the replica then waits to lead again, and its
next term lists everything anew (nothing from the last term's memory is trusted). kopf's own peering
is off in every mode (``standalone=True``): the Lease is the only arbiter, and nothing falls back silently.

The health endpoint and the metrics live as long as the process, so that a follower answers its
liveness probe too.
"""

from __future__ import annotations

import asyncio
import functools
import gc
import logging
import signal
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import urlparse

import kopf
from aiohttp import web

from clonejob_operator import discovery
from clonejob_operator.controller import Controller
from clonejob_operator.discovery import NewlyServed
from clonejob_operator.kopfwiring import build_registry, operator_settings
from clonejob_operator.kube import CLONE_JOB, MIGRATING_VM, Kind, Kube
from clonejob_operator.leadership import Candidate, Election
from clonejob_operator.metrics import Metrics
from clonejob_operator.outages import RETRIES
from clonejob_operator.settings import Settings
from clonejob_operator.targets.catalog import REGISTRY
from clonejob_operator.workqueue import Backoff

log = logging.getLogger(__name__)

CORE_KINDS = (CLONE_JOB, MIGRATING_VM)
RESTARTS = Backoff(first=0.5, most=30.0)
"""The pauses before kopf's run is started again after it failed (a run that lasted a minute starts afresh)."""
"""The kinds without which a run watches nothing worth running for."""


GC_THRESHOLDS = (5_000, 20, 20)
"""The cyclic collector's thresholds once the operator has started (Python's are 700, 10, 10)."""


def steady_heap() -> None:
    """Ready the cyclic garbage collector for a long-running process that keeps thousands of objects.

    Everything made while starting (modules, the API models' schemas, the client libraries) lives as long as
    the process: it is frozen out of the collector's reach, so that a full collection walks only what the
    running operator made. The young generation is collected after 5,000 allocations rather than 700, and
    the older ones more seldom. At 1,000 concurrent jobs that is most of the collector's time saved, with the
    same peak memory (bench/RESULTS.md).
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


@dataclass(frozen=True)
class Launch:
    settings: Settings
    election: Election | None = None
    """None: standalone, no Lease (one replica only)."""
    liveness: str | None = None
    """A URL such as http://0.0.0.0:8080/healthz to answer liveness probes on."""


class Process:
    def __init__(self, kube: Kube, launch: Launch, metrics: Metrics) -> None:
        self.kube = kube
        self.launch = launch
        self.metrics = metrics
        self.candidate = Candidate(kube.api_client, launch.election) if launch.election else None
        self.leading = False
        self.controller: Controller | None = None
        """The current term's controller (None between terms)."""
        self.serving = threading.Event()
        """Set while kopf runs and has started its watches (a term's run is under way)."""
        self._stopping: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._unwatched: set[Kind] = set()

    def stop(self) -> None:
        """Stop the process from another thread (a test's, say): as SIGTERM does."""
        if self._loop is not None and self._stopping is not None:
            self._loop.call_soon_threadsafe(self._stopping.set)

    async def run(self) -> None:
        self._stopping = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        self._own_signals()
        health = await self._serve_health()
        try:
            if self.candidate is None:
                log.info("running standalone (no leader election): run one replica only, or pass --leader-elect")
                await self._term()
            else:
                await self._elected(self.candidate)
        finally:
            if self.candidate is not None:
                await asyncio.to_thread(self.candidate.release)
            if health is not None:
                await health.cleanup()

    async def _elected(self, candidate: Candidate) -> None:
        assert self._stopping is not None
        self.kube.fence = candidate.fence.holding
        election = candidate.election
        loop = asyncio.get_running_loop()
        while not self._stopping.is_set():
            led, lost = asyncio.Event(), asyncio.Event()
            threading.Thread(
                target=candidate.campaign,
                args=(
                    functools.partial(loop.call_soon_threadsafe, led.set),
                    functools.partial(loop.call_soon_threadsafe, lost.set),
                ),
                name="leader-election",
                daemon=True,
            ).start()
            log.info("waiting to lead: Lease %s/%s, as %s", election.namespace, election.name, candidate.identity)
            await _first(led.wait(), self._stopping.wait())
            if self._stopping.is_set():
                return
            log.info("leading as %s (Lease %s/%s): starting the watches and workers", candidate.identity,
                     election.namespace, election.name)  # fmt: skip
            # The term ends when the fence lapses (no renewal within the renew deadline), on this process's
            # own clock, or when the client gives the Lease up, whichever comes first.
            await self._term(lost, candidate)
            if self._stopping.is_set():
                return
            candidate.resign()
            log.warning(
                "lost the Lease %s/%s: stopped writing, and stopped the watches and workers; waiting to lead again",
                election.namespace,
                election.name,
            )

    async def _term(self, lost: asyncio.Event | None = None, candidate: Candidate | None = None) -> None:
        """Run kopf and the controller until the Lease is lost or the process stops. kopf ends its run when a
        watch fails for good (a ``404 page not found`` while a restarted API server registers its CRDs, say); the
        term starts it again, with fresh caches, after a ``RESTARTS`` pause, waiting (30 s at most) for the kinds
        watched before: none falls back to polling for want of patience. A kind served since (``discovery``)
        starts it again at once."""
        assert self._stopping is not None
        stopping = self._stopping

        def ends() -> list[Awaitable[object]]:
            out: list[Awaitable[object]] = [stopping.wait()]
            out += [lost.wait()] if lost is not None else []
            out += [_lapsed(candidate)] if candidate is not None else []
            return out

        def ended() -> bool:
            gone = lost is not None and lost.is_set()
            return stopping.is_set() or gone or (candidate is not None and not candidate.fence.holding())

        self.leading = True
        self.metrics.term(leading=True)
        watched: frozenset[Kind] = frozenset()
        failures = 0
        try:
            while not ended():
                controller = await self._assembled(watched, RESTARTS.delay(failures), ends)
                if controller is None:
                    failures += 1
                    continue
                self._say_unwatched(watched := frozenset(controller.cache.watched))
                began = time.monotonic()
                crash = await self._run(controller, ends())
                if crash is None or ended():
                    return
                if isinstance(crash, NewlyServed):  # no failure: the next run watches them
                    log.info("%s served now: starting the watches again, with fresh caches, to watch them", crash)
                    continue
                failures = 0 if time.monotonic() - began > 60 else failures + 1
                log.log(_level(), "the watches failed (%s); starting them again in %.0fs, with fresh caches",
                        _short(crash), RESTARTS.delay(failures))  # fmt: skip
                log.debug("the watches failed", exc_info=crash)
                await _first(asyncio.sleep(RESTARTS.delay(failures)), *ends())
        finally:
            self.leading = False
            self.metrics.term(leading=False)

    async def _assembled(
        self, watched: frozenset[Kind], pause: float, ends: Callable[[], list[Awaitable[object]]]
    ) -> Controller | None:
        """A fresh controller; None, after ``pause``, when discovery got no answer (the API server is not back)."""
        try:
            return await asyncio.to_thread(self._assemble, watched)
        except Exception as error:
            log.log(_level(), "cannot discover the API server's kinds (%s); again in %.0fs", _short(error), pause)
            await _first(asyncio.sleep(pause), *ends())
            return None

    def _say_unwatched(self, watched: frozenset[Kind]) -> None:
        """Once per kind and process: a kind the API server does not serve is looked at, not watched."""
        for kind in sorted(set(REGISTRY.watched()) - watched - self._unwatched, key=lambda k: k.plural):
            self._unwatched.add(kind)
            missing = "its CRD is absent" if kind.custom else f"the API group {kind.group} is not enabled"
            log.warning(
                "%s.%s/%s is not served (%s), so it is not watched: a job waiting on one is looked at every %gs "
                "(a request each time) instead of woken by a change; install the CRD (or enable the API): it is "
                "watched once it is served (looked for every %gs)",
                kind.plural,
                kind.group,
                kind.version,
                missing,
                self.launch.settings.poll_interval,
                discovery.INTERVAL,
            )

    def _assemble(self, watched: frozenset[Kind]) -> Controller:
        """A fresh controller, once the API server serves the CloneJobs and MigratingVms again, and (30 s
        at most) the kinds the last run watched: a restarted server registers its CRDs a moment late."""
        wanted = {*CORE_KINDS, *watched}
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and set(self.kube.servable(tuple(wanted))) != wanted:
            time.sleep(1)
        return Controller.assemble(self.kube, self.launch.settings, self.metrics, fence=self.kube.fence)

    async def _run(self, controller: Controller, ends: list[Awaitable[object]]) -> BaseException | None:
        """One run of kopf: None when it was stopped (or caught a signal itself), else what made it fail."""
        assert self._stopping is not None
        settings = self.launch.settings
        namespaces = list(settings.namespaces)
        stop_flag, ready = asyncio.Event(), asyncio.Event()
        operator = asyncio.create_task(
            kopf.operator(
                registry=build_registry(controller, self.kube.configuration),
                settings=operator_settings(settings.namespaces),
                standalone=True,  # kopf's peering is off: the Lease (or standalone) decides who acts
                clusterwide=not namespaces,
                namespaces=namespaces,
                stop_flag=stop_flag,
                ready_flag=ready,
            ),
            name="kopf",
        )
        # kopf takes SIGTERM and SIGINT for itself at start; once it runs, they are ours again, and we stop it
        # through its stop flag (kopf's own signal path leaves its stop-flag waiter hanging for 5 s).
        signals = asyncio.create_task(_then(ready.wait(), self._started), name="own signals")
        # A run ends when kopf's does: kopf.operator raises when a watch fails for good. One more end: kopf
        # resolves the kinds once, as it starts; one the API server did not serve then is never watched.
        unserved: list[str] = []
        deaf = asyncio.create_task(self._unserved_once_ready(ready, unserved), name="served check")
        watched = frozenset(controller.cache.watched)
        newly = asyncio.create_task(discovery.served_since(self.kube, watched, discovery.INTERVAL), name="discovery")
        failed = _Failing(asyncio.get_running_loop())
        RETRIES.failing, self.controller = failed.tell, controller
        try:
            await _first(operator, deaf, newly, failed.event.wait(), *ends)
        finally:
            RETRIES.failing, self.controller = None, None
            self.serving.clear()
            signals.cancel()
            deaf.cancel()
            newly.cancel()
            stopped = stop_flag.is_set() or not operator.done()
            stop_flag.set()
            await _settle(operator, patience=1.0 if failed.error else 10.0)
            self._own_signals()  # kopf installed its own handlers for its run
        if unserved:
            return RuntimeError(f"{', '.join(unserved)} not served as the watches started")
        if newly.done() and not newly.cancelled():
            return newly.result()
        done = operator.done() and not operator.cancelled()
        crash = (operator.exception() if done else None) or failed.error
        if crash is None and not stopped:
            self._stopping.set()  # kopf ended on its own without an error: it caught SIGTERM or SIGINT
        return crash

    async def _unserved_once_ready(self, ready: asyncio.Event, unserved: list[str]) -> None:
        """Return (ending the run) when, once kopf has started, the API server does not serve the CloneJobs
        or the MigratingVms: kopf resolved its kinds a moment before, and would watch nothing of them."""
        await ready.wait()
        missing = set(CORE_KINDS) - set(await asyncio.to_thread(self.kube.servable, CORE_KINDS))
        if not missing:
            await asyncio.Event().wait()  # served: the run goes on until something else ends it
        unserved.extend(sorted(f"{k.plural}.{k.group}" for k in missing))

    def _started(self) -> None:
        self._own_signals()
        self.serving.set()

    def _own_signals(self) -> None:
        assert self._stopping is not None
        loop = asyncio.get_running_loop()
        if threading.current_thread() is not threading.main_thread():
            return
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self._signalled, sig)

    def _signalled(self, sig: signal.Signals) -> None:
        assert self._stopping is not None
        if not self._stopping.is_set():
            log.info("%s received: stopping (a reconcile under way finishes first)", sig.name)
        self._stopping.set()

    async def _serve_health(self) -> web.AppRunner | None:
        if not self.launch.liveness:
            return None
        url = urlparse(self.launch.liveness)

        async def healthz(_: web.Request) -> web.Response:
            return web.json_response({"leading": self.leading})

        app = web.Application()
        app.router.add_get(url.path or "/", healthz)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, url.hostname or "0.0.0.0", url.port or 80).start()
        return runner


class _Failing:
    """kopf's run failing, as told by its log line's exception (``outages.RetryLog.failing``), from any thread."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop, self.event = loop, asyncio.Event()
        self.error: BaseException | None = None

    def tell(self, error: BaseException) -> None:
        self.error = self.error or error
        self.loop.call_soon_threadsafe(self.event.set)


async def _settle(operator: asyncio.Task[None], patience: float) -> None:
    """Let kopf's run end; after a failed watch some of its tasks may hang in a re-authentication that
    never comes (its credentials task is gone): cancel it after ``patience`` seconds (a run that failed has
    nothing to finish), and at worst leave it behind."""
    await asyncio.wait([operator], timeout=patience)
    if not operator.done():
        operator.cancel()
        await asyncio.wait([operator], timeout=5)
    if not operator.done():
        log.debug("kopf's run did not end within 15s of its stop; left behind")


AFTERMATH = 30.0
"""Seconds after an outage was last told during which its consequences are told at INFO."""


def _level() -> int:
    """WARNING, unless an outage was just told at WARNING: one outage is one warning per 10 s, its
    aftermath (watches that fail while a restarted API server registers its CRDs) included."""
    return logging.INFO if RETRIES.told_within(AFTERMATH) else logging.WARNING


def _short(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0][:200] if text else ''}"


async def _lapsed(candidate: Candidate) -> None:
    """Return once the fence no longer holds."""
    while candidate.fence.holding():
        await asyncio.sleep(min(0.2, max(0.01, candidate.fence.remaining())))


async def _then(wait: Awaitable[object], then: Callable[[], None]) -> None:
    await wait
    then()


async def _first(*waits: Awaitable[object]) -> None:
    """Wait until the first of ``waits`` is done; the coroutines among them that are still waiting are cancelled."""
    tasks = [asyncio.ensure_future(w) for w in waits]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task, wait in zip(tasks, waits, strict=True):
            if not isinstance(wait, asyncio.Future):
                task.cancel()
