"""A fake infrastructure: through watches, it marks DataVolumes Succeeded and VirtualMachines ready
the moment the operator creates them, as CDI and KubeVirt would on an infinitely fast cluster."""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any

from bench.counting import CountingKube
from bench.watching import Follower
from clonejob_operator import names
from clonejob_operator.kube import Kind
from clonejob_operator.targets.kubevirt.kinds import DATA_VOLUME, VIRTUAL_MACHINE

log = logging.getLogger(__name__)
READY: dict[Kind, dict[str, Any]] = {
    DATA_VOLUME: {"phase": "Succeeded", "progress": "100.0%"},
    VIRTUAL_MACHINE: {"created": True, "ready": True, "printableStatus": "Running"},
}


class FakeInfrastructure:
    def __init__(self, kube: CountingKube, namespace: str, workers: int = 4) -> None:
        self.kube = kube
        self.namespace = namespace
        self.ready_at: dict[tuple[str, str], float] = {}
        """(plural, name) -> when the fake's status patch returned."""
        self.paused = threading.Event()
        """While set, products are left as created (jobs wait on them)."""
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="fake")
        self._followers = [Follower(kube, kind, namespace, partial(self._seen, kind), kube.tally) for kind in READY]
        self._lock = threading.Lock()

    def __enter__(self) -> FakeInfrastructure:
        for follower in self._followers:
            follower.start()
        return self

    def __exit__(self, *_: object) -> None:
        for follower in self._followers:
            follower.stop()
        self._pool.shutdown(wait=True)

    def _seen(self, kind: Kind, type_: str, body: dict[str, Any]) -> None:
        """Mark a product of a job ready (once), unless paused; deleted and foreign objects are left alone."""
        meta = body["metadata"]
        if type_ == "DELETED" or self.paused.is_set() or meta.get("deletionTimestamp"):
            return
        if names.LABEL_JOB_UID not in (meta.get("labels") or {}):
            return
        status = body.get("status") or {}
        wanted = READY[kind]
        if all(status.get(key) == value for key, value in wanted.items()):
            return
        with self._lock:
            if (kind.plural, meta["name"]) in self.ready_at:
                return
            self.ready_at[(kind.plural, meta["name"])] = float("inf")  # being marked
        self._pool.submit(self._mark, kind, meta["name"])

    def _mark(self, kind: Kind, name: str) -> None:
        try:
            self.kube.patch_status(kind, self.namespace, name, {"status": READY[kind]})
        except Exception as error:
            log.warning("fake could not mark %s %s ready: %s", kind.kind, name, error)
            with self._lock:
                self.ready_at.pop((kind.plural, name), None)
            return
        with self._lock:
            self.ready_at[(kind.plural, name)] = time.monotonic()
