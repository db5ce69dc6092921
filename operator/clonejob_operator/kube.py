"""Kubernetes access: one small client over the official library, with retries on 429 and 5xx."""

from __future__ import annotations

import copy
import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import kubernetes
import urllib3
import yaml
from kubernetes.client.exceptions import ApiException

from clonejob_operator import GROUP, VERSION
from clonejob_operator.rest import JSON, MERGE_PATCH, TIMEOUT, Paced, Rest, path

log = logging.getLogger(__name__)
Body = dict[str, Any]


@dataclass(frozen=True)
class Kind:
    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool = True

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def custom(self) -> bool:
        """Whether a CRD serves it (its group has a dot), rather than an API group built into the server."""
        return "." in self.group


CLONE_JOB = Kind(GROUP, VERSION, "clonejobs", "CloneJob")
MIGRATING_VM = Kind(GROUP, VERSION, "migratingvms", "MigratingVm")
TARGET_PROJECT = Kind(GROUP, VERSION, "targetprojects", "TargetProject")
ADAPTATION_PROFILE = Kind(GROUP, VERSION, "adaptationprofiles", "AdaptationProfile", namespaced=False)
VOLUME_SNAPSHOT = Kind("snapshot.storage.k8s.io", "v1", "volumesnapshots", "VolumeSnapshot")
"""The snapshot controller's: what the KubeVirt target restores from, and what the VolSync feed holds."""
OWN_WATCHED = (CLONE_JOB, MIGRATING_VM)
"""The operator's own kinds it watches; the targets add theirs (``catalog.REGISTRY.watched``)."""


@dataclass(frozen=True)
class Secret:
    """What the operator reads of a core/v1 Secret: its labels (an opt-in, say) and its data (base64 values)."""

    labels: dict[str, str]
    data: dict[str, str]


KUBECONFIG_ERRORS = (kubernetes.config.ConfigException, OSError, yaml.YAMLError)
"""What loading a kubeconfig raises when there is none, or it cannot be read."""
KUBECONFIG_HELP = "a kubeconfig file (default: $KUBECONFIG, then ~/.kube/config)"
"""How every command finds its kubeconfig (kubectl's own order)."""


def kubeconfig_problem(path: str | None, error: Exception) -> str:
    """Why no client could be made from a kubeconfig, naming where it was looked for, in one line."""
    named = path or os.environ.get("KUBECONFIG")
    default = os.path.expanduser("~/.kube/config")
    if not named and not os.path.exists(default):
        return "no kubeconfig: pass --kubeconfig, set $KUBECONFIG, or create ~/.kube/config"
    origin = "--kubeconfig" if path else "$KUBECONFIG" if named else "the default"
    if named and not any(os.path.exists(part) for part in named.split(os.pathsep) if part):
        return f"the kubeconfig {named} ({origin}) does not exist"
    return f"cannot load the kubeconfig {named or default} ({origin}): {' '.join(str(error).split())}"


def status_of(error: ApiException) -> int:
    return int(error.status or 0)


class KindNotServed(Exception):
    """The API server does not serve a kind at all (its CRD or API group is missing): a 404 with no Status body."""

    def __init__(self, kind: Kind) -> None:
        group = kind.group or "core"
        missing = (
            "its CRD is not installed; install it"
            if kind.custom
            else f"the API group {group}/{kind.version} is not enabled; enable it"
        )
        super().__init__(
            f"the API server does not serve {kind.plural}.{group}/{kind.version} ({kind.kind}): "
            f"{missing}, then create the CloneJob again"
        )
        self.kind = kind


class NotLeading(Exception):
    """A write this process may not send: it runs with leader election and does not hold the Lease now."""

    def __init__(self) -> None:
        super().__init__("this replica no longer holds the leader Lease; the leader carries on")


def _always() -> bool:
    return True


def not_served(error: ApiException) -> bool:
    """A 404 for the path itself (``404 page not found``), not for one object (which comes with a Status)."""
    if status_of(error) != 404:
        return False
    try:
        body = json.loads(error.body or "")
    except ValueError:
        return True
    return not (isinstance(body, dict) and body.get("kind") == "Status")


