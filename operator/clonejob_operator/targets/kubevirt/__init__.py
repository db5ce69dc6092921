"""The KubeVirt target: CDI DataVolumes restored from VolumeSnapshots, and a KubeVirt VirtualMachine.

``manifests`` (pure builders) and ``driver`` (the steps, their I/O and the cleanup); its API fields are in
``api/kubevirt.py``. ``TARGET`` is what the catalog registers.
"""

from __future__ import annotations

from clonejob_operator.api.clonejob import CloneJobStatus, StepKind
from clonejob_operator.kube import Body, KubeClient
from clonejob_operator.permissions import Rule
from clonejob_operator.settings import Settings
from clonejob_operator.targets.base import Driver, Target, Watch
from clonejob_operator.targets.kubevirt.driver import KubevirtDriver
from clonejob_operator.targets.kubevirt.kinds import BATCH_JOB, DATA_VOLUME, VIRTUAL_MACHINE, VOLUME_SNAPSHOT


def _build(kube: KubeClient, settings: Settings) -> Driver:
    return KubevirtDriver(kube)


def _restoring_from(status: Body) -> tuple[str, ...]:
    """The VolumeSnapshots a job preparing its disks restores from (its status.sourceSync): a snapshot that
    becomes ready, or goes, moves such a job on."""
    preparing = status.get("state") == "ACTIVE" and status.get("currentStep") == StepKind.PREPARING_VM_DISKS.value
    snapshots = (status.get("sourceSync") or {}).get("snapshots") or [] if preparing else []
    return tuple(str(s["volumeSnapshot"]) for s in snapshots if isinstance(s, dict) and s.get("volumeSnapshot"))


def _recorded(status: CloneJobStatus) -> bool:
    return status.kubevirt_target_details is not None


TARGET = Target(
    name=KubevirtDriver.name,
    title="KubeVirt",
    defaults=("kubevirtTargetDefaults",),
    recorded=_recorded,
    owns=KubevirtDriver.owns,
    build=_build,
    watches=(
        Watch(DATA_VOLUME, product=True),
        Watch(VIRTUAL_MACHINE, product=True),
        Watch(BATCH_JOB, product=True),
        Watch(VOLUME_SNAPSHOT, reads=_restoring_from),
    ),
    rules=(
        Rule(
            "cdi.kubevirt.io",
            ("datavolumes",),
            ("get", "list", "watch", "create", "delete"),
            "preparingVmDisks creates them and watches their progress; cleanup deletes them",
        ),
        Rule(
            "kubevirt.io",
            ("virtualmachines",),
            ("get", "list", "watch", "create", "delete"),
            "instantiatingMigratedVm creates it and watches it become ready; cleanup deletes it",
        ),
        Rule(
            "batch",
            ("jobs",),
            ("get", "list", "watch", "create", "delete"),
            "adaptingOs runs a Job and watches it complete; cleanup removes it",
        ),
        Rule(
            "snapshot.storage.k8s.io",
            ("volumesnapshots",),
            ("get", "list", "watch"),
            "a disk's snapshot must exist and be ready; its readiness wakes the job",
        ),
    ),
    cluster_rules=(
        Rule(
            "vmmigration.dev",
            ("adaptationprofiles",),
            ("get",),
            "an adaptingOs step runs what the AdaptationProfile its MigratingVm names says (read when needed)",
        ),
    ),
    found_by_label=True,
)
