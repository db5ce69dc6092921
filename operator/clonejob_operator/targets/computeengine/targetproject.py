"""TargetProjects: resolving a job's ``targetProject``, pinning it, reading its credentials, one client per pin.

A TargetProject is read only in the MigratingVm's namespace, never another. When a job starts it records
what its TargetProject resolved to (uid, project ID, credentials Secret: the *pin*); from then on the job
uses that pin only. A TargetProject changed or deleted under a running job fails the job with
FAILED_PRECONDITION: it never switches to another project or identity. Cleanup uses the pin as recorded.

Credentials, in order: ``--compute-endpoint`` (anonymous), the pinned Secret (which must be labelled
``vmmigration.dev/credentials: "true"``), or the operator's own identity, which every construction of a
client refuses unless the operator runs with ``--allow-ambient-credentials``. Key material is never logged,
recorded or put in an error message, and a message about a Secret the operator may not use never says
whether it exists or what it holds.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from dataclasses import dataclass

from google.auth.credentials import Credentials
from kubernetes.client.exceptions import ApiException
from pydantic import ValidationError

from clonejob_operator import names
from clonejob_operator.api.base import describe
from clonejob_operator.api.clonejob import SourceSync
from clonejob_operator.api.targetproject import SecretKeyRef, TargetProjectSpec
from clonejob_operator.codes import Code, JobError
from clonejob_operator.kube import TARGET_PROJECT, KubeClient, Secret, confirmed
from clonejob_operator.settings import Settings
from clonejob_operator.targets.computeengine.client import Compute, credentials_for

_NAME = r"[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?"
_PATH = re.compile(rf"^projects/[^/]+/locations/[^/]+/targetProjects/(?P<name>{_NAME})$")
_BARE = re.compile(rf"^(?P<name>{_NAME})$")


def target_project_name(reference: str) -> str | None:
    """The TargetProject a ``targetProject`` names, in the API's path form or bare; None for neither."""
    match = _PATH.match(reference) or _BARE.match(reference)
    return match["name"] if match else None


class SecretUnusable(JobError):
    """A Secret the tenant names is missing, has not opted in, or lacks its key: theirs to fix, and a job that
    starts waits for it (unlike the operator's own role lacking get on Secrets, which is the installation's)."""


@dataclass(frozen=True)
class Pin:
    """What a job's TargetProject resolved to when the job started."""

    name: str
    uid: str | None
    project: str
    secret: SecretKeyRef | None
    """None: the operator's own identity."""

    @classmethod
    def recorded(cls, sync: SourceSync | None, project: str | None = None) -> Pin | None:
        """The pin a started job recorded; ``project`` for a job recorded before the project was pinned."""
        if sync is None or not sync.target_project:
            return None
        return cls(
            sync.target_project, sync.target_project_uid, sync.project or project or "", sync.credentials_secret_ref
        )

    def record(self, sync: SourceSync) -> SourceSync:
        return sync.model_copy(
            update={
                "target_project": self.name,
                "target_project_uid": self.uid,
                "project": self.project,
                "credentials_secret_ref": self.secret,
            }
        )


