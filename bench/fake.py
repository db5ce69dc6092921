"""A fake infrastructure: through watches, it marks DataVolumes Succeeded and VirtualMachines ready
the moment the operator creates them, as CDI and KubeVirt would on an infinitely fast cluster."""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import kubernetes

from bench.counting import CountingKube
from clonejob_operator import names
from clonejob_operator.kube import DATA_VOLUME, VIRTUAL_MACHINE, Kind

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
        self._stopping = threading.Event()
        self._watches: list[kubernetes.watch.Watch] = []
        self._threads = [
            threading.Thread(target=self._watch, args=(kind,), name=f"fake-{kind.plural}", daemon=True)
            for kind in READY
        ]
        self._lock = threading.Lock()

    def __enter__(self) -> FakeInfrastructure:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stopping.set()
        for watch in self._watches:
            watch.stop()
        self._pool.shutdown(wait=True)

    def _watch(self, kind: Kind) -> None:
        listing: Any = self.kube.custom.list_namespaced_custom_object(
            kind.group, kind.version, self.namespace, kind.plural
        )
        self.kube.count("LIST", kind.plural)
        since = listing["metadata"]["resourceVersion"]
        for item in listing.get("items", []):
            self._seen(kind, item)
        while not self._stopping.is_set():
            watch = kubernetes.watch.Watch()
            self._watches.append(watch)
            self.kube.count("WATCH", kind.plural)
            try:
                for event in watch.stream(
                    self.kube.custom.list_namespaced_custom_object,
                    kind.group,
                    kind.version,
                    self.namespace,
                    kind.plural,
                    resource_version=since,
                    timeout_seconds=120,
                ):
                    body = event["object"]
                    if isinstance(body, dict) and body.get("metadata"):
                        since = body["metadata"]["resourceVersion"]
                        if event["type"] in ("ADDED", "MODIFIED"):
                            self._seen(kind, body)
            except Exception as error:  # the stream ends when stopped; anything else is reopened
                if self._stopping.is_set():
                    return
                log.warning("fake watch of %s ended: %s; reopening", kind.plural, error)
                time.sleep(0.5)

    def _seen(self, kind: Kind, body: dict[str, Any]) -> None:
        meta = body["metadata"]
        if self.paused.is_set() or meta.get("deletionTimestamp"):
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
