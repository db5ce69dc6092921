"""TargetProjects: resolving a job's ``targetProject``, reading its credentials, and one client per project.

A TargetProject is read only in the MigratingVm's namespace, never another. Credentials, in order:
``--compute-endpoint`` (anonymous), the TargetProject's service-account key Secret, or the operator's
own identity (Application Default Credentials, which admission allows only with
``--allow-ambient-credentials``). Key material is never logged, recorded or put in an error message.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable

from google.auth.credentials import Credentials
from kubernetes.client.exceptions import ApiException
from pydantic import ValidationError

from clonejob_operator.api.targetproject import TargetProjectSpec
from clonejob_operator.codes import Code, JobError
from clonejob_operator.kube import TARGET_PROJECT, KubeClient
from clonejob_operator.settings import Settings
from clonejob_operator.targets.computeengine.client import Compute, credentials_for
from clonejob_operator.validation import describe

_NAME = r"[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?"
_PATH = re.compile(rf"^projects/[^/]+/locations/[^/]+/targetProjects/(?P<name>{_NAME})$")
_BARE = re.compile(rf"^(?P<name>{_NAME})$")


def target_project_name(reference: str) -> str | None:
    """The TargetProject a ``targetProject`` names, in the seed's path form or bare; None for neither."""
    match = _PATH.match(reference) or _BARE.match(reference)
    return match["name"] if match else None


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

    def spec(self, namespace: str, name: str, field: str) -> TargetProjectSpec | None:
        """The TargetProject ``name`` of ``namespace`` (never another), or None when missing."""
        if self.kube is None:
            return None
        body = self.kube.get(TARGET_PROJECT, namespace, name) or self.kube.refresh(TARGET_PROJECT, namespace, name)
        if body is None:
            return None
        try:
            return TargetProjectSpec.model_validate(body.get("spec") or {})
        except ValidationError as error:
            raise JobError(
                Code.INVALID_ARGUMENT, f"TargetProject {name} (from {field}.targetProject): {describe(error, 'spec')}"
            ) from None

    def project_id(self, namespace: str, target_project: str) -> str:
        spec = self.spec(namespace, target_project, "the recorded")
        if spec is None:
            raise JobError(Code.NOT_FOUND, f"TargetProject {target_project} is gone from namespace {namespace}")
        return spec.project

    def compute(self, namespace: str, target_project: str) -> Compute:
        """A client for the TargetProject, made once per credentials (a changed key makes a new one)."""
        endpoint = self.settings.compute_endpoint
        key = None if endpoint else self._key(namespace, target_project)
        cache_key = (endpoint or "", f"{namespace}/{target_project}", str(hash(key)))
        if cache_key not in self._clients:
            self._clients[cache_key] = self.connect(credentials_for(endpoint, key), endpoint)
        return self._clients[cache_key]

    def _key(self, namespace: str, target_project: str) -> bytes | None:
        """The TargetProject's service-account key, read from its Secret; None for the ambient identity."""
        spec = self.spec(namespace, target_project, "the recorded")
        if spec is None or spec.credentials_secret_ref is None or self.kube is None:
            return None
        ref = spec.credentials_secret_ref
        try:
            data = self.kube.read_secret(namespace, ref.name)
        except ApiException as error:
            code = {403: Code.PERMISSION_DENIED, 404: Code.NOT_FOUND}.get(int(error.status or 0), Code.UNKNOWN)
            raise JobError(
                code, f"cannot read Secret {ref.name} of TargetProject {target_project} (API answered {error.status})"
            ) from None
        value = data.get(ref.key)
        if value is None:
            raise JobError(
                Code.INVALID_ARGUMENT,
                f"Secret {ref.name} has no key {ref.key!r} "
                f"(TargetProject {target_project} spec.credentialsSecretRef.key)",
            )
        return base64.b64decode(value)
