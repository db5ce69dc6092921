"""Messages shared by both kinds: google.rpc.Status and Kubernetes conditions."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BeforeValidator, Field

from clonejob_operator.api.base import ApiModel, Timestamp
from clonejob_operator.api.bounds import keys_at_most
from clonejob_operator.codes import Code

MAX_MESSAGE = 2048
"""The longest message a condition or an error holds (metav1.Condition allows 32768: ours are shorter, and a
status is kept in memory for every job)."""
ELLIPSIS = " [...]"


def _capped(value: object) -> object:
    """A message over the limit keeps its start and says it was cut: a long error never makes a status unwritable."""
    if isinstance(value, str) and len(value) > MAX_MESSAGE:
        return value[: MAX_MESSAGE - len(ELLIPSIS)] + ELLIPSIS
    return value


Message = Annotated[str, BeforeValidator(_capped), Field(max_length=MAX_MESSAGE)]


Detail = Annotated[
    dict[str, Annotated[str, Field(max_length=256)]],
    Field(max_length=4, json_schema_extra=keys_at_most(64)),
]


class RpcStatus(ApiModel):
    """google.rpc.Status: ``code`` is a google.rpc.Code value."""

    code: int = Field(default=0, ge=0, le=16, description="A google.rpc.Code value.")
    message: Message | None = None
    details: list[Detail] | None = Field(
        default=None,
        max_length=2,
        description="Details of the error, each a few string fields (its @type, a reason, a field...).",
    )

    @classmethod
    def of(cls, code: Code, message: str) -> RpcStatus:
        return cls(code=int(code), message=message)


class Condition(ApiModel):
    """A Kubernetes condition (metav1.Condition) as kstatus reads it."""

    type: str = Field(max_length=64)
    status: Literal["True", "False", "Unknown"]
    observed_generation: int | None = Field(default=None, ge=0, json_schema_extra={"format": "int64"})
    last_transition_time: Timestamp
    reason: str = Field(max_length=128, pattern=r"^([A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?)?$")
    message: Message = ""
