"""TargetProject: a Google Cloud project that CloneJobs of its namespace may clone into (the vmmigration API's
TargetProject resource, namespaced: a namespace user can only point jobs at projects of their namespace)."""

from __future__ import annotations

from pydantic import Field

from clonejob_operator.api.base import ApiModel, SubdomainName

PROJECT_ID = r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$"


class SecretKeyRef(ApiModel):
    """A key of a Secret in the TargetProject's namespace."""

    name: SubdomainName = Field(description="The Secret's name, in the TargetProject's namespace.")
    key: str = Field(
        min_length=1, max_length=253, pattern=r"^[-._a-zA-Z0-9]+$", description="The key holding the JSON key file."
    )


class TargetProjectSpec(ApiModel):
    project: str = Field(pattern=PROJECT_ID, max_length=30, description="The target Google Cloud project ID.")
    credentials_secret_ref: SecretKeyRef | None = Field(
        default=None,
        description=(
            "A service-account key (JSON) to act as in this project. Without it the operator's own identity is "
            "used, which it allows only when run with --allow-ambient-credentials."
        ),
    )
    description: str | None = Field(default=None, max_length=1024, description="The target project's description.")


class TargetProjectStatus(ApiModel):
    """Nothing is written here yet; the subresource keeps room for it."""
