"""What the operator calls on the API server: the source the chart's and manifests' RBAC is checked against.

Each rule is exactly what some code path needs; a test fails when the chart grants more, less, or ``*``.
"""

from __future__ import annotations

from dataclasses import dataclass

from clonejob_operator import seal


@dataclass(frozen=True)
class Rule:
    group: str
    resources: tuple[str, ...]
    verbs: tuple[str, ...]
    why: str
    names: tuple[str, ...] = ()
    """resourceNames: the rule allows these objects only (none: all of the kind)."""


# Namespaced, granted per watched namespace (Role) or everywhere (ClusterRole): the core's, then each
# registered target's (targets/catalog.py), then each feed's (sources/catalog.py), in the registries' order.
CORE = (
    Rule(
        "vmmigration.dev",
        ("clonejobs",),
        ("get", "list", "watch", "patch"),
        "the controller watches CloneJobs into its cache; the reconciler patches its finalizer",
    ),
    Rule("vmmigration.dev", ("clonejobs/status",), ("get", "patch"), "the reconciler writes CloneJob status"),
    Rule(
        "vmmigration.dev",
        ("migratingvms",),
        ("get", "list", "watch"),
        "admission reads MigratingVms from the watch cache; a change wakes the jobs waiting on it",
    ),
    Rule("vmmigration.dev", ("migratingvms/status",), ("get", "patch"), "recentCloneJobs: the claim and the record"),
    Rule("", ("events",), ("create",), "an Event per transition"),
)


def namespaced() -> tuple[Rule, ...]:
    """Every namespaced rule: the core's, each target's and each feed's."""
    from clonejob_operator.sources.catalog import FEEDS  # the targets and feeds import Rule from here
    from clonejob_operator.targets.catalog import REGISTRY

    return (*CORE, *(rule for target in REGISTRY for rule in target.rules), *(r for feed in FEEDS for r in feed.rules))


def cluster_scoped() -> tuple[Rule, ...]:
    """Cluster-scoped objects the operator reads, whatever it watches (a ClusterRole of their own): the targets'."""
    from clonejob_operator.targets.catalog import REGISTRY

    return tuple(rule for target in REGISTRY for rule in target.cluster_rules)


# Cluster-scoped, and only when watching all namespaces: kopf scans for CRDs coming and going.
CLUSTER_WIDE_ONLY = (
    Rule("apiextensions.k8s.io", ("customresourcedefinitions",), ("list", "watch"), "kopf's resource scanning"),
)

# In the operator's own namespace only, and only with --leader-elect: the Lease its replicas elect a leader with.
LEADER_ELECTION = (
    Rule(
        "coordination.k8s.io",
        ("leases",),
        ("get", "create", "update"),
        "leader election: read, take and renew the Lease (the client's LeaseLock reads, creates and replaces it)",
    ),
)

# In the operator's own namespace only: the key that seals the CloneJob statuses it writes (seal.py).
SEAL_KEY = (
    Rule(
        "",
        ("secrets",),
        ("get",),
        "read the sealing key, and no other Secret of the operator's namespace",
        names=(seal.DEFAULT_SECRET,),
    ),
    Rule("", ("secrets",), ("create",), "make the sealing key at the first start (create cannot name an object)"),
)
