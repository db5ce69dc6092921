"""Clone targets behind one interface: pick the driver for a MigratingVm, a started CloneJob, or its cleanup."""

from __future__ import annotations

from clonejob_operator.api.clonejob import CloneJobStatus
from clonejob_operator.api.computeengine import API as COMPUTE_API
from clonejob_operator.api.migratingvm import MigratingVmSpec
from clonejob_operator.codes import Code, JobError
from clonejob_operator.faults import Classifier
from clonejob_operator.kube import KubeClient
from clonejob_operator.settings import Settings
from clonejob_operator.targets.base import Driver
from clonejob_operator.targets.kubevirt.driver import KubevirtDriver


class Drivers:
    def __init__(self, kube: KubeClient, settings: Settings | None = None) -> None:
        self.kubevirt = KubevirtDriver(kube)
        self._kube, self._settings = kube, settings or Settings()
        self._compute_engine: Driver | None = None

    @property
    def compute_engine(self) -> Driver:
        """Loaded on first use: the Compute Engine client library weighs about 100 MiB, which an operator
        that only ever clones onto KubeVirt should not carry."""
        if self._compute_engine is None:
            try:
                from clonejob_operator.targets.computeengine.driver import ComputeEngineDriver
            except ImportError as error:
                raise JobError(Code.FAILED_PRECONDITION, missing_extra(error)) from None
            self._compute_engine = ComputeEngineDriver(self._kube, self._settings)
        return self._compute_engine

    def by_name(self, name: str) -> Driver:
        return self.kubevirt if name == self.kubevirt.name else self.compute_engine

    def classifiers(self) -> list[Classifier]:
        """The loaded targets' own exception mappings."""
        loaded = [self.kubevirt, *([self._compute_engine] if self._compute_engine is not None else [])]
        return [driver.classify for driver in loaded]

    def for_spec(self, spec: MigratingVmSpec) -> Driver:
        return self.kubevirt if spec.kubevirt_target_defaults is not None else self.compute_engine

    def for_status(self, status: CloneJobStatus) -> Driver | None:
        """The driver of a started job; None when it never got as far as recording its target."""
        if status.kubevirt_target_details is not None:
            return self.kubevirt
        if status.compute_engine_target_details or status.compute_engine_disks_target_details:
            return self.compute_engine
        return None

    def for_cleanup(self, status: CloneJobStatus) -> list[Driver]:
        """The job's driver, and any other whose products the status records. A job whose details are lost
        is also surveyed by the KubeVirt target, whose products are found by label at no cost."""
        own = self.for_status(status)
        recorded = status.created_resources or []
        out = [own] if own is not None else []
        if self.kubevirt not in out and (own is None or any(self.kubevirt.owns(ref) for ref in recorded)):
            out.append(self.kubevirt)
        if any(ref.api_version == COMPUTE_API for ref in recorded) and self.compute_engine not in out:
            out.append(self.compute_engine)
        return out


def missing_extra(error: ImportError) -> str:
    return (
        f"the Compute Engine target needs Google's client libraries, which this installation lacks ({error.name}): "
        "install the operator with pip install 'clonejob-operator[computeengine]' (the image has them)"
    )


__all__ = ["Driver", "Drivers"]
