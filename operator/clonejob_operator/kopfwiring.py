"""kopf registrations: thin wrappers that hand each CloneJob to the reconciler."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import kopf
import kubernetes

from clonejob_operator import names
from clonejob_operator.controller import Controller
from clonejob_operator.kube import (
    CLONE_JOB,
    Kind,
)
from clonejob_operator.outages import KOPF_BACKOFF
from clonejob_operator.targets.catalog import REGISTRY

PRODUCT = {names.LABEL_JOB_UID: kopf.PRESENT}
"""Products are watched only when they carry a job's uid label: the operator never looks at anything else."""
LIST_CHUNK = 50
"""Objects per page of kopf's listings: the largest CloneJobs the schema admits are 240 KiB of JSON each, and a
listing of thousands of them in one answer would hold them all in memory at once (at every start)."""
BARRIER = (CLONE_JOB,)
"""The kinds listed whole before the first decision: admission counts CloneJobs from memory (the queue,
--max-active), so it must know them all. Nothing else is decided on an absence from a cache: a miss of
a MigratingVm, a VolumeSnapshot, a TargetProject or a product is confirmed with the API server (a
create that finds its product there adopts it), and cleanup reads the products from the API server."""


def build_registry(controller: Controller, configuration: kubernetes.client.Configuration) -> kopf.OperatorRegistry:
    """Watch the kinds the controller caches into the controller's caches; no handler here writes anything through kopf.

    The CloneJobs have an index handler that fills their cache. kopf runs no event handler until every
    indexed kind has finished its initial listing, and the workers start on the first event: so
    admission never counts from a partial list. No other decision rests on an absence from a cache
    (see ``BARRIER``).
    Event handlers keep every cache and queue the jobs a change may move. With no change handlers,
    timers or daemons, kopf itself adds no finalizer, annotation or progress record to any object.
    """
    registry = kopf.OperatorRegistry()

    logins = Logins()

    @kopf.on.login(registry=registry)
    def login(**_: Any) -> kopf.ConnectionInfo:
        """The cluster the operator was pointed at: never an ambient one."""
        return logins.fresh(connection_info(configuration))

    @kopf.on.startup(registry=registry)
    async def start(**_: Any) -> None:
        controller.start()

    @kopf.on.cleanup(registry=registry)
    async def stop(**_: Any) -> None:
        await asyncio.to_thread(controller.stop)

    for kind in sorted(controller.cache.watched, key=lambda k: k.plural):
        _watch(registry, controller, kind)
    return registry


def _watch(registry: kopf.OperatorRegistry, controller: Controller, kind: Kind) -> None:
    labels = PRODUCT if kind in REGISTRY.products() else None

    if kind in BARRIER:
        # The listing barrier: kopf lists every indexed kind whole before any event handler runs. Once the
        # caches are complete (the first event), the event handler alone keeps them: the index is skipped.
        @kopf.index(
            kind.group,
            kind.version,
            kind.plural,
            labels=labels,
            when=lambda **_: not controller.synced.is_set(),
            registry=registry,
            id=f"cache/{kind.plural}",
        )
        async def index(body: kopf.Body, **_: Any) -> None:
            controller.indexed(kind, dict(body))  # nothing is kept in kopf's index: the cache is ours

    @kopf.on.event(kind.group, kind.version, kind.plural, labels=labels, registry=registry, id=f"watch/{kind.plural}")
    async def event(event: kopf.RawEvent, **_: Any) -> None:
        # The event's own object, not kopf's Body view over it: copying that view costs a lookup per field.
        # Never changed here: the cache keeps its own encoding of it.
        controller.observed(kind, dict(event["object"]), deleted=event["type"] == "DELETED")


class NoDiffBase(kopf.DiffBaseStorage):
    """No diff-base: with only index and event handlers nothing compares old and new essences, and
    building them deep-copies every object on every watch event."""

    def build(self, *, body: kopf.Body, extra_fields: Any = None) -> kopf.BodyEssence:
        return kopf.BodyEssence()

    def fetch(self, *, body: kopf.Body) -> kopf.BodyEssence | None:
        return None

    def store(self, *, body: kopf.Body, patch: kopf.Patch, essence: kopf.BodyEssence) -> None:
        return None


