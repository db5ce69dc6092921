"""Messages shared by both kinds: google.rpc.Status and Kubernetes conditions."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field

from clonejob_operator.api.base import ApiModel, Timestamp
from clonejob_operator.codes import Code

MAX_MESSAGE = 32768
"""The longest message a condition or an error holds (metav1.Condition's limit)."""
ELLIPSIS = " [...]"


def _capped(value: object) -> object:
    """A message over the limit keeps its start and says it was cut: a long error never makes a status unwritable."""
    if isinstance(value, str) and len(value) > MAX_MESSAGE:
        return value[: MAX_MESSAGE - len(ELLIPSIS)] + ELLIPSIS
    return value


Message = Annotated[str, BeforeValidator(_capped), Field(max_length=MAX_MESSAGE)]


class RpcStatus(ApiModel):
    """google.rpc.Status: ``code`` is a google.rpc.Code value."""

    code: int = Field(default=0, ge=0, le=16, description="A google.rpc.Code value.")
    message: Message | None = None
    details: list[dict[str, Any]] | None = Field(
        default=None,
        max_length=16,
        json_schema_extra={"items": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}},
    )

    @classmethod
    def of(cls, code: Code, message: str) -> RpcStatus:
        return cls(code=int(code), message=message)


class Condition(ApiModel):
    """A Kubernetes condition (metav1.Condition) as kstatus reads it."""

    type: str = Field(max_length=316)
    status: Literal["True", "False", "Unknown"]
    observed_generation: int | None = Field(default=None, ge=0, json_schema_extra={"format": "int64"})
    last_transition_time: Timestamp
    reason: str = Field(max_length=1024, pattern=r"^([A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?)?$")
    message: Message = ""
