"""Kinds the operator reads that the API server did not serve as the watches started, looked for again.

kopf resolves the kinds it watches once, as a run starts; a kind whose CRD was not installed then (KubeVirt,
CDI, a snapshot controller or VolSync brought up beside the operator by a GitOps tool, say) is read by polling.
Every ``INTERVAL`` the runtime asks whether such a kind is served now; once one is, the run ends and the next
starts with fresh caches, watching it: no restart of the process is needed.
"""

from __future__ import annotations

import asyncio

import urllib3
from kubernetes.client.exceptions import ApiException

from clonejob_operator.kube import Kind, Kube
from clonejob_operator.sources.catalog import FEEDS
from clonejob_operator.targets.catalog import REGISTRY

INTERVAL = 60.0
"""Seconds between two looks for kinds that were not served."""


def wanted() -> tuple[Kind, ...]:
    """Every kind the targets and the feeds would have watched (beside the operator's own, which a run needs)."""
    return tuple(dict.fromkeys((*REGISTRY.watched(), *FEEDS.watched())))


class NewlyServed(Exception):
    """Kinds that were not served as the watches started are served now: the watches start again, with them."""

    def __init__(self, kinds: tuple[Kind, ...]) -> None:
        self.kinds = kinds
        super().__init__(", ".join(f"{kind.plural}.{kind.group}" if kind.group else kind.plural for kind in kinds))


async def served_since(kube: Kube, watched: frozenset[Kind], interval: float = INTERVAL) -> NewlyServed:
    """Once a kind in ``wanted`` but not in ``watched`` is served: which (never, when every one is watched)."""
    missing = tuple(kind for kind in wanted() if kind not in watched)
    if not missing:
        await asyncio.Event().wait()
    while True:
        await asyncio.sleep(interval)
        try:
            served = await asyncio.to_thread(kube.servable, missing)
        except (ApiException, OSError, urllib3.exceptions.HTTPError):  # no answer now: the next look asks again
            continue
        if served:
            return NewlyServed(tuple(served))
