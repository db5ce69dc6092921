"""Leader election over a ``coordination.k8s.io/v1`` Lease, through the official client's ``kubernetes.leaderelection``.

The client's ``LeaderElection`` runs the protocol (acquire, renew every retry period, give up after the
renew deadline) with its ``LeaseLock``. Three small additions sit around it, none of which changes the
Lease's semantics:

- ``Fence``: whether this process may write *now*. It holds from the moment a successful renewal was
  sent until the renew deadline has passed without another. Another candidate takes the Lease only
  a full lease duration after it last saw it renewed, so a fenced writer has stopped by then
  (lease duration minus renew deadline is the margin for a write already on the wire). Every write
  checks it (``Kube.fence``), so a leader cut off from the API server stops writing on its own clock,
  not when a hung request returns.
- ``TimedLeases``: the Lease calls with a request timeout. ``LeaseLock`` sends them without one, and a
  renewal that hangs must not outlast the renew deadline.
- ``release``: on a clean shutdown the leader empties the Lease's holder (as client-go does with
  ``ReleaseOnCancel``), so that the next candidate leads at its next retry instead of a lease duration
  later.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import kubernetes
from kubernetes.client.exceptions import ApiException
from kubernetes.leaderelection import electionconfig, leaderelection
from kubernetes.leaderelection.resourcelock.leaselock import LeaseLock

log = logging.getLogger(__name__)

SERVICE_ACCOUNT_NAMESPACE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")


@dataclass(frozen=True)
class Election:
    """controller-runtime's names and defaults: lease 15 s, renew deadline 10 s, retry period 2 s."""

    namespace: str
    name: str = "clonejob-operator"
    identity: str = ""
    lease_duration: int = 15
    """Seconds. A whole number: the Lease stores ``leaseDurationSeconds``."""
    renew_deadline: float = 10.0
    retry_period: float = 2.0

    def problems(self) -> list[str]:
        """What is wrong with these timings, in the flags' words (the client's own checks would exit)."""
        out = []
        if self.retry_period < 1:
            out.append("--leader-elect-retry-period must be at least 1s")
        if self.renew_deadline <= 1.2 * self.retry_period:
            out.append("--leader-elect-renew-deadline must be longer than 1.2 x --leader-elect-retry-period")
        if self.lease_duration <= self.renew_deadline:
            out.append("--leader-elect-lease-duration must be longer than --leader-elect-renew-deadline")
        return out


def own_identity() -> str:
    """The pod's name (or the host's), with a random suffix so that a restarted pod is a new candidate."""
    return f"{os.environ.get('POD_NAME') or socket.gethostname()}_{uuid.uuid4().hex[:8]}"


def own_namespace() -> str | None:
    """Where the Lease lives when no namespace is given: the pod's own namespace."""
    if os.environ.get("POD_NAMESPACE"):
        return os.environ["POD_NAMESPACE"]
    try:
        return SERVICE_ACCOUNT_NAMESPACE.read_text().strip() or None
    except OSError:
        return None


