"""The KubeVirt target: CDI DataVolumes restored from VolumeSnapshots, and a KubeVirt VirtualMachine.

``manifests`` (pure builders) and ``driver`` (the steps, their I/O and the cleanup); its API fields are in
``api/kubevirt.py``. ``TARGET`` is what the catalog registers.
"""

from __future__ import annotations

from clonejob_operator.api.clonejob import CloneJobStatus
from clonejob_operator.kube import KubeClient
from clonejob_operator.settings import Settings
from clonejob_operator.targets.base import Driver, Target
from clonejob_operator.targets.kubevirt.driver import KubevirtDriver


def _build(kube: KubeClient, settings: Settings) -> Driver:
    return KubevirtDriver(kube)


def _recorded(status: CloneJobStatus) -> bool:
    return status.kubevirt_target_details is not None


TARGET = Target(
    name=KubevirtDriver.name,
    title="KubeVirt",
    defaults=("kubevirtTargetDefaults",),
    recorded=_recorded,
    owns=KubevirtDriver.owns,
    build=_build,
    found_by_label=True,
)
