"""VolSync played by hand in the tests: the demo's player (``clonejob_demo.volsync``), as VolSync's
ReplicationDestination controller behaves with ``copyMethod: Snapshot``."""

from __future__ import annotations

from clonejob_demo.volsync import VolSync

__all__ = ["VolSync"]