class Fence:
    """May this process write now? Yes from a successful renewal's send until the renew deadline passes."""

    def __init__(self, renew_deadline: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.renew_deadline = renew_deadline
        self.clock = clock
        self._renewed_at: float | None = None

    def renewed(self, sent_at: float) -> None:
        self._renewed_at = sent_at

    def drop(self) -> None:
        self._renewed_at = None

    def holding(self) -> bool:
        at = self._renewed_at
        return at is not None and self.clock() - at < self.renew_deadline

    def remaining(self) -> float:
        at = self._renewed_at
        return 0.0 if at is None else max(0.0, self.renew_deadline - (self.clock() - at))


class TimedLeases:
    """The three Lease calls that ``LeaseLock`` makes, each with a request timeout."""

    def __init__(self, api_client: kubernetes.client.ApiClient, timeout: float) -> None:
        self._api = kubernetes.client.CoordinationV1Api(api_client)
        self._timeout = (min(timeout, 5.0), timeout)

    def read_namespaced_lease(self, name: str, namespace: str) -> Any:
        return self._api.read_namespaced_lease(name, namespace, _request_timeout=self._timeout)

    def create_namespaced_lease(self, namespace: str, body: Any) -> Any:
        return self._api.create_namespaced_lease(namespace, body, _request_timeout=self._timeout)

    def replace_namespaced_lease(self, name: str, namespace: str, body: Any) -> Any:
        return self._api.replace_namespaced_lease(
            name=name, namespace=namespace, body=body, _request_timeout=self._timeout
        )


class _Unread:
    """What ``get`` answers when it has no Lease to show: not a 404, so the election neither creates nor renews."""

    body = ""

    def __init__(self, reason: str) -> None:
        self.reason = reason


class FencedLock:
    """``LeaseLock``, reporting every successful write of the Lease to the fence (timed from before it was sent).

    Closing it makes every later call fail, which stops the client's renew loop: the client has no stop.
    """

    def __init__(self, lock: LeaseLock, fence: Fence) -> None:
        self._lock = lock
        self._fence = fence
        self.name = lock.name
        self.namespace = lock.namespace
        self.identity = lock.identity
        self.closed = threading.Event()
        self.holder: str | None = None
        """Who held the Lease when this candidate last read it."""

    def get(self, name: str, namespace: str) -> tuple[bool, Any]:
        if self.closed.is_set():
            return False, _Unread("closed: this process is stopping")
        try:
            found, record = self._lock.get(name, namespace)  # type: ignore[no-untyped-call]
        except Exception as error:  # no answer (refused, timed out): the client expects only ApiException
            return False, _Unread(f"{type(error).__name__}: {error}")
        holder = getattr(record, "holder_identity", None) if found else None
        if found and holder != self.holder:
            self.holder = holder
            if holder and holder != self.identity:
                log.info("the Lease %s/%s is held by %s", namespace, name, holder)
        return found, record

    def create(self, name: str, namespace: str, election_record: Any) -> bool:
        return self._written(
            lambda: self._lock.create(  # type: ignore[no-untyped-call]
                name=name, namespace=namespace, election_record=election_record
            )
        )

    def update(self, name: str, namespace: str, updated_record: Any) -> bool:
        return self._written(lambda: self._lock.update(name, namespace, updated_record))  # type: ignore[no-untyped-call]

    def _written(self, write: Callable[[], bool]) -> bool:
        if self.closed.is_set():
            return False
        sent_at = self._fence.clock()
        try:
            done = write()
        except Exception as error:  # no answer: a failed attempt, as the client counts a refusal
            log.debug("writing the Lease got no answer: %s", error)
            return False
        if done and not self.closed.is_set():
            self._fence.renewed(sent_at)
        return done


class Candidate:
    """One process's candidacy. ``campaign`` blocks for one term: until it leads, then until it stops leading.

    Each campaign has a lock of its own. ``resign`` closes it, which ends that campaign's renewals (the
    client has no stop); the next campaign starts afresh.
    """

    def __init__(self, api_client: kubernetes.client.ApiClient, election: Election) -> None:
        self.election = election
        self.fence = Fence(election.renew_deadline)
        self._api_client = api_client
        self._leases = kubernetes.client.CoordinationV1Api(api_client)
        self._lock: FencedLock | None = None

    @property
    def identity(self) -> str:
        return self.election.identity

    def campaign(self, started: Callable[[], None], stopped: Callable[[], None]) -> None:
        """Wait to lead, call ``started``; renew until the renew deadline passes without a renewal; ``stopped``."""
        e = self.election
        lease_lock = LeaseLock(e.name, e.namespace, e.identity)  # type: ignore[no-untyped-call]
        leases = TimedLeases(self._api_client, timeout=max(1.0, e.retry_period))
        lease_lock.api_instance = leases  # type: ignore[assignment]
        lock = self._lock = FencedLock(lease_lock, self.fence)
        config = electionconfig.Config(  # type: ignore[no-untyped-call]
            lock,
            lease_duration=e.lease_duration,
            renew_deadline=e.renew_deadline,
            retry_period=e.retry_period,
            onstarted_leading=started,
            onstopped_leading=lambda: self._stopped(lock, stopped),
        )
        leaderelection.LeaderElection(config).run()  # type: ignore[no-untyped-call]

    def _stopped(self, lock: FencedLock, stopped: Callable[[], None]) -> None:
        if self._lock is lock:
            self.fence.drop()
        stopped()

    def resign(self) -> None:
        """End the current campaign: no more renewals, no more writes (the Lease is left to expire)."""
        if self._lock is not None:
            self._lock.closed.set()
        self.fence.drop()

    def release(self) -> None:
        """Stop renewing and, if this process still holds the Lease, hand it back at once."""
        held = self.fence.holding()
        self.resign()
        if not held:
            return
        e = self.election
        try:
            lease = self._leases.read_namespaced_lease(e.name, e.namespace, _request_timeout=(2, 5))
            if lease.spec is None or lease.spec.holder_identity != e.identity:
                return
            now = datetime.now(UTC)
            lease.spec.holder_identity = None
            lease.spec.lease_duration_seconds = 1
            lease.spec.acquire_time = now
            lease.spec.renew_time = now
            self._leases.replace_namespaced_lease(e.name, e.namespace, lease, _request_timeout=(2, 5))
            log.info("released the Lease %s/%s", e.namespace, e.name)
        except (ApiException, OSError) as error:  # it expires on its own a lease duration later
            log.info("could not release the Lease %s/%s (%s); it expires on its own", e.namespace, e.name, error)
