"""An in-memory cluster that satisfies ``KubeClient``: objects with uids, resourceVersions and generations,
conditional merge patches (409 on a stale resourceVersion), finalizers, label selectors, and faults
injected per verb and kind. It records every write, in order."""

from __future__ import annotations

import copy
import itertools
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kubernetes.client.exceptions import ApiException

from clonejob_operator.kube import Body, Kind, Secret
from clonejob_operator.seal import Sealer

Key = tuple[str, str, str]
"""(plural, namespace, name)."""


def _apply(target: Any, patch: Any) -> Any:
    """RFC 7386: a merge patch applied to ``target`` (None deletes; lists are replaced)."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = _apply(out.get(key), value)
    return out


def refusal(status: int, message: str = "", reason: str = "") -> ApiException:
    import json

    error = ApiException(status=status, reason=reason or {403: "Forbidden", 409: "Conflict"}.get(status, "Error"))
    error.body = json.dumps({"kind": "Status", "code": status, "message": message, "details": {}})
    return error


@dataclass
class FakeKube:
    objects: dict[Key, Body] = field(default_factory=dict)
    secrets: dict[tuple[str, str], Secret] = field(default_factory=dict)
    events: list[Body] = field(default_factory=list)
    writes: list[tuple[str, str, str]] = field(default_factory=list)
    """(verb, plural, name) of every write that went through, in order."""
    faults: dict[tuple[str, str], list[BaseException | Callable[[Body], BaseException | None]]] = field(
        default_factory=dict
    )
    namespaces: set[str] | None = None
    """The namespaces that exist (None: every one); create in another answers 404, as the API server does."""
    created_at: str = "2026-11-26T10:00:00Z"
    _revisions: itertools.count[int] = field(default_factory=lambda: itertools.count(100))

    # --- arranging ------------------------------------------------------------------------------------
    def fail(self, verb: str, kind: Kind, error: BaseException | Callable[[Body], BaseException | None]) -> None:
        """The next ``verb`` (get, list, create, delete, patch, patch_status) of ``kind`` raises ``error``; a
        callable decides from the request body (None: let it through, and keep the fault for the next)."""
        self.faults.setdefault((verb, kind.plural), []).append(error)

    def put(self, kind: Kind, namespace: str, name: str, sealer: Sealer | None = None, **fields: Any) -> Body:
        """An object as a user (or another controller) made it; with ``sealer``, its status as the operator
        wrote it (sealed)."""
        body: Body = {
            "apiVersion": kind.api_version,
            "kind": kind.kind,
            "metadata": {"name": name, "namespace": namespace},
        }
        body.update(copy.deepcopy(fields))
        if sealer is not None and body.get("status"):
            meta = body["metadata"]
            meta.setdefault("uid", str(uuid.uuid4()))
            body["status"] = sealer.sealed(meta["uid"], body["status"])
        return self._store(kind, body, new=True)

    def status_of(self, kind: Kind, namespace: str, name: str) -> Body:
        return dict(self.objects[(kind.plural, namespace, name)].get("status") or {})

    def names(self, kind: Kind) -> list[str]:
        return sorted(name for (plural, _, name) in self.objects if plural == kind.plural)

    # --- KubeClient -----------------------------------------------------------------------------------
    def get(self, kind: Kind, namespace: str, name: str) -> Body | None:
        self._fault("get", kind, {})
        found = self.objects.get((kind.plural, namespace, name))
        return copy.deepcopy(found) if found is not None else None

    refresh = get

    def fresh_list(self, kind: Kind, namespace: str | None, selector: str | None = None) -> list[Body]:
        self._fault("list", kind, {})
        wanted = dict(part.split("=", 1) for part in (selector or "").split(",") if part)
        return [
            copy.deepcopy(body)
            for (plural, ns, _), body in sorted(self.objects.items())
            if plural == kind.plural
            and (namespace is None or ns == namespace)
            and all((body["metadata"].get("labels") or {}).get(k) == v for k, v in wanted.items())
        ]

    list = fresh_list

    def namespace_exists(self, name: str) -> bool | None:
        return self.namespaces is None or name in self.namespaces

    def create(self, kind: Kind, namespace: str, body: Body) -> Body:
        self._fault("create", kind, body)
        if self.namespaces is not None and namespace not in self.namespaces:
            raise refusal(404, f'namespaces "{namespace}" not found', "NotFound")
        name = body["metadata"]["name"]
        if (kind.plural, namespace, name) in self.objects:
            raise refusal(409, f'{kind.plural} "{name}" already exists', "AlreadyExists")
        self.writes.append(("create", kind.plural, name))
        return self._store(
            kind, {**copy.deepcopy(body), "metadata": {**body["metadata"], "namespace": namespace}}, True
        )

    def delete(
        self, kind: Kind, namespace: str, name: str, uid: str | None = None, resource_version: str | None = None
    ) -> None:
        self._fault("delete", kind, {})
        found = self.objects.get((kind.plural, namespace, name))
        if found is None:
            return
        if uid and found["metadata"]["uid"] != uid:
            raise refusal(409, "the UID in the precondition does not match")
        if resource_version and found["metadata"].get("resourceVersion") != resource_version:
            raise refusal(409, "the ResourceVersion in the precondition does not match")
        self.writes.append(("delete", kind.plural, name))
        if found["metadata"].get("finalizers"):
            found["metadata"]["deletionTimestamp"] = self.created_at
            self._bump(found)
        else:
            del self.objects[(kind.plural, namespace, name)]

    def patch(self, kind: Kind, namespace: str, name: str, patch: Body) -> Body:
        return self._patch("patch", kind, namespace, name, patch)

    def patch_status(self, kind: Kind, namespace: str, name: str, patch: Body) -> Body:
        return self._patch("patch_status", kind, namespace, name, patch)

    def read_secret(self, namespace: str, name: str) -> Secret:
        self._fault("get", Kind("", "v1", "secrets", "Secret"), {})
        if (namespace, name) not in self.secrets:
            raise refusal(404, f'secrets "{name}" not found', "NotFound")
        return self.secrets[(namespace, name)]

    def post_event(self, namespace: str, body: Body) -> None:
        self.events.append(copy.deepcopy(body))

    # --- inside ---------------------------------------------------------------------------------------
    def _fault(self, verb: str, kind: Kind, body: Body) -> None:
        queued = self.faults.get((verb, kind.plural)) or []
        if not queued:
            return
        first = queued[0]
        error = first if isinstance(first, BaseException) else first(body)
        if error is None:
            return
        queued.pop(0)
        raise error

    def _patch(self, verb: str, kind: Kind, namespace: str, name: str, patch: Body) -> Body:
        self._fault(verb, kind, patch)
        found = self.objects.get((kind.plural, namespace, name))
        if found is None:
            raise refusal(404, f'{kind.plural} "{name}" not found', "NotFound")
        meta_patch = dict(patch.get("metadata") or {})
        wanted = meta_patch.pop("resourceVersion", None)
        if wanted is not None and wanted != found["metadata"]["resourceVersion"]:
            raise refusal(409, "the object has been modified; please apply your changes to the latest version")
        if verb == "patch_status":
            found["status"] = _apply(found.get("status") or {}, patch.get("status") or {})
        else:
            found["metadata"] = _apply(found["metadata"], meta_patch)
            if "spec" in patch:
                found["spec"] = _apply(found.get("spec") or {}, patch["spec"])
                found["metadata"]["generation"] = int(found["metadata"].get("generation", 1)) + 1
        self.writes.append((verb, kind.plural, name))
        self._bump(found)
        if found["metadata"].get("deletionTimestamp") and not found["metadata"].get("finalizers"):
            del self.objects[(kind.plural, namespace, name)]
        return copy.deepcopy(found)

    def _store(self, kind: Kind, body: Body, new: bool) -> Body:
        meta = body["metadata"]
        if new:
            meta.setdefault("uid", str(uuid.uuid4()))
            meta.setdefault("creationTimestamp", self.created_at)
            meta.setdefault("generation", 1)
        self._bump(body)
        self.objects[(kind.plural, meta["namespace"], meta["name"])] = body
        return copy.deepcopy(body)

    def _bump(self, body: Body) -> None:
        body["metadata"]["resourceVersion"] = str(next(self._revisions))
