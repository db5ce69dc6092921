"""Removal of everything a CloneJob created: found by its labels and by ``status.createdResources``.

Cleanup only ever runs for a job that was cancelled or failed, and it waits for the products to be
really gone. It deletes nothing that does not carry the job's uid (by label or by recorded uid).
"""

from __future__ import annotations

import logging

from kubernetes.client.exceptions import ApiException

from clonejob_operator import names
from clonejob_operator.api.clonejob import CloneJobStatus
from clonejob_operator.drivers import Drivers
from clonejob_operator.kube import BATCH_JOB, DATA_VOLUME, VIRTUAL_MACHINE, Body, Kind, Kube
from clonejob_operator.machine import CleanupReport

log = logging.getLogger(__name__)
KNOWN = {(k.api_version, k.kind): k for k in (DATA_VOLUME, VIRTUAL_MACHINE, BATCH_JOB)}


class Sweeper:
    def __init__(self, kube: Kube, drivers: Drivers) -> None:
        self.kube = kube
        self.drivers = drivers

    def sweep(self, namespace: str, uid: str, status: CloneJobStatus) -> CleanupReport:
        """Delete what is left and report what still exists (deleting objects count until they are gone)."""
        driver = self.drivers.for_status(status)
        kinds = list(driver.product_kinds(status) if driver else ())
        recorded = status.created_resources or []
        for item in recorded:
            kind = KNOWN.get((item.api_version, item.kind))
            if kind and kind not in kinds:
                kinds.append(kind)
        remaining: list[str] = []
        blocked: list[str] = []
        seen: set[str] = set()
        for kind in kinds:
            try:
                found = self.kube.list(kind, namespace, f"{names.LABEL_JOB_UID}={uid}")
            except ApiException as error:
                blocked.append(f"cannot list {kind.plural} (API answered {error.status})")
                continue
            for body in found:
                if (body["metadata"].get("labels") or {}).get(names.LABEL_JOB_UID) != uid:
                    continue  # never trust a selector alone with a delete
                seen.add(body["metadata"].get("uid", ""))
                still = self._remove(kind, namespace, body, blocked)
                if still:
                    remaining.append(still)
        for item in recorded:
            kind = KNOWN.get((item.api_version, item.kind))
            if kind is None or item.uid in seen:
                continue
            try:
                current = self.kube.get(kind, namespace, item.name)
            except ApiException as error:
                blocked.append(f"cannot read {kind.kind} {item.name} (API answered {error.status})")
                continue
            if current is not None and current["metadata"].get("uid") == item.uid:
                still = self._remove(kind, namespace, current, blocked)
                if still:
                    remaining.append(still)
        return CleanupReport(remaining=tuple(remaining), blocked="; ".join(blocked) or None)

    def _remove(self, kind: Kind, namespace: str, body: Body, blocked: list[str]) -> str | None:
        """Delete ``body``; its label while it still exists (being deleted counts), None once it is gone."""
        meta = body["metadata"]
        label = f"{kind.kind}/{meta['name']}"
        if meta.get("deletionTimestamp"):
            return label
        try:
            self.kube.delete(kind, namespace, meta["name"], uid=meta.get("uid"))
            log.info("deleting %s in %s", label, namespace)
            after = self.kube.get(kind, namespace, meta["name"])
        except ApiException as error:
            if error.status != 409:  # 409: the uid precondition failed, a namesake replaced it
                blocked.append(f"cannot delete {label} (API answered {error.status})")
            return label
        return label if after is not None and after["metadata"].get("uid") == meta.get("uid") else None
