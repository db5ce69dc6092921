"""Every exception is a fact of a kind: refused, configuration, transient or unexpected."""

from __future__ import annotations

import json

from kubernetes.client.exceptions import ApiException

from clonejob_operator.codes import Code, JobError
from clonejob_operator.faults import Fault, FaultKind, api_message, classify
from clonejob_operator.kube import KindNotServed, not_served
from clonejob_operator.targets.kubevirt.kinds import DATA_VOLUME


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


def test_a_busy_server_s_retry_after_is_carried_for_the_queue_and_an_unexpected_error_its_traceback() -> None:
    busy = api(429, {"kind": "Status"})
    busy.headers = {"Retry-After": "7"}
    assert classify(busy, "reading").retry_after == 7.0
    assert classify(api(503, {"kind": "Status"}), "reading").retry_after is None
    try:
        raise TypeError("oops")
    except TypeError as error:
        unexpected = classify(error, "step preparingVmDisks")
    assert isinstance(unexpected.cause, TypeError) and unexpected.cause.__traceback__ is not None
    assert unexpected == Fault(FaultKind.UNEXPECTED, Code.UNKNOWN, unexpected.message), "the cause is not compared"


def test_a_field_the_clusters_schema_does_not_declare_is_a_configuration_fault_naming_it() -> None:
    said = (
        'DataVolume in version "v1beta1" cannot be handled as a DataVolume: strict decoding error: '
        'unknown field "spec.storage.storageClassName", unknown field "spec.storage.bogus"'
    )
    fault = classify(api(400, {"kind": "Status", "message": said}, "Bad Request"), "creating DataVolume web-1-disk-0")
    assert (fault.kind, fault.code) == (FaultKind.CONFIGURATION, Code.FAILED_PRECONDITION)
    assert fault.kind.ends_job
    assert fault.message.startswith(
        "creating DataVolume web-1-disk-0: the cluster's schema for it does not declare "
        "spec.storage.storageClassName, spec.storage.bogus;"
    )
    assert "install a version of that kind's CRD" in fault.message
    other = classify(api(400, {"kind": "Status", "message": "a bad request"}), "creating DataVolume d")
    assert (other.kind, other.code) == (FaultKind.REFUSED, Code.INVALID_ARGUMENT), "any other 400 as before"
