"""The pydantic models: camelCase on the wire, strict, with errors that name the field."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from clonejob_operator.api.base import describe
from clonejob_operator.api.clonejob import CloneJobSpec, CloneJobStatus, CloneStep, State, StepKind
from clonejob_operator.api.migratingvm import MigratingVmSpec


def test_spec_round_trip_is_camel_case() -> None:
    spec = CloneJobSpec.model_validate({"migratingVm": "web-1"})
    assert spec.wire() == {"migratingVm": "web-1", "cancel": False}


def test_unknown_and_missing_fields_name_the_field() -> None:
    with pytest.raises(ValidationError) as caught:
        CloneJobSpec.model_validate({"migratingVM": "web-1"})
    text = describe(caught.value, "spec")
    assert "spec.migratingVm: Field required" in text
    assert "spec.migratingVM: Extra inputs are not permitted" in text


def test_migratingvm_defaults_can_be_empty() -> None:
    spec = MigratingVmSpec.model_validate({"sourceVmId": "vm-1", "kubevirtTargetDefaults": {}})
    assert spec.kubevirt_target_defaults is not None


def test_nested_errors_name_the_path() -> None:
    with pytest.raises(ValidationError) as caught:
        MigratingVmSpec.model_validate({"sourceVmId": "v", "kubevirtTargetDefaults": {"networks": [{"name": "A"}]}})
    assert "spec.kubevirtTargetDefaults.networks[0].name" in describe(caught.value, "spec")


def test_state_enum_is_the_vmmigration_apis_enum() -> None:
    assert [s.value for s in State] == [
        "STATE_UNSPECIFIED",
        "PENDING",
        "ACTIVE",
        "FAILED",
        "SUCCEEDED",
        "CANCELLED",
        "CANCELLING",
        "ADAPTING_OS",
    ]
    assert {s for s in State if s.terminal} == {State.SUCCEEDED, State.FAILED, State.CANCELLED}


def test_step_kind_and_state() -> None:
    step = CloneStep.begin(StepKind.ADAPTING_OS, "2026-11-26T10:00:00Z")
    assert step.kind is StepKind.ADAPTING_OS
    assert step.wire() == {"adaptingOs": {}, "startTime": "2026-11-26T10:00:00Z", "progressPercent": 0}
    assert StepKind.ADAPTING_OS.state is State.ADAPTING_OS
    assert StepKind.PREPARING_VM_DISKS.state is State.ACTIVE


def test_status_timestamps_are_validated() -> None:
    with pytest.raises(ValidationError):
        CloneJobStatus.model_validate({"createTime": "2026-11-26 10:00"})


def test_running_step() -> None:
    status = CloneJobStatus.model_validate(
        {
            "steps": [
                {"preparingVmDisks": {}, "startTime": "2026-11-26T10:00:00Z", "endTime": "2026-11-26T10:01:00Z"},
                {"instantiatingMigratedVm": {}, "startTime": "2026-11-26T10:01:00Z"},
            ]
        }
    )
    assert status.running_step is not None and status.running_step.kind is StepKind.INSTANTIATING_MIGRATED_VM


def test_merge_patch_turns_old_into_new() -> None:
    from clonejob_operator.commit import merge_patch

    old = {"state": "ACTIVE", "currentStep": "x", "steps": [1, 2], "details": {"a": 1, "b": 2}}
    new = {"state": "SUCCEEDED", "steps": [1, 2, 3], "details": {"a": 1, "c": 3}}
    assert merge_patch(old, new) == {
        "state": "SUCCEEDED",
        "currentStep": None,
        "steps": [1, 2, 3],
        "details": {"b": None, "c": 3},
    }
