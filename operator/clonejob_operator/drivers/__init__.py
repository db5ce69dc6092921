"""Clone targets behind one interface: pick the driver for a MigratingVm or a started CloneJob."""

from __future__ import annotations

from clonejob_operator.api.clonejob import CloneJobStatus
from clonejob_operator.api.migratingvm import MigratingVmSpec
from clonejob_operator.drivers.base import Driver
from clonejob_operator.drivers.computeengine import ComputeEngineDriver
from clonejob_operator.drivers.kubevirt import KubevirtDriver
from clonejob_operator.kube import Kube


class Drivers:
    def __init__(self, kube: Kube) -> None:
        self.kubevirt = KubevirtDriver(kube)
        self.compute_engine = ComputeEngineDriver()

    def for_spec(self, spec: MigratingVmSpec) -> Driver:
        return self.kubevirt if spec.kubevirt_target_defaults is not None else self.compute_engine

    def for_status(self, status: CloneJobStatus) -> Driver | None:
        """The driver of a started job; None when it never got as far as recording its target."""
        if status.kubevirt_target_details is not None:
            return self.kubevirt
        if status.compute_engine_target_details or status.compute_engine_disks_target_details:
            return self.compute_engine
        return None


__all__ = ["Driver", "Drivers"]
