"""Every exception is a fact of a kind: refused, configuration, transient or unexpected."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from kubernetes.client.exceptions import ApiException

from clonejob_operator.codes import Code, JobError
from clonejob_operator.faults import Fault, FaultKind, Streaks, api_message, classify
from clonejob_operator.kube import DATA_VOLUME, KindNotServed, not_served

T0 = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)


def api(status: int, body: object, reason: str = "") -> ApiException:
    error = ApiException(status=status, reason=reason)
    error.body = body if isinstance(body, str) else json.dumps(body)
    return error


def test_kinds_and_codes() -> None:
    forbidden = api(403, {"kind": "Status", "message": 'datavolumes is forbidden: User "x" cannot create'}, "Forbidden")
    cases = [
        (JobError(Code.ALREADY_EXISTS, "taken"), FaultKind.REFUSED, Code.ALREADY_EXISTS),
        (forbidden, FaultKind.REFUSED, Code.PERMISSION_DENIED),
        (api(422, {"kind": "Status", "message": "bad"}), FaultKind.REFUSED, Code.INVALID_ARGUMENT),
        (api(503, {"kind": "Status"}), FaultKind.TRANSIENT, Code.UNAVAILABLE),
        (api(429, {"kind": "Status"}), FaultKind.TRANSIENT, Code.UNAVAILABLE),
        (api(409, {"kind": "Status"}), FaultKind.TRANSIENT, Code.ABORTED),
        (ConnectionRefusedError("refused"), FaultKind.TRANSIENT, Code.UNAVAILABLE),
        (KindNotServed(DATA_VOLUME), FaultKind.CONFIGURATION, Code.FAILED_PRECONDITION),
        (TypeError("oops"), FaultKind.UNEXPECTED, Code.UNKNOWN),
    ]
    for error, kind, code in cases:
        fault = classify(error, "step preparingVmDisks")
        assert (fault.kind, fault.code) == (kind, code), error
    assert "cannot create" in classify(forbidden, "doing").message
    assert classify(KindNotServed(DATA_VOLUME), "x").kind.ends_job


def test_a_targets_own_classifier_comes_first() -> None:
    mine = Fault(FaultKind.CONFIGURATION, Code.FAILED_PRECONDITION, "no credentials")
    fault = classify(TypeError("x"), "step preparingVmDisks", [lambda error: mine])
    assert fault.kind is FaultKind.CONFIGURATION and fault.message == "step preparingVmDisks: no credentials"


def test_a_path_the_server_does_not_serve_is_told_from_a_missing_object() -> None:
    assert not_served(api(404, "404 page not found\n"))
    assert not not_served(api(404, {"kind": "Status", "reason": "NotFound", "details": {"name": "x"}}))
    assert "datavolumes.cdi.kubevirt.io/v1beta1" in str(KindNotServed(DATA_VOLUME))
    assert api_message(api(404, "404 page not found\n")) == "404 page not found"


def test_streaks_count_a_run_of_faults_from_its_start() -> None:
    streaks = Streaks()
    fault = Fault(FaultKind.TRANSIENT, Code.UNAVAILABLE, "refused")
    first = streaks.met("u", fault, T0)
    later = streaks.met("u", fault, T0 + timedelta(seconds=30))
    assert (first.since, first.count) == (T0, 1) and (later.since, later.count) == (T0, 2)
    streaks.cleared("u")
    assert streaks.met("u", fault, T0 + timedelta(minutes=5)).since == T0 + timedelta(minutes=5)
    assert streaks.first_trace("u", "boom") and not streaks.first_trace("u", "boom")
