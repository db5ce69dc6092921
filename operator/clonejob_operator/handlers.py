"""kopf registrations: thin wrappers that hand each CloneJob to the reconciler."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import kopf
import kubernetes

from clonejob_operator import GROUP, VERSION, names
from clonejob_operator.reconciler import Conflict, Outcome, Reconciler

FINISHED = ("SUCCEEDED", "FAILED", "CANCELLED")


def needs_attention(spec: kopf.Spec, status: kopf.Status, meta: kopf.Meta, **_: Any) -> bool:
    """Timers run for unfinished jobs, and for finished ones whose spec changed (to observe the generation)."""
    if status.get("state") not in FINISHED:
        return True
    return status.get("observedGeneration") != meta.get("generation")


def build_registry(reconciler: Reconciler, configuration: kubernetes.client.Configuration) -> kopf.OperatorRegistry:
    registry = kopf.OperatorRegistry()
    interval = reconciler.settings.resync_interval

    @kopf.on.login(registry=registry)
    def login(**_: Any) -> kopf.ConnectionInfo:
        """The cluster the operator was pointed at: never an ambient one."""
        return connection_info(configuration)

    @kopf.on.event(GROUP, VERSION, "clonejobs", registry=registry)
    def count(name: str, namespace: str | None, status: kopf.Status, type: str | None, **_: Any) -> None:
        """Every job, finished ones included, for the jobs-by-state gauge."""
        state = None if type == "DELETED" else status.get("state") or "STATE_UNSPECIFIED"
        reconciler.metrics.seen(namespace or "", name, state)

    def run(name: str, namespace: str | None) -> Outcome:
        try:
            return reconciler.reconcile(namespace or "", name)
        except Conflict as conflict:  # a concurrent write: decide again shortly
            raise kopf.TemporaryError(str(conflict), delay=min(interval, 1.0)) from None

    @kopf.timer(
        GROUP,
        VERSION,
        "clonejobs",
        interval=interval,
        when=needs_attention,
        registry=registry,
        errors=kopf.ErrorsMode.TEMPORARY,
        backoff=interval,
    )
    def reconcile(name: str, namespace: str | None, **_: Any) -> None:
        run(name, namespace)

    @kopf.on.field(
        GROUP,
        VERSION,
        "clonejobs",
        field="spec.cancel",
        value=True,
        registry=registry,
        errors=kopf.ErrorsMode.TEMPORARY,
        backoff=interval,
    )
    def cancel(name: str, namespace: str | None, **_: Any) -> None:
        """Act on a cancel at once, not at the next timer tick."""
        run(name, namespace)

    @kopf.on.delete(GROUP, VERSION, "clonejobs", registry=registry, errors=kopf.ErrorsMode.TEMPORARY, backoff=interval)
    def release(name: str, namespace: str | None, **_: Any) -> None:
        """A finished job lets go at once; an unfinished one is cancelled and cleaned up first."""
        outcome = run(name, namespace)
        if not outcome.finished:
            raise kopf.TemporaryError(f"cleaning up before deletion (state {outcome.state})", delay=interval)

    return registry


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


def operator_settings(namespaces: Sequence[str] = (), workers: int = 8) -> kopf.OperatorSettings:
    """kopf settings: our own finalizer and annotation prefix, watch timeouts, our own Events.

    Watching named namespaces needs no Namespace list/watch permission: with exact names (no globs)
    kopf's scanning is off, so it takes the names as given and discovers the resources once.
    """
    out = kopf.OperatorSettings()
    out.persistence.finalizer = names.FINALIZER
    out.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=names.ANNOTATION_PREFIX)
    out.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=names.ANNOTATION_PREFIX, key="last-handled-configuration"
    )
    out.watching.server_timeout = 300
    out.watching.client_timeout = 330
    out.watching.connect_timeout = 30
    out.networking.request_timeout = 60
    out.networking.connect_timeout = 30
    out.posting.enabled = False  # transitions are posted as Events by the reconciler, 403-tolerant
    out.execution.max_workers = workers
    out.scanning.disabled = bool(namespaces) and not any(set("*?!,") & set(ns) for ns in namespaces)
    logging.getLogger("kopf.objects").setLevel(logging.WARNING)  # not a line per timer tick; our own say more
    return out
