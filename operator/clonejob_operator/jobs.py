"""The one parse of a stored CloneJob: what the reconciler, the roster's callers and the plugin read."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from clonejob_operator import names
from clonejob_operator.api.base import describe
from clonejob_operator.api.clonejob import CloneJobSpec, CloneJobStatus
from clonejob_operator.kube import Body
from clonejob_operator.machine.conditions import RECONCILING, STALLED
from clonejob_operator.timestamps import parse_time


@dataclass(frozen=True)
class Job:
    """The CloneJob as read from the API server."""

    namespace: str
    name: str
    uid: str
    generation: int
    created: datetime
    spec: CloneJobSpec | None
    status: CloneJobStatus
    deleting: bool = False
    spec_error: str | None = None
    """Set when a stored field does not parse (created under an older CRD, say): names the field."""
    held: bool = True
    """Whether it carries the operator's finalizer."""
    resource_version: str = ""

    @property
    def cancel_requested(self) -> bool:
        return self.deleting or bool(self.spec and self.spec.cancel)

    @property
    def migrating_vm(self) -> str:
        return self.spec.migrating_vm if self.spec else "?"

    @property
    def doing(self) -> str:
        """What the job is doing or waiting for, as its ``Reconciling`` condition says, or why it is stuck, as its
        ``Stalled`` condition says (reason: message) while it has not finished; empty when idle."""
        by_type = {c.type: c for c in self.status.conditions or []}
        reconciling, stalled = by_type.get(RECONCILING), by_type.get(STALLED)
        if reconciling is not None and reconciling.status == "True":
            return reconciling.message or ""
        if stalled is not None and stalled.status == "True" and not self.status.current.terminal:
            return f"stuck ({stalled.reason}): {stalled.message}" if stalled.message else f"stuck ({stalled.reason})"
        return ""


NEVER = datetime(1970, 1, 1, tzinfo=UTC)
"""The creation time of a body that has none (one the API server never stored: a manifest, a fixture)."""


def read_job(body: Body) -> Job:
    """The CloneJob as the state machine sees it; unusable stored fields become ``spec_error``, naming them."""
    meta = body["metadata"]
    problems: list[str] = []
    try:
        spec: CloneJobSpec | None = CloneJobSpec.model_validate(body.get("spec") or {})
    except ValidationError as error:
        spec = None
        problems.append(describe(error, "spec"))
    status, dropped = _lenient_status(body.get("status") or {})
    problems.extend(dropped)
    return Job(
        namespace=meta.get("namespace", ""),
        name=meta["name"],
        uid=meta.get("uid", ""),
        generation=int(meta.get("generation") or 1),
        created=parse_time(meta["creationTimestamp"]) if meta.get("creationTimestamp") else NEVER,
        spec=spec,
        status=status,
        deleting=bool(meta.get("deletionTimestamp")),
        spec_error="; ".join(problems) or None,
        held=names.FINALIZER in (meta.get("finalizers") or []),
        resource_version=str(meta.get("resourceVersion") or ""),
    )


def _lenient_status(raw: dict[str, Any]) -> tuple[CloneJobStatus, list[str]]:
    """Keep every readable top-level status field, so that a bad one never hides what was created."""
    try:
        return CloneJobStatus.model_validate(raw), []
    except ValidationError:
        pass
    kept: dict[str, Any] = {}
    problems = []
    for key, value in raw.items():
        try:
            CloneJobStatus.model_validate({key: value})
            kept[key] = value
        except ValidationError as error:
            problems.append(describe(error, "status"))
    return CloneJobStatus.model_validate(kept), problems
