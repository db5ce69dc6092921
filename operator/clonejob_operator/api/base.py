"""Shared pieces of the API models: the camelCase base model and schema annotations."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel

from clonejob_operator.timestamps import PATTERN as TIMESTAMP_PATTERN
from clonejob_operator.timestamps import parse_time

DNS_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
DNS_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
QUANTITY = r"^[0-9]+(\.[0-9]+)?(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$"


class ApiModel(BaseModel):
    """camelCase on the wire, snake_case in Python; unknown fields are errors that name the field."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
    )

    def wire(self) -> dict[str, Any]:
        """The object as the API server stores it: camelCase keys, unset fields left out."""
        return self.model_dump(by_alias=True, exclude_none=True, mode="json")


class Empty(ApiModel):
    """An empty message (the vmmigration API's step markers and ``disksTargetDefaults``)."""


def cel(rule: str, message: str, **extra: str) -> dict[str, str]:
    """One ``x-kubernetes-validations`` entry."""
    return {"rule": rule, "message": message, **extra}


def validations(*rules: dict[str, str]) -> dict[str, Any]:
    return {"x-kubernetes-validations": list(rules)}


def at_most_one(fields: list[str]) -> dict[str, str]:
    present = ", ".join(f"has(self.{name})" for name in fields)
    names = ", ".join(fields)
    return cel(f"[{present}].filter(x, x).size() <= 1", f"at most one of {names} may be set")


def exactly_one(fields: list[str]) -> dict[str, str]:
    present = ", ".join(f"has(self.{name})" for name in fields)
    names = ", ".join(fields)
    return cel(f"[{present}].filter(x, x).size() == 1", f"exactly one of {names} must be set")


def _real_time(text: str) -> str:
    """A timestamp the pattern accepts must also be a date and time (not 2026-13-45T99:99:99Z)."""
    parse_time(text)
    return text


Timestamp = Annotated[
    str,
    Field(pattern=TIMESTAMP_PATTERN, max_length=40),
    AfterValidator(_real_time),
]
Int64 = Annotated[int, Field(json_schema_extra={"format": "int64"})]
Name = Annotated[str, Field(pattern=DNS_LABEL, min_length=1, max_length=63)]
SubdomainName = Annotated[str, Field(pattern=DNS_SUBDOMAIN, min_length=1, max_length=253)]


def describe(error: ValidationError, prefix: str) -> str:
    """A validation error as the API server words one: each field named by its path under ``prefix``."""
    parts = []
    for item in error.errors(include_url=False)[:5]:
        path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in item["loc"])
        parts.append(f"{prefix}{path}: {item['msg'].removeprefix('Value error, ')}")
    more = error.error_count() - len(parts)
    return "; ".join(parts) + (f" (and {more} more)" if more > 0 else "")
