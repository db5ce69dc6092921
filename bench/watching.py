"""Following one kind in one namespace: a LIST, then a watch from its resourceVersion, reopened where it
left off whenever the server ends the stream. Every object is handed over once listed, then on each
change, in the order the API server wrote them."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import kubernetes

from bench.counting import Tally
from clonejob_operator.kube import Kind, Kube

Handler = Callable[[str, dict[str, Any]], None]
"""(event type: ADDED, MODIFIED or DELETED; the object)."""


class Follower:
    def __init__(
        self, kube: Kube, kind: Kind, namespace: str, handler: Handler, tally: Tally, field_selector: str = ""
    ) -> None:
        self.kube, self.kind, self.namespace = kube, kind, namespace
        self.handler, self.tally, self.field_selector = handler, tally, field_selector
        self.error: Exception | None = None
        """The last stream failure that was not a stop (the stream is reopened after it)."""
        self._stopping = threading.Event()
        self._watch = kubernetes.watch.Watch()
        self._thread = threading.Thread(target=self._run, name=f"follow-{kind.plural}", daemon=True)
        self._since = ""

    def start(self, replay: bool = True) -> Follower:
        """LIST now (every later change is then seen, however late the stream opens), then follow."""
        kind = self.kind
        listing: Any = self.kube.custom.list_namespaced_custom_object(
            kind.group, kind.version, self.namespace, kind.plural, field_selector=self.field_selector
        )
        self.tally[("LIST", kind.plural)] += 1
        self._since = listing["metadata"]["resourceVersion"]
        for item in listing.get("items", []) if replay else []:
            self.handler("ADDED", item)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._watch.stop()

    def _run(self) -> None:
        kind = self.kind
        while not self._stopping.is_set():
            self.tally[("WATCH", kind.plural)] += 1
            try:
                for event in self._watch.stream(
                    self.kube.custom.list_namespaced_custom_object,
                    kind.group,
                    kind.version,
                    self.namespace,
                    kind.plural,
                    field_selector=self.field_selector,
                    resource_version=self._since,
                    timeout_seconds=120,
                ):
                    body = event["object"]
                    if isinstance(body, dict) and body.get("metadata"):
                        self._since = body["metadata"]["resourceVersion"]
                        self.handler(event["type"], body)
            except Exception as error:  # a stop ends the stream with an error too
                if self._stopping.is_set():
                    return
                self.error = error
                time.sleep(0.2)
            self._watch = kubernetes.watch.Watch()
