"""RFC 3339 timestamps as the vmmigration API writes them: UTC, a ``Z`` suffix, up to nine fractional digits."""

from __future__ import annotations

import functools
import re
from datetime import UTC, datetime, timedelta

PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?Z$"
_PARSE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|z|[+-]\d{2}:\d{2})$")
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def now() -> datetime:
    return datetime.now(UTC)


@functools.lru_cache(maxsize=4096)
def format_time(moment: datetime) -> str:
    """Render ``moment`` in UTC with ``Z``; fractional digits only when non-zero, trailing zeros dropped."""
    if moment.tzinfo is None:
        raise ValueError("naive datetimes are ambiguous; pass an aware datetime")
    utc = moment.astimezone(UTC)
    text = utc.strftime("%Y-%m-%dT%H:%M:%S")
    if utc.microsecond:
        text += "." + f"{utc.microsecond:06d}".rstrip("0")
    return text + "Z"


@functools.lru_cache(maxsize=4096)
def parse_time(text: str) -> datetime:
    """Parse RFC 3339 (any offset, up to nine fractional digits; digits past microseconds are truncated).

    Remembered (datetimes are immutable): every look at a job reads the same few timestamps again."""
    match = _PARSE.match(text)
    if not match:
        raise ValueError(f"not an RFC 3339 timestamp: {text!r}")
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    micro = int((fraction or "0").ljust(6, "0")[:6])
    try:
        moment = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second), micro, tzinfo=UTC)
    except ValueError as error:
        raise ValueError(f"not a date and time: {text!r} ({error})") from None
    if zone not in ("Z", "z"):
        sign = 1 if zone[0] == "+" else -1
        moment -= sign * timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6]))
    return moment


def parse_duration(text: str | float | int) -> timedelta:
    """``90``, ``"90s"``, ``"1h30m"``, ``"2d"``, ``"500ms"`` -> timedelta. Rejects empty or negative values."""
    if isinstance(text, int | float):
        seconds = float(text)
    else:
        stripped = text.strip()
        try:
            seconds = float(stripped)
        except ValueError:
            parts = _DURATION.findall(stripped)
            if not parts or "".join(a + b for a, b in parts) != stripped:
                raise ValueError(f"not a duration: {text!r} (use e.g. 90s, 30m, 1h, 1h30m)") from None
            seconds = sum(float(value) * _UNIT_SECONDS[unit] for value, unit in parts)
    if seconds <= 0:
        raise ValueError(f"a duration must be positive: {text!r}")
    return timedelta(seconds=seconds)


def format_duration(delta: timedelta) -> str:
    """A short human duration, ``1h2m3s`` style."""
    total = int(delta.total_seconds())
    hours, rest = divmod(total, 3600)
    minutes, seconds = divmod(rest, 60)
    out = (f"{hours}h" if hours else "") + (f"{minutes}m" if minutes else "")
    return out + (f"{seconds}s" if seconds or not out else "")
