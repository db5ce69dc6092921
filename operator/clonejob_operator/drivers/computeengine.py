"""The Compute Engine targets: recognised, not implemented yet."""

from __future__ import annotations

from clonejob_operator.api.clonejob import CloneJobStatus, StepKind
from clonejob_operator.codes import Code, JobError
from clonejob_operator.drivers.base import JobContext, Source, SyncResult
from clonejob_operator.kube import Kind
from clonejob_operator.machine import Plan

MESSAGE = (
    "the Compute Engine targets (spec.computeEngineTargetDefaults, spec.computeEngineDisksTargetDefaults) "
    "are not implemented yet; use spec.kubevirtTargetDefaults"
)


class ComputeEngineDriver:
    def plan(self, clone_job: str, source: Source) -> Plan:
        raise JobError(Code.UNIMPLEMENTED, MESSAGE)

    def steps(self, status: CloneJobStatus) -> tuple[StepKind, ...]:
        raise JobError(Code.UNIMPLEMENTED, MESSAGE)

    def sync(self, step: StepKind, job: JobContext) -> SyncResult:
        raise JobError(Code.UNIMPLEMENTED, MESSAGE)

    def product_kinds(self, status: CloneJobStatus) -> tuple[Kind, ...]:
        return ()
