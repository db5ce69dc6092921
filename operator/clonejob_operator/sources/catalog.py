"""The feeds, keyed by name: the one place a feed is registered.

The core asks "which feed keeps this MigratingVm", "the driver of the feed this job recorded"; it never names
a feed. Adding one is its package (with its ``FEED``), its member of ``spec.replication`` in ``api/``, and one
line here.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

from clonejob_operator.kube import Body, Kind, KubeClient
from clonejob_operator.sources import volsync
from clonejob_operator.sources.base import Feed, FeedDriver


class Feeds:
    def __init__(self, *feeds: Feed) -> None:
        self._feeds = {feed.name: feed for feed in feeds}
        if len(self._feeds) != len(feeds):
            raise ValueError("two feeds of one name")

    def __iter__(self) -> Iterator[Feed]:
        return iter(self._feeds.values())

    def get(self, name: str | None) -> Feed | None:
        return self._feeds.get(name or "")

    def watched(self) -> tuple[Kind, ...]:
        return tuple(kind for feed in self for kind in feed.watches)

    def of(self, migrating_vm: Body) -> Feed | None:
        """The feed that keeps ``migrating_vm``'s status (None: a replication tool writes it)."""
        return next((feed for feed in self if feed.feeds(migrating_vm)), None)


FEEDS = Feeds(volsync.FEED)
"""Every feed: one registration line each."""


class FeedDrivers:
    """The feeds' drivers over one client, each built on first use."""

    def __init__(self, kube: KubeClient, feeds: Feeds = FEEDS) -> None:
        self._kube, self.feeds = kube, feeds
        self._built: dict[str, FeedDriver] = {}
        self._lock = threading.Lock()

    def by_name(self, name: str) -> FeedDriver | None:
        feed = self.feeds.get(name)
        if feed is None:
            return None
        with self._lock:
            if name not in self._built:
                self._built[name] = feed.build(self._kube)
            return self._built[name]
