"""What the operator calls on the API server: the source the chart's and manifests' RBAC is checked against.

Each rule is exactly what some code path needs; a test fails when the chart grants more, less, or ``*``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Rule:
    group: str
    resources: tuple[str, ...]
    verbs: tuple[str, ...]
    why: str


# Namespaced: granted per watched namespace (Role) or everywhere (ClusterRole).
NAMESPACED = (
    Rule(
        "vmmigration.dev",
        ("clonejobs",),
        ("get", "list", "watch", "patch"),
        "kopf watches CloneJobs and patches its finalizer and annotations; admission lists the queue",
    ),
    Rule("vmmigration.dev", ("clonejobs/status",), ("get", "patch"), "the reconciler writes CloneJob status"),
    Rule("vmmigration.dev", ("migratingvms",), ("get",), "admission reads the MigratingVm"),
    Rule("vmmigration.dev", ("migratingvms/status",), ("get", "patch"), "recentCloneJobs: the claim and the record"),
    Rule(
        "cdi.kubevirt.io",
        ("datavolumes",),
        ("get", "list", "create", "delete"),
        "preparingVmDisks creates them; cleanup lists by label and deletes",
    ),
    Rule(
        "kubevirt.io",
        ("virtualmachines",),
        ("get", "list", "create", "delete"),
        "instantiatingMigratedVm creates it; cleanup lists by label and deletes",
    ),
    Rule("batch", ("jobs",), ("get", "list", "create", "delete"), "adaptingOs runs a Job; cleanup removes it"),
    Rule("snapshot.storage.k8s.io", ("volumesnapshots",), ("get",), "a disk's snapshot must exist and be ready"),
    Rule("", ("events",), ("create",), "an Event per transition"),
)

# Cluster-scoped, and only when watching all namespaces: kopf scans for CRDs coming and going.
CLUSTER_WIDE_ONLY = (
    Rule("apiextensions.k8s.io", ("customresourcedefinitions",), ("list", "watch"), "kopf's resource scanning"),
)