class Logins:
    """Each login's credentials told apart from the last ones (by ``priority``, which only orders several).

    kopf discards credentials when a request meets a 401 or a closed session, and refuses to take the very
    same ones back (it guards against a loop with credentials that are really wrong). An API server that is
    restarting may answer so for a moment: the operator's credentials, read again from its kubeconfig or its
    pod's token, are then still good, yet kopf would wait for other ones for ever, and no watch would resume.
    Told apart, they are taken back. Logins come a second apart at most (kopf runs this handler in its own
    thread pool, never in a reconcile worker), so credentials that are really wrong are tried no faster.
    """

    def __init__(
        self, clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep
    ) -> None:
        self.clock, self.sleep = clock, sleep
        self._count = 0
        self._last: float | None = None
        self._lock = threading.Lock()

    def fresh(self, info: kopf.ConnectionInfo) -> kopf.ConnectionInfo:
        with self._lock:
            if self._last is not None and self.clock() - self._last < PACE:
                self.sleep(PACE - (self.clock() - self._last))
            self._count += 1
            self._last = self.clock()
            return dataclasses.replace(info, priority=self._count)


PACE = 1.0
"""Seconds between two logins at least."""


def connection_info(configuration: kubernetes.client.Configuration) -> kopf.ConnectionInfo:
    header = configuration.get_api_key_with_prefix("BearerToken") or configuration.get_api_key_with_prefix(
        "authorization"
    )
    scheme, _, token = (header or "").partition(" ")
    if not token:
        scheme, token = "Bearer", scheme
    return kopf.ConnectionInfo(
        server=configuration.host,
        ca_path=configuration.ssl_ca_cert,
        insecure=not configuration.verify_ssl,
        username=configuration.username or None,
        password=configuration.password or None,
        scheme=scheme if token else None,
        token=token or None,
        certificate_path=configuration.cert_file,
        private_key_path=configuration.key_file,
    )


def operator_settings(namespaces: Sequence[str] = (), workers: int = 2) -> kopf.OperatorSettings:
    """kopf settings: our own finalizer and annotation prefix, watch timeouts, our own Events.

    Watching named namespaces needs no Namespace list/watch permission: with exact names (no globs)
    kopf's scanning is off, so it takes the names as given and discovers the resources once.
    """
    out = kopf.OperatorSettings()
    # The operator adds and removes names.FINALIZER itself. kopf removes its own finalizer from objects
    # that no handler needs it for, so kopf's must be another name (which it then never adds).
    out.persistence.finalizer = f"{names.FINALIZER}-kopf"
    out.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=names.ANNOTATION_PREFIX)
    out.persistence.diffbase_storage = NoDiffBase()
    out.watching.chunk_size = LIST_CHUNK  # a listing is read in pages: it never holds every object at once
    out.watching.server_timeout = 300
    out.watching.client_timeout = 330
    out.watching.connect_timeout = 30
    out.networking.request_timeout = 60
    out.networking.error_backoffs = KOPF_BACKOFF  # retried as long as an outage lasts; see outages.py
    out.networking.connect_timeout = 30
    out.posting.enabled = False  # transitions are posted as Events by the reconciler, 403-tolerant
    # kopf schedules a SIGKILL of the process ten minutes after a run that ended without its stop flag (a
    # watch that failed for good); the term ends such a run and starts another, so that is switched off.
    out.process.ultimate_exiting_timeout = None
    out.queueing.exit_timeout = 0.5  # the event handlers keep memory only: a failed run's next one lists afresh
    out.execution.max_workers = workers  # only the login handler is synchronous; reconciles have their own pool
    out.scanning.disabled = bool(namespaces) and not any(set("*?!,") & set(ns) for ns in namespaces)
    logging.getLogger("kopf.objects").setLevel(logging.WARNING)  # not a line per timer tick; our own say more
    return out
