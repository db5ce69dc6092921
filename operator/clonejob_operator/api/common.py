"""Messages shared by both kinds: google.rpc.Status and Kubernetes conditions."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from clonejob_operator.api.base import ApiModel, Timestamp
from clonejob_operator.codes import Code


class RpcStatus(ApiModel):
    """google.rpc.Status: ``code`` is a google.rpc.Code value."""

    code: int = Field(default=0, ge=0, le=16, description="A google.rpc.Code value.")
    message: str | None = Field(default=None, max_length=32768)
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
    message: str = Field(default="", max_length=32768)
