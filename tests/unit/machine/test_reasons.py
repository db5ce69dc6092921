"""reasons: one vocabulary; every step, error code and wait has its reason there, each defined once."""

from __future__ import annotations

import re

from clonejob_operator.api.clonejob import StepKind
from clonejob_operator.codes import Code
from clonejob_operator.machine.reasons import Reason, Trigger, WaitReason


def test_every_step_and_every_error_code_has_its_reason_in_the_one_vocabulary() -> None:
    assert [Reason.of_step(kind) for kind in StepKind] == [
        Reason.PREPARING_VM_DISKS,
        Reason.ADAPTING_OS,
        Reason.INSTANTIATING_MIGRATED_VM,
    ]
    assert {code: Reason.of_code(code) for code in Code}[Code.DEADLINE_EXCEEDED] is Reason.DEADLINE_EXCEEDED
    assert len({Reason.of_code(code) for code in Code}) == len(Code), "no two codes read alike"


def test_reasons_are_camel_case_each_spelt_once_and_every_wait_has_one() -> None:
    assert all(re.fullmatch(r"[A-Z][A-Za-z]*", reason.value) for reason in Reason)
    assert len(Reason.__members__) == len(Reason), "no alias: each reason has one name"
    waits = [wait.reason for wait in WaitReason]
    assert all(isinstance(reason, Reason) for reason in waits) and len(set(waits)) == len(waits)
    assert WaitReason.UNAVAILABLE.trigger is Trigger.TIME and WaitReason.QUEUED.reason == "Queued"
