"""A Kube whose writes act at a chosen moment, on the operator's own thread: just before a product's
create, just after it, or just before a delete. The operator is held at that moment while the test acts."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Literal

from clonejob_operator.kube import Body, Kind, Kube

Moment = Literal["before create", "after create", "before delete"]


class HookedKube(Kube):
    def __init__(self, kube: Kube) -> None:
        self.share(kube)
        self.fired = threading.Event()
        """Set once the armed action has run (it runs once)."""
        self._armed: tuple[Moment, Kind, Callable[[], None]] | None = None
        self._lock = threading.Lock()

    def arm(self, moment: Moment, kind: Kind, action: Callable[[], None]) -> None:
        self._armed = (moment, kind, action)

    def _at(self, moment: Moment, kind: Kind) -> None:
        with self._lock:
            armed = self._armed
            if armed is None or armed[:2] != (moment, kind) or self.fired.is_set():
                return
            self.fired.set()
        armed[2]()

    def create(self, kind: Kind, namespace: str, body: Body) -> Body:
        self._at("before create", kind)
        created = super().create(kind, namespace, body)
        self._at("after create", kind)
        return created

    def delete(
        self, kind: Kind, namespace: str, name: str, uid: str | None = None, resource_version: str | None = None
    ) -> None:
        self._at("before delete", kind)
        super().delete(kind, namespace, name, uid, resource_version)
