"""Errors as facts: every exception met while observing or committing becomes a ``Fault`` for the next decision.

A fault has a kind, which decides what the state machine does with it:

- ``REFUSED``: the job cannot go on as it is (an API refusal, a product that failed, a name that is taken).
  A running job fails with the fault's code; cleanup reports it as what blocks it.
- ``CONFIGURATION``: something the operator's installation must fix (no credentials, a Secret that cannot
  be read, a CRD that is not served). A running job fails with the code and a message naming the fix.
- ``TRANSIENT``: worth retrying (429, 5xx, a connection refused, a timeout). The job keeps its state; its
  condition message names the error at once, and it shows ``Stalled=True`` once the same kind of
  trouble has lasted ``Settings.stall_after``. Deadlines and cancel still apply.
- ``UNEXPECTED``: an exception nobody classified (a bug, or a library's surprise). Treated as
  transient, but logged once with its traceback and shown as ``Stalled=True`` at once.

A fault carries what the work queue needs to retry it (a server's Retry-After) and, for an unexpected
one, the exception itself, so that whoever logs it can show its traceback.
"""

from __future__ import annotations

import enum
import json
import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

import urllib3
from kubernetes.client.exceptions import ApiException

from clonejob_operator.codes import Code, JobError
from clonejob_operator.kube import KindNotServed, NotLeading, retry_after, status_of

log = logging.getLogger(__name__)


class FaultKind(enum.Enum):
    REFUSED = "refused"
    CONFIGURATION = "configuration"
    TRANSIENT = "transient"
    UNEXPECTED = "unexpected"

    @property
    def ends_job(self) -> bool:
        return self in (FaultKind.REFUSED, FaultKind.CONFIGURATION)


@dataclass(frozen=True)
class Fault:
    kind: FaultKind
    code: Code
    message: str
    """In the error's own words, prefixed by what was being done."""
    since: datetime | None = None
    """When this run of faults began (from the job's memory: see ``memory.py``)."""
    retry_after: float | None = None
    """The seconds the API server asked to be left alone (Retry-After): the queue waits at least that."""
    unanswered: bool = False
    """No answer came at all (refused, reset, timed out): the server's return is worth another look at once."""
    cause: BaseException | None = field(default=None, compare=False, repr=False)
    """An unexpected error's exception, logged once with its traceback."""

    @property
    def error(self) -> JobError:
        return JobError(self.code, self.message)


NO_ANSWER: tuple[type[BaseException], ...] = (OSError, urllib3.exceptions.HTTPError)
"""No answer from the API server (refused, reset, timed out, the client's retries used up): transient."""

Classifier = Callable[[BaseException], "Fault | None"]
"""A target's own mapping of its library's exceptions (Google's credential errors, say); None: not mine."""


def classify(error: BaseException, doing: str, extra: Iterable[Classifier] = ()) -> Fault:
    """The fault an exception is. ``doing`` says what was being done, for the message."""
    for classifier in extra:
        found = classifier(error)
        if found is not None:
            return replace(found, message=f"{doing}: {found.message}")
    if isinstance(error, JobError):
        return Fault(FaultKind.REFUSED, error.code, error.message)
    if isinstance(error, NotLeading):
        return Fault(FaultKind.TRANSIENT, Code.ABORTED, f"{doing}: {error}")
    if isinstance(error, KindNotServed):
        return Fault(FaultKind.CONFIGURATION, Code.FAILED_PRECONDITION, f"{doing}: {error}")
    if isinstance(error, ApiException):
        return _api_fault(error, doing)
    if isinstance(error, NO_ANSWER):
        message = f"{doing}: {type(error).__name__}: {_short(error)}"
        return Fault(FaultKind.TRANSIENT, Code.UNAVAILABLE, message, unanswered=True)
    message = f"{doing}: unexpected {type(error).__name__}: {_short(error)}"
    return Fault(FaultKind.UNEXPECTED, Code.UNKNOWN, message, cause=error)


_REFUSALS = {
    400: Code.INVALID_ARGUMENT,
    403: Code.PERMISSION_DENIED,
    404: Code.NOT_FOUND,
    422: Code.INVALID_ARGUMENT,
    401: Code.UNAUTHENTICATED,
}


STRICT_DECODING = "strict decoding error"
"""How the API server begins its refusal of fields a kind's schema does not declare (strict field validation)."""
_UNDECLARED = re.compile(r'(unknown|duplicate) field "([^"]+)"')


def _api_fault(error: ApiException, doing: str) -> Fault:
    status = status_of(error)
    words = f"the API answered {status} {error.reason or ''}".rstrip()
    detail = api_message(error)
    if status == 400 and STRICT_DECODING in detail:
        return _undeclared(detail, doing)
    message = f"{doing}: {words}" + (f": {detail}" if detail else "")
    code = _REFUSALS.get(status)
    if code is None:  # 409 (somebody wrote first), 429, 5xx, or no answer at all
        code = Code.UNAVAILABLE if status != 409 else Code.ABORTED
        return Fault(FaultKind.TRANSIENT, code, message, retry_after=retry_after(error))
    return Fault(FaultKind.REFUSED, code, message)


def _undeclared(detail: str, doing: str) -> Fault:
    """A product the cluster's schema for its kind cannot take whole: stored, it would be pruned into another
    product than the one asked for (a disk without its storage class, say). The installation must change."""
    found = _UNDECLARED.findall(detail)
    unknown = [field for why, field in found if why == "unknown"]
    fields = ", ".join(unknown or [field for _, field in found]) or "some of its fields"
    words = "does not declare" if unknown else "refuses"
    return Fault(
        FaultKind.CONFIGURATION,
        Code.FAILED_PRECONDITION,
        f"{doing}: the cluster's schema for it {words} {fields}; it would be stored without them, another "
        f"product than the one asked for, so it was not made: install a version of that kind's CRD that "
        f"declares them (the API answered: {detail})",
    )


def api_message(error: ApiException) -> str:
    """The server's own message (a Status body's ``message``), one line, without a stray newline."""
    try:
        body: Any = json.loads(error.body or "{}")
        text = str(body.get("message", "")) if isinstance(body, dict) else str(body)
    except ValueError:
        text = str(error.body or "")
    return " ".join(text.split())[:500]


def _short(error: BaseException) -> str:
    return " ".join(str(error).split())[:300] or type(error).__name__
