"""A CloneJob as the plugin's tests read it, and a plugin over a fake API server."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from typing import Any

from clonejob_kubectl.commands import Plugin
from clonejob_operator.kube import CLONE_JOB, MIGRATING_VM
from tests.fakekube import FakeKube

NOW = datetime(2026, 11, 26, 10, 10, 0, tzinfo=UTC)


JOB: dict[str, Any] = {
    "metadata": {"name": "cj", "namespace": "m", "creationTimestamp": "2026-11-26T10:00:00Z"},
    "spec": {"migratingVm": "web-1"},
    "status": {
        "state": "ACTIVE",
        "stateTime": "2026-11-26T10:00:05Z",
        "progressPercent": 80,
        "currentStep": "instantiatingMigratedVm",
        "steps": [
            {
                "preparingVmDisks": {},
                "startTime": "2026-11-26T10:00:05Z",
                "endTime": "2026-11-26T10:08:05Z",
                "progressPercent": 100,
            },
            {"instantiatingMigratedVm": {}, "startTime": "2026-11-26T10:08:05Z", "progressPercent": 50},
        ],
        "conditions": [
            {
                "type": "Reconciling",
                "status": "True",
                "reason": "InstantiatingMigratedVm",
                "lastTransitionTime": "2026-11-26T10:08:05Z",
                "message": "VirtualMachine cj Starting",
            }
        ],
    },
}


def plugin_over_fake(out: io.StringIO, show_managed_fields: bool = False) -> tuple[Plugin, FakeKube]:
    fake = FakeKube()
    managed = [{"manager": "kubectl", "operation": "Update", "fieldsV1": {"f:spec": {}}}]
    fake.put(CLONE_JOB, "m", "cj", spec=JOB["spec"], status=JOB["status"])
    fake.objects[(CLONE_JOB.plural, "m", "cj")]["metadata"]["managedFields"] = managed
    fake.put(MIGRATING_VM, "m", "web-1", spec={"sourceVmId": "vm-1"})
    return Plugin(kube=fake, namespace="m", out=out, show_managed_fields=show_managed_fields), fake  # type: ignore[arg-type]