STRICT = {"fieldValidation": "Strict"}
"""The query of a create that the API server must take whole or refuse (never prune)."""
NO_RETRIES = urllib3.util.Retry(total=0, respect_retry_after_header=False, raise_on_status=False)
"""urllib3's retries off (by default it sleeps out a 429's or 503's Retry-After in the calling thread)."""


def busy(error: ApiException) -> bool:
    """An answer that says "not now" (429, 5xx): worth another try later, unlike a refusal."""
    code = status_of(error)
    return code == 429 or code >= 500


def retry_after(error: ApiException) -> float | None:
    """The seconds a server's Retry-After header asks for (30 at most), if it sent one."""
    header = (error.headers or {}).get("Retry-After") if error.headers else None
    try:
        return min(float(header), 30.0) if header else None
    except ValueError:
        return None


class KubeClient(Protocol):
    """What the reconciler needs of a cluster. ``Kube`` speaks to an API server; ``CachedKube`` puts the
    watch caches in front of one; tests have an in-memory fake."""

    def get(self, kind: Kind, namespace: str, name: str) -> Body | None: ...

    def refresh(self, kind: Kind, namespace: str, name: str) -> Body | None:
        """The object as the API server has it now, whatever cache stands in front."""

    def fresh_list(self, kind: Kind, namespace: str | None, selector: str | None = None) -> list[Body]:
        """``list`` from the API server itself."""

    def list(self, kind: Kind, namespace: str | None, selector: str | None = None) -> list[Body]: ...

    def create(self, kind: Kind, namespace: str, body: Body) -> Body: ...

    def delete(
        self, kind: Kind, namespace: str, name: str, uid: str | None = None, resource_version: str | None = None
    ) -> None: ...

    def patch(self, kind: Kind, namespace: str, name: str, patch: Body) -> Body: ...

    def patch_status(self, kind: Kind, namespace: str, name: str, patch: Body) -> Body: ...

    def read_secret(self, namespace: str, name: str) -> Secret:
        """A Secret's labels and ``data`` (base64 values)."""

    def post_event(self, namespace: str, body: Body) -> None:
        """Create one core/v1 Event, once (no retry)."""


def confirmed(kube: KubeClient, kind: Kind, namespace: str, name: str) -> Body | None:
    """An object as ``kube`` has it, a miss confirmed with the API server: nothing but the CloneJobs' is decided
    on an absence from a cache, which may still be filling (right after a start) or behind a moment."""
    return kube.get(kind, namespace, name) or kube.refresh(kind, namespace, name)


