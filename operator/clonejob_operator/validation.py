"""Readable validation errors that name the field, as the API server's own messages do."""

from __future__ import annotations

from pydantic import ValidationError


def describe(error: ValidationError, prefix: str) -> str:
    parts = []
    for item in error.errors(include_url=False)[:5]:
        path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in item["loc"])
        parts.append(f"{prefix}{path}: {item['msg'].removeprefix('Value error, ')}")
    more = error.error_count() - len(parts)
    return "; ".join(parts) + (f" (and {more} more)" if more > 0 else "")
