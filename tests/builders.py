"""The one builder of object bodies for tests that need no API server: a CloneJob as the API server would
hand it over, and any other object by its metadata. Each test file states only what differs."""

from __future__ import annotations

from typing import Any

from clonejob_operator import names

CREATED = "2026-11-26T10:00:00Z"


def body(name: str, namespace: str = "ns", **meta: Any) -> dict[str, Any]:
    """An object with ``metadata`` only: name, namespace, ``uid-NAME`` and whatever ``meta`` adds
    (``resourceVersion``, ``labels``...)."""
    return {"metadata": {"name": name, "namespace": namespace, "uid": f"uid-{name}", **meta}}


def clone_job(
    name: str = "cj",
    state: str | None = None,
    *,
    namespace: str = "ns",
    migrating_vm: str = "web-1",
    spec: dict[str, Any] | None = None,
    status: dict[str, Any] | None = None,
    held: bool = False,
    **meta: Any,
) -> dict[str, Any]:
    """A CloneJob of ``migrating_vm``, created at ``CREATED``, generation 1 (unless ``meta`` says otherwise);
    ``state`` (and ``status``) as the operator last wrote it, having observed generation 1; ``held``: with
    the operator's finalizer (unless ``meta`` gives the finalizers)."""
    metadata = {"creationTimestamp": CREATED, "generation": 1, **meta}
    if held:
        metadata.setdefault("finalizers", [names.FINALIZER])
    out = body(name, namespace, **metadata)
    out["spec"] = {"migratingVm": migrating_vm, **(spec or {})}
    recorded = {"state": state, "observedGeneration": 1} if state else {}
    out["status"] = {**recorded, **(status or {})}
    return out
