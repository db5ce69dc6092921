"""Compute Engine clients for one TargetProject, and the one place their errors become job errors.

Credentials, in order: ``--compute-endpoint`` (anonymous, every call to that URL: tests, emulators,
proxies), the TargetProject's service-account key Secret, or the operator's own identity
(Application Default Credentials), which admission allows only with ``--allow-ambient-credentials``.
Key material is never logged, recorded or put in an error message.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import google.auth
from google.api_core import exceptions as gexc
from google.api_core.client_options import ClientOptions
from google.auth.credentials import AnonymousCredentials, Credentials
from google.cloud import compute_v1
from google.oauth2 import service_account

from clonejob_operator.codes import Code, JobError

T = TypeVar("T")
_EXHAUSTED = ("QUOTA_EXCEEDED", "quotaExceeded", "ZONE_RESOURCE_POOL_EXHAUSTED", "rateLimitExceeded")


class Transient(Exception):
    """Compute Engine answered 429 or 5xx: try again later (the step's timeout still applies)."""


@dataclass
class Compute:
    disks: compute_v1.DisksClient
    instances: compute_v1.InstancesClient
    operations: compute_v1.ZoneOperationsClient

    @classmethod
    def connect(cls, credentials: Credentials, endpoint: str | None = None) -> Compute:
        options = ClientOptions(api_endpoint=endpoint) if endpoint else None
        kwargs: dict[str, Any] = {"credentials": credentials, "client_options": options}
        return cls(
            disks=compute_v1.DisksClient(**kwargs),
            instances=compute_v1.InstancesClient(**kwargs),
            operations=compute_v1.ZoneOperationsClient(**kwargs),
        )


def credentials_for(endpoint: str | None, key: bytes | None, allow_ambient: bool, target_project: str) -> Credentials:
    """Anonymous for an endpoint override; the service-account key when given; else the ambient identity, which
    is refused unless the operator runs with ``--allow-ambient-credentials`` (checked at every construction)."""
    if endpoint:
        return AnonymousCredentials()  # type: ignore[no-untyped-call]
    if key is not None:
        try:
            info = json.loads(key)
            return service_account.Credentials.from_service_account_info(  # type: ignore[no-any-return,no-untyped-call]
                info, scopes=["https://www.googleapis.com/auth/cloud-platform"]
            )
        except (ValueError, KeyError):
            raise JobError(
                Code.INVALID_ARGUMENT, "the TargetProject's credentials Secret does not hold a service-account key"
            ) from None
    if not allow_ambient:
        raise JobError(Code.PERMISSION_DENIED, ambient_refusal(target_project))
    found, _ = google.auth.default(scopes=["https://www.googleapis.com/auth/cloud-platform"])
    return found


def ambient_refusal(target_project: str) -> str:
    return (
        f"TargetProject {target_project} names no spec.credentialsSecretRef, and this operator does not lend its "
        "own Google identity to namespaces (it runs without --allow-ambient-credentials): give the TargetProject "
        "a service-account key Secret"
    )


def call(what: str, fn: Callable[..., T], *args: Any, missing: str | None = None, **kwargs: Any) -> T | None:
    """Call Compute Engine. None for a 404 when ``missing`` is None (a get of something not made yet);
    429/5xx raise Transient (retried with backoff); other refusals become the job's error."""
    try:
        return fn(*args, **kwargs)
    except gexc.NotFound as error:
        if missing is None:
            return None
        raise JobError(Code.NOT_FOUND, f"{what}: {missing}: {_message(error)}") from None
    except (gexc.TooManyRequests, gexc.ServerError) as error:
        raise Transient(f"{what}: Compute Engine answered {error.code}: {_message(error)}") from None
    except gexc.GoogleAPICallError as error:
        raise as_job_error(what, error) from None


def as_job_error(what: str, error: gexc.GoogleAPICallError) -> JobError:
    reasons = " ".join(str(e.get("reason", "")) for e in error.errors or [] if isinstance(e, dict))
    if any(reason in reasons or reason in str(error.message) for reason in _EXHAUSTED):
        code = Code.RESOURCE_EXHAUSTED
    else:
        code = {400: Code.INVALID_ARGUMENT, 403: Code.PERMISSION_DENIED, 409: Code.ALREADY_EXISTS}.get(
            int(error.code or 0), Code.UNKNOWN
        )
    return JobError(code, f"{what}: Compute Engine answered {error.code}: {_message(error)}")


def _message(error: gexc.GoogleAPICallError) -> str:
    return str(error.message)[:500]