class Kube:
    """Typed-enough access to custom resources (and batch Jobs, events) in one cluster."""

    def __init__(self, configuration: kubernetes.client.Configuration, patient: bool = True) -> None:
        """``patient=False`` is the operator's client: every request is sent once, and an answer that asks to
        be left alone a moment (a 429 or 503 with Retry-After) is raised like any other, for the work queue's
        backoff; nothing sleeps in a worker. A command line or a test keeps the client library's own patience
        with such answers (a few tries, each after the Retry-After)."""
        if not patient:  # a copy: another client made from the same configuration keeps its own retries
            configuration = copy.deepcopy(configuration)
            configuration.retries = NO_RETRIES
        # Enough connections for every reconcile worker and the Event poster at once.
        configuration.connection_pool_maxsize = max(configuration.connection_pool_maxsize or 0, 32)
        Paced.install(configuration)
        self.configuration = configuration
        self.api_client = kubernetes.client.ApiClient(configuration)
        self.custom = kubernetes.client.CustomObjectsApi(self.api_client)
        self.core = kubernetes.client.CoreV1Api(self.api_client)
        self.rest = Rest(self.api_client)
        self.fence: Callable[[], bool] = _always
        """Whether a write may be sent now (leader election sets it; every attempt of a write asks)."""

    def share(self, other: Kube) -> None:
        """Speak through ``other``'s connection and fence: for wrappers that count or intercept calls."""
        self.configuration = other.configuration
        self.api_client = other.api_client
        self.custom = other.custom
        self.core = other.core
        self.rest = other.rest
        self.fence = other.fence

    @classmethod
    def from_kubeconfig(cls, path: str | None = None, context: str | None = None) -> Kube:
        configuration = kubernetes.client.Configuration()
        kubernetes.config.load_kube_config(  # type: ignore[no-untyped-call]
            config_file=path, context=context, client_configuration=configuration
        )
        return cls(configuration)

    @classmethod
    def in_cluster(cls) -> Kube:
        configuration = kubernetes.client.Configuration()
        kubernetes.config.load_incluster_config(  # type: ignore[no-untyped-call]
            client_configuration=configuration
        )
        return cls(configuration)

    def call(self, fn: Callable[..., Any], *args: Any, write: bool = False, **kwargs: Any) -> Any:
        """Call the API once. Nothing here retries or sleeps: a reconcile that meets an error hands its key
        back to the work queue, which owns the backoff (``workqueue.Backoff``).

        A ``write`` asks the fence first, so that no write outlives the leadership.
        """
        if write:
            if not self.fence():
                raise NotLeading()
            if log.isEnabledFor(logging.DEBUG):
                log.debug("sending %s %s", fn.__name__, "/".join(a for a in args if isinstance(a, str)))
        return fn(*args, _request_timeout=TIMEOUT, **kwargs)

    def served(self, kind: Kind) -> bool:
        """Whether the API server serves ``kind`` now (its CRD is established)."""
        try:
            listing = self.call(self.custom.get_api_resources, kind.group, kind.version)
        except ApiException as error:
            if status_of(error) == 404:
                return False
            raise
        return any(resource.name == kind.plural for resource in listing.resources or [])

    def servable(self, kinds: tuple[Kind, ...]) -> tuple[Kind, ...]:
        """Those of ``kinds`` that the API server serves and lets us discover (a refusal counts as not served;
        a busy server's answer is raised)."""
        out = []
        for kind in kinds:
            try:
                if self.served(kind):
                    out.append(kind)
            except ApiException as error:
                if busy(error):  # not an answer about the kind: the caller tries again later
                    raise
                log.warning("cannot discover %s.%s (API answered %s)", kind.plural, kind.group, error.status)
        return tuple(out)

    def await_served(self, kinds: list[Kind], timeout: float, poll: float = 2.0) -> None:
        """Wait until every kind is served; TimeoutError naming the missing ones after ``timeout`` seconds. A
        busy or absent server counts as not serving them yet."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                missing = [kind for kind in kinds if not self.served(kind)]
            except (ApiException, OSError, urllib3.exceptions.HTTPError) as error:
                if isinstance(error, ApiException) and not busy(error):
                    raise
                missing = list(kinds)
            if not missing:
                return
            if time.monotonic() >= deadline:
                names = ", ".join(f"{k.plural}.{k.group}/{k.version}" for k in missing)
                first = "apply the CRDs first (kubectl apply --server-side -f crds/)"
                raise TimeoutError(f"the API server does not serve {names}: {first}")
            log.info("waiting for %s to be served", ", ".join(k.plural for k in missing))
            time.sleep(poll)

    # Namespaced objects of any group (batch/v1 Jobs included: the custom-objects paths fit every group).
    def get(self, kind: Kind, namespace: str, name: str) -> Body | None:
        """The object (a cluster-scoped kind ignores ``namespace``), or None when it does not exist."""
        try:
            found: Body = self.send("GET", path(kind, namespace, name))
            return found
        except ApiException as error:
            if not_served(error):
                raise KindNotServed(kind) from None
            if status_of(error) == 404:
                return None
            raise

    def refresh(self, kind: Kind, namespace: str, name: str) -> Body | None:
        """The object as the API server has it now (a cache in front of this client is bypassed)."""
        return Kube.get(self, kind, namespace, name)

    def fresh_list(self, kind: Kind, namespace: str | None, selector: str | None = None) -> list[Body]:
        """``list`` from the API server itself, whatever cache stands in front of this client."""
        try:
            result = self.send("GET", path(kind, namespace), query={"labelSelector": selector} if selector else None)
        except ApiException as error:
            if status_of(error) == 404:
                return []
            raise
        return list(result.get("items", []))

    def list(self, kind: Kind, namespace: str | None, selector: str | None = None) -> list[Body]:
        """Objects of ``kind`` in ``namespace`` (all namespaces for None); [] when the kind is not served."""
        return Kube.fresh_list(self, kind, namespace, selector)

    def create(self, kind: Kind, namespace: str, body: Body) -> Body:
        """Create ``body`` exactly as it is, or not at all; the created object (read back when the answer came
        without a body).

        Sent with strict field validation: a field the cluster's schema for the kind does not declare (an
        older CRD, a field renamed upstream) is refused (400, "strict decoding error") rather than silently
        dropped, which would store a different object from the one meant.
        """
        try:
            created: Body | None = self.send("POST", path(kind, namespace), body, query=STRICT, write=True)
        except ApiException as error:
            if not_served(error):
                raise KindNotServed(kind) from None
            raise
        if created:
            return created
        again = self.get(kind, namespace, body["metadata"]["name"])
        if again is None:
            raise ApiException(status=404, reason=f"{kind.kind} {body['metadata']['name']} vanished after creation")
        return again

    def delete(
        self, kind: Kind, namespace: str, name: str, uid: str | None = None, resource_version: str | None = None
    ) -> None:
        """Delete in the background (dependents too); gone already is fine; ``uid`` guards against a namesake,
        ``resource_version`` against a change since it was read (a 409 then)."""
        options: Body = {"propagationPolicy": "Background"}
        preconditions = {"uid": uid, "resourceVersion": resource_version}
        if uid or resource_version:
            options["preconditions"] = {k: v for k, v in preconditions.items() if v}
        try:
            self.send("DELETE", path(kind, namespace, name), options, write=True)
        except ApiException as error:
            if status_of(error) != 404:
                raise

    def patch(self, kind: Kind, namespace: str, name: str, patch: Body) -> Body:
        """A JSON merge patch of the object (not its status)."""
        patched: Body = self.send("PATCH", path(kind, namespace, name), patch, MERGE_PATCH, write=True)
        return patched

    def patch_status(self, kind: Kind, namespace: str, name: str, patch: Body) -> Body:
        patched: Body = self.send("PATCH", path(kind, namespace, name, "status"), patch, MERGE_PATCH, write=True)
        return patched

    def send(
        self,
        method: str,
        where: str,
        body: Body | None = None,
        content_type: str = JSON,
        query: dict[str, str] | None = None,
        write: bool = False,
    ) -> Any:
        """One of the most frequent requests (``rest``): sent once, and a write asks the fence first, as ``call``."""
        if write:
            if not self.fence():
                raise NotLeading()
            if log.isEnabledFor(logging.DEBUG):
                log.debug("sending %s %s", method, where)
        return self.rest.send(method, where, body, content_type, query)

    def namespace_exists(self, name: str) -> bool | None:
        """Whether namespace ``name`` exists; None when this identity may not read namespaces."""
        try:
            self.call(self.core.read_namespace, name)
        except ApiException as error:
            if status_of(error) == 404:
                return False
            if status_of(error) == 403:
                return None
            raise
        return True

    def read_secret(self, namespace: str, name: str) -> Secret:
        secret = self.call(self.core.read_namespaced_secret, name, namespace)
        return Secret(labels=dict(secret.metadata.labels or {}), data=dict(secret.data or {}))

    def create_secret(self, namespace: str, body: Body) -> None:
        self.call(self.core.create_namespaced_secret, namespace, body, write=True)

    def post_event(self, namespace: str, body: Body) -> None:
        self.call(self.core.create_namespaced_event, namespace, body, write=True)
