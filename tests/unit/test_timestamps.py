from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

import pytest

from clonejob_operator.timestamps import PATTERN, format_duration, format_time, parse_duration, parse_time


@pytest.mark.parametrize(
    ("moment", "text"),
    [
        (datetime(2026, 11, 26, 10, 0, 0, tzinfo=UTC), "2026-11-26T10:00:00Z"),
        (datetime(2026, 11, 26, 10, 0, 0, 500000, tzinfo=UTC), "2026-11-26T10:00:00.5Z"),
        (datetime(2026, 11, 26, 10, 0, 0, 123456, tzinfo=UTC), "2026-11-26T10:00:00.123456Z"),
        (datetime(2026, 11, 26, 11, 0, 0, tzinfo=timezone(timedelta(hours=1))), "2026-11-26T10:00:00Z"),
    ],
)
def test_format_is_utc_with_z_and_trimmed_fraction(moment: datetime, text: str) -> None:
    assert format_time(moment) == text
    assert re.match(PATTERN, text)


def test_format_rejects_naive() -> None:
    with pytest.raises(ValueError, match="naive"):
        format_time(datetime(2026, 1, 1))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-26T10:00:00.123456789Z", datetime(2026, 11, 26, 10, 0, 0, 123456, tzinfo=UTC)),
        ("2026-11-26T10:00:00Z", datetime(2026, 11, 26, 10, 0, 0, tzinfo=UTC)),
        ("2026-11-26T12:30:00+02:30", datetime(2026, 11, 26, 10, 0, 0, tzinfo=UTC)),
    ],
)
def test_parse_accepts_nine_digits_and_offsets(text: str, expected: datetime) -> None:
    assert parse_time(text) == expected


@pytest.mark.parametrize("text", ["2026-11-26 10:00:00Z", "2026-11-26T10:00:00", "2026-11-26T10:00:00.1234567890Z"])
def test_parse_rejects_non_rfc3339(text: str) -> None:
    with pytest.raises(ValueError):
        parse_time(text)


def test_pattern_matches_what_the_api_server_stores() -> None:
    assert re.match(PATTERN, "2026-11-26T10:00:00.123456789Z")
    assert not re.match(PATTERN, "2026-11-26T10:00:00+00:00")
    assert not re.match(PATTERN, "2026-11-26T10:00:00.1234567890Z")


@pytest.mark.parametrize(
    ("text", "seconds"), [("90", 90), ("90s", 90), ("30m", 1800), ("1h30m", 5400), ("2d", 172800), ("500ms", 0.5)]
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text).total_seconds() == seconds


@pytest.mark.parametrize("text", ["", "1x", "h", "-5", "0s", "1h 30m"])
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


def test_format_duration() -> None:
    assert format_duration(timedelta(hours=1, minutes=2, seconds=3)) == "1h2m3s"
    assert format_duration(timedelta(seconds=2)) == "2s"
    assert format_duration(timedelta(hours=6)) == "6h"