class TargetProjects:
    def __init__(
        self,
        kube: KubeClient | None,
        settings: Settings,
        connect: Callable[[Credentials, str | None], Compute] = Compute.connect,
    ) -> None:
        self.kube = kube
        self.settings = settings
        self.connect = connect
        self._clients: dict[tuple[str, str, str], Compute] = {}

    def resolve(self, namespace: str, name: str, field: str) -> Pin | None:
        """What the TargetProject ``name`` of ``namespace`` (never another) says now, or None when missing."""
        if self.kube is None:
            return None
        body = confirmed(self.kube, TARGET_PROJECT, namespace, name)
        if body is None:
            return None
        try:
            spec = TargetProjectSpec.model_validate(body.get("spec") or {})
        except ValidationError as error:
            raise JobError(
                Code.INVALID_ARGUMENT, f"TargetProject {name} (from {field}.targetProject): {describe(error, 'spec')}"
            ) from None
        return Pin(name, (body.get("metadata") or {}).get("uid"), spec.project, spec.credentials_secret_ref)

    def check(self, namespace: str, pin: Pin) -> None:
        """FAILED_PRECONDITION unless the TargetProject still says what it said when the job started."""
        now = self.resolve(namespace, pin.name, "the recorded")
        change = _change(pin, now)
        if change:
            raise JobError(
                Code.FAILED_PRECONDITION,
                f"TargetProject {pin.name} {change} while the job ran: a job keeps the project and credentials it "
                "started with, and fails rather than switch",
            )

    def compute(self, namespace: str, pin: Pin) -> Compute:
        """A client for the pin, made once per credentials (a changed key makes a new one)."""
        endpoint = self.settings.compute_endpoint
        key = None if endpoint or pin.secret is None else self._key(namespace, pin.name, pin.secret)
        cache_key = (endpoint or "", f"{namespace}/{pin.name}/{pin.project}", str(hash(key)))
        if cache_key not in self._clients:
            credentials = credentials_for(endpoint, key, self.settings.allow_ambient_credentials, pin.name)
            self._clients[cache_key] = self.connect(credentials, endpoint)
        return self._clients[cache_key]

    def secret(self, namespace: str, name: str, field: str) -> Secret:
        """A Secret that opted in (names.SECRET_OPT_IN); of one that did not, or does not exist, nothing is said."""
        if self.kube is None:
            raise JobError(Code.FAILED_PRECONDITION, "no cluster to read Secrets from")
        label, value = names.SECRET_OPT_IN
        unusable = SecretUnusable(
            Code.PERMISSION_DENIED,
            f"{field} names Secret {name}, which this operator may not use: it uses only a Secret of namespace "
            f"{namespace} labelled {label}={value}",
        )
        try:
            secret = self.kube.read_secret(namespace, name)
        except ApiException as error:
            if error.status == 404:
                raise unusable from None
            if error.status == 403:
                raise JobError(
                    Code.PERMISSION_DENIED,
                    f"the operator may not read Secrets in namespace {namespace} (its role lacks get on secrets)",
                ) from None
            raise
        if secret.labels.get(label) != value:
            raise unusable
        return secret

    def waiting_for(self, namespace: str, pin: Pin) -> str | None:
        """Why the pin's Secret cannot be used yet (missing, not labelled, or without its key), or None. A job
        waits for it as for a missing TargetProject: a Secret made a moment late is no failure."""
        if pin.secret is None or self.settings.compute_endpoint:
            return None
        try:
            self._key(namespace, pin.name, pin.secret)
        except SecretUnusable as error:
            return error.message  # the operator's own role lacking get on Secrets is no wait: it is raised
        return None

    def _key(self, namespace: str, target_project: str, ref: SecretKeyRef) -> bytes:
        """The service-account key, from a Secret that opted in."""
        secret = self.secret(namespace, ref.name, f"TargetProject {target_project} spec.credentialsSecretRef")
        found = secret.data.get(ref.key)
        if found is None:
            raise SecretUnusable(
                Code.INVALID_ARGUMENT,
                f"Secret {ref.name} has no key {ref.key!r} "
                f"(TargetProject {target_project} spec.credentialsSecretRef.key)",
            )
        return base64.b64decode(found)


def _change(pin: Pin, now: Pin | None) -> str:
    """How the TargetProject differs from the pin, in words; empty when it does not."""
    if now is None:
        return "was deleted"
    if pin.uid is not None and now.uid != pin.uid:
        return "was deleted and made again"
    if now.project != pin.project:
        return f"now names project {now.project} (the job started in {pin.project})"
    if now.secret != pin.secret:
        return "now names other credentials (spec.credentialsSecretRef changed)"
    return ""
