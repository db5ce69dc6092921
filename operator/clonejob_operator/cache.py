"""Watch caches: the objects the operator reads, kept by watch events and by its own writes.

``Cache`` stores bodies by kind, namespace and name; ``CachedKube`` is the client the reconciler
uses: reads of watched kinds come from the cache (no GET, no LIST), every write is also stored, so the
next decision sees it before the watch brings it back. An event older than what is stored (by
resourceVersion) never replaces it, and a deleted object is not brought back by a late write.
Stored bodies are shared: callers read them and never change them.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from clonejob_operator import names
from clonejob_operator.kube import CLONE_JOB, MIGRATING_VM, TARGET_PROJECT, Body, Kind, KubeClient, Secret
from clonejob_operator.roster import Doubt, Key, Roster

_TOMBSTONES = 4096


def _version(body: Body) -> int | None:
    """The resourceVersion as a number where it is one (etcd's revisions are); None otherwise."""
    value = (body.get("metadata") or {}).get("resourceVersion")
    return int(value) if isinstance(value, str) and value.isdigit() else None


OWN = (CLONE_JOB, MIGRATING_VM, TARGET_PROJECT)
"""Kinds whose labels nothing here reads (products' labels say whose they are, and are kept)."""
READ_OF_MIGRATING_VM = ("lastSync", "recentCloneJobs")
"""All of a MigratingVm's status that the operator reads (its spec is read whole, but for words for people)."""


def _slim(kind: Kind, body: Body) -> Body:
    """Only what the operator reads: never managedFields or others' annotations (a client-side apply's copy of the
    whole object, say), nor the labels of its own kinds, nor the parts of a MigratingVm that people read. A
    CloneJob's status is kept whole (its seal covers all of it), and so is a fed MigratingVm's."""
    meta = body.get("metadata") or {}
    dropped = ("managedFields", "annotations", "labels") if kind in OWN else ("managedFields", "annotations")
    out = {**body, "metadata": {k: v for k, v in meta.items() if k not in dropped}}
    if kind not in OWN and meta.get("annotations"):  # only the operator's own: an image's holders, say
        ours = {k: v for k, v in meta["annotations"].items() if k.startswith(_OUR_ANNOTATIONS)}
        if ours:
            out["metadata"]["annotations"] = ours
    if kind is MIGRATING_VM:
        spec, status = body.get("spec") or {}, body.get("status") or {}
        out["spec"] = {k: v for k, v in spec.items() if k not in ("description", "displayName")}
        if not spec.get("replication"):  # a fed one's whole status is the operator's record, read to be kept
            out["status"] = {k: status[k] for k in READ_OF_MIGRATING_VM if k in status}
    return out


_OUR_ANNOTATIONS = f"{names.ANNOTATION_PREFIX}/"


@dataclass(frozen=True)
class Kept:
    """One cached object, as compact JSON: a fraction of the memory of the same body as Python dicts (a largest
    CloneJob is 240 KiB of JSON and over a megabyte of dicts). Each read decodes a fresh copy."""

    version: int | None
    uid: str
    packed: bytes

    @classmethod
    def of(cls, kind: Kind, body: Body) -> Kept:
        meta = body.get("metadata") or {}
        packed = json.dumps(_slim(kind, body), separators=(",", ":")).encode()
        return cls(_version(body), str(meta.get("uid") or ""), packed)

    def body(self) -> Body:
        found: Body = json.loads(self.packed)
        return found


def _selector(text: str | None) -> dict[str, str]:
    """An equality-based label selector (``a=b,c=d``): all that the operator itself uses."""
    out: dict[str, str] = {}
    for part in (text or "").split(","):
        if part.strip():
            key, _, value = part.partition("=")
            out[key.strip()] = value.strip().lstrip("=")
    return out


class Cache:
    def __init__(
        self,
        watched: Iterable[Kind] = (),
        max_active: int = 0,
        doubt: Doubt = lambda body: None,
        per_namespace: int = 0,
    ) -> None:
        self.watched = frozenset(watched)
        """Kinds kept by watches: reads of these never go to the API."""
        self.roster = Roster(max_active, doubt, per_namespace)
        self.wake: Callable[[set[Key]], None] = lambda keys: None
        """Set by the controller: queues the jobs that a change moves."""
        self._objects: dict[Kind, dict[tuple[str, str], Kept]] = defaultdict(dict)
        self._gone: OrderedDict[tuple[Kind, str, str], int] = OrderedDict()
        self._written: dict[tuple[Kind, str, str], str] = {}
        self._lock = threading.Lock()

    def wrote(self, kind: Kind, body: Body) -> None:
        """Store what one of the operator's own writes returned, and remember its version (see ``echo``)."""
        meta = body.get("metadata") or {}
        if kind in self.watched:  # only a watch brings it back (and so clears the entry)
            with self._lock:
                where = (kind, meta.get("namespace", ""), meta.get("name", ""))
                self._written[where] = meta.get("resourceVersion", "")
        self.upsert(kind, body)

    def echo(self, kind: Kind, body: Body) -> bool:
        """Whether a watch event only brings back the operator's own last write (nothing new to act on)."""
        meta = body.get("metadata") or {}
        where = (kind, meta.get("namespace", ""), meta.get("name", ""))
        with self._lock:
            if self._written.get(where) != meta.get("resourceVersion"):
                return False
            del self._written[where]
            return True

    def upsert(self, kind: Kind, body: Body) -> bool:
        """Store ``body`` unless what is stored is newer; whether it was stored."""
        meta = body.get("metadata") or {}
        where = (meta.get("namespace", ""), meta.get("name", ""))
        version = _version(body)
        with self._lock:
            if self._outdated(kind, where, version):
                return False
        kept = Kept.of(kind, body)  # encoded outside the lock, once per version
        with self._lock:
            if self._outdated(kind, where, version):
                return False  # a newer version, or its deletion, was stored meanwhile
            self._objects[kind][where] = kept
            # Under the same lock as the store, so that the roster sees versions in the order they are kept.
            wakes = self.roster.observe(body) if kind is CLONE_JOB else set()
        if wakes:
            self.wake(wakes)
        return True

    def _outdated(self, kind: Kind, where: tuple[str, str], version: int | None) -> bool:
        """Whether a body of ``version`` is no newer than the one stored (the same version again: a write, then
        its own watch event), or older than its deletion already seen. The caller holds the lock."""
        if version is None:
            return False
        current = self._objects[kind].get(where)
        if current is not None:
            return current.version is not None and version <= current.version
        gone = self._gone.get((kind, *where))
        return gone is not None and version < gone

    def remove(self, kind: Kind, body: Body) -> None:
        meta = body.get("metadata") or {}
        where = (meta.get("namespace", ""), meta.get("name", ""))
        with self._lock:
            current = self._objects[kind].get(where)
            if current is not None and current.uid != meta.get("uid"):
                return  # a namesake replaced it already
            self._objects[kind].pop(where, None)
            self._written.pop((kind, *where), None)
            version = _version(body)
            if version is not None:
                self._gone[(kind, *where)] = version
                while len(self._gone) > _TOMBSTONES:
                    self._gone.popitem(last=False)
            wakes = self.roster.forget(body) if kind is CLONE_JOB else set()
        if wakes:
            self.wake(wakes)

    def get(self, kind: Kind, namespace: str, name: str) -> Body | None:
        with self._lock:
            kept = self._objects[kind].get((namespace, name))
        return kept.body() if kept is not None else None

    def list(self, kind: Kind, namespace: str | None, selector: str | None = None) -> list[Body]:
        wanted = _selector(selector)
        with self._lock:
            items = [kept for (ns, _), kept in self._objects[kind].items() if namespace is None or ns == namespace]
        bodies = [kept.body() for kept in items]
        return [
            b
            for b in bodies
            if all(((b.get("metadata") or {}).get("labels") or {}).get(k) == v for k, v in wanted.items())
        ]


class CachedKube:
    """A KubeClient whose reads of watched kinds come from the cache and whose writes are stored in it;
    everything else goes to the client it wraps."""

    def __init__(self, api: KubeClient, cache: Cache) -> None:
        self.api = api
        self.cache = cache

    def get(self, kind: Kind, namespace: str, name: str) -> Body | None:
        if kind in self.cache.watched:
            return self.cache.get(kind, namespace, name)
        return self.refresh(kind, namespace, name)

    def refresh(self, kind: Kind, namespace: str, name: str) -> Body | None:
        """Read from the API server itself (after a conflict, say) and store what it said."""
        body = self.api.refresh(kind, namespace, name)
        if body is not None:
            self.cache.upsert(kind, body)
        return body

    def fresh_list(self, kind: Kind, namespace: str | None, selector: str | None = None) -> list[Body]:
        return self.api.fresh_list(kind, namespace, selector)

    def list(self, kind: Kind, namespace: str | None, selector: str | None = None) -> list[Body]:
        if kind in self.cache.watched:
            return self.cache.list(kind, namespace, selector)
        return self.api.list(kind, namespace, selector)

    def create(self, kind: Kind, namespace: str, body: Body) -> Body:
        return self._stored(kind, self.api.create(kind, namespace, body))

    def delete(
        self, kind: Kind, namespace: str, name: str, uid: str | None = None, resource_version: str | None = None
    ) -> None:
        self.api.delete(kind, namespace, name, uid, resource_version)

    def patch(self, kind: Kind, namespace: str, name: str, patch: Body) -> Body:
        return self._stored(kind, self.api.patch(kind, namespace, name, patch))

    def patch_status(self, kind: Kind, namespace: str, name: str, patch: Body) -> Body:
        return self._stored(kind, self.api.patch_status(kind, namespace, name, patch))

    def read_secret(self, namespace: str, name: str) -> Secret:
        return self.api.read_secret(namespace, name)  # never cached: a key is read only when a client is made

    def post_event(self, namespace: str, body: Body) -> None:
        self.api.post_event(namespace, body)

    def _stored(self, kind: Kind, body: Any) -> Body:
        # Kept: what a watch keeps up to date, and CloneJobs (the roster needs every job it decides about).
        if isinstance(body, dict) and body.get("metadata") and (kind in self.cache.watched or kind is CLONE_JOB):
            self.cache.wrote(kind, body)
        return dict(body) if isinstance(body, dict) else body
