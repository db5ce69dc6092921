"""The one clock the tests move by hand (``clock.now += ...``): monotonic seconds or a wall-clock time."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Generic, TypeVar

T = TypeVar("T", float, datetime)

NOON = datetime(2026, 11, 26, 10, 0, 5, tzinfo=UTC)
"""The wall-clock time the tests' jobs live at."""


class Clock(Generic[T]):
    def __init__(self, now: T) -> None:
        self.now: T = now

    def __call__(self) -> T:
        return self.now
