"""Clone targets behind one interface: pick the driver for a MigratingVm, a started CloneJob, or its cleanup."""

from __future__ import annotations

from clonejob_operator.api.clonejob import CloneJobStatus
from clonejob_operator.api.migratingvm import MigratingVmSpec
from clonejob_operator.kube import Kube
from clonejob_operator.settings import Settings
from clonejob_operator.targets.base import Driver
from clonejob_operator.targets.computeengine.driver import ComputeEngineDriver
from clonejob_operator.targets.kubevirt.driver import KubevirtDriver


class Drivers:
    def __init__(self, kube: Kube, settings: Settings | None = None) -> None:
        self.kubevirt = KubevirtDriver(kube)
        self.compute_engine = ComputeEngineDriver(kube, settings or Settings())

    def for_spec(self, spec: MigratingVmSpec) -> Driver:
        return self.kubevirt if spec.kubevirt_target_defaults is not None else self.compute_engine

    def for_status(self, status: CloneJobStatus) -> Driver | None:
        """The driver of a started job; None when it never got as far as recording its target."""
        if status.kubevirt_target_details is not None:
            return self.kubevirt
        if status.compute_engine_target_details or status.compute_engine_disks_target_details:
            return self.compute_engine
        return None

    def all(self) -> tuple[Driver, ...]:
        return (self.kubevirt, self.compute_engine)

    def for_cleanup(self, status: CloneJobStatus) -> list[Driver]:
        """The job's driver, and any other whose products the status records (a job whose details are lost)."""
        own = self.for_status(status)
        recorded = status.created_resources or []
        return [d for d in self.all() if d is own or any(d.owns(ref) for ref in recorded)]


__all__ = ["Driver", "Drivers"]
