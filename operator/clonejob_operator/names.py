"""Deterministic names and labels of what a CloneJob creates."""

from __future__ import annotations

import hashlib
import re

from clonejob_operator import GROUP

LABEL_JOB = f"{GROUP}/clone-job"
LABEL_JOB_UID = f"{GROUP}/clone-job-uid"
LABEL_MIGRATING_VM = f"{GROUP}/migrating-vm"
LABEL_JOB_RUN = f"{GROUP}/clone-job-run"
"""Which admission of the job made a product: its ``status.createdRevision``, which the seal covers. A job
whose status was emptied and that was admitted again is another run, and never adopts or deletes the
products of the first (a finished clone among them)."""
SECRET_OPT_IN = (f"{GROUP}/credentials", "true")
"""The label a Secret must carry before the operator reads it for a namespace's clones (a TargetProject's key,
a VM's metadata): whoever may label Secrets there says which ones the operator may use."""
MANAGED_BY = ("app.kubernetes.io/managed-by", "clonejob-operator")

FINALIZER = f"{GROUP}/finalizer"
ANNOTATION_PREFIX = GROUP

_MAX_LABEL = 63
_INVALID = re.compile(r"[^a-z0-9-]+")


def dns_label(base: str, suffix: str = "") -> str:
    """``base`` + ``suffix`` as a DNS-1123 label (<= 63 characters), the same for the same input.

    Over-long or non-label names keep a readable prefix and gain a short hash of the original.
    """
    cleaned = _INVALID.sub("-", base.lower()).strip("-") or "x"
    if cleaned == base and len(base) + len(suffix) <= _MAX_LABEL:
        return base + suffix
    digest = hashlib.sha256(base.encode()).hexdigest()[:8]
    room = _MAX_LABEL - len(suffix) - len(digest) - 1
    return f"{cleaned[:room].rstrip('-')}-{digest}{suffix}"


def label_value(text: str) -> str:
    """A label value (<= 63 characters of [A-Za-z0-9-_.], alphanumeric at both ends)."""
    if len(text) <= _MAX_LABEL and re.fullmatch(r"([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?", text):
        return text
    return dns_label(text)


def vm_name(clone_job: str, requested: str | None) -> str:
    return requested or dns_label(clone_job)


def disk_name(vm: str, index: int) -> str:
    return dns_label(vm, f"-disk-{index}")


def adaptation_job_name(vm: str) -> str:
    return dns_label(vm, "-adapt-os")


def product_labels(clone_job: str, clone_job_uid: str, migrating_vm: str, run: str | None = None) -> dict[str, str]:
    labels = {
        LABEL_JOB: label_value(clone_job),
        LABEL_JOB_UID: clone_job_uid,
        LABEL_MIGRATING_VM: label_value(migrating_vm),
        MANAGED_BY[0]: MANAGED_BY[1],
    }
    if run is not None:
        labels[LABEL_JOB_RUN] = run
    return labels


def run_of(created_revision: int | None) -> str | None:
    """The run label of a job's products (see ``LABEL_JOB_RUN``); None for a job recorded without one."""
    return None if created_revision is None else str(created_revision)


def made_by(labels: dict[str, str] | None, uid: str, run: str | None) -> bool:
    """Whether an object's labels say that this run of this job made it."""
    found = labels or {}
    return found.get(LABEL_JOB_UID) == uid and (run is None or found.get(LABEL_JOB_RUN) == run)


def resource_name(namespace: str, migrating_vm: str, clone_job: str) -> str:
    """The vmmigration-style resource name that ``status.name`` carries."""
    return f"namespaces/{namespace}/migratingVms/{migrating_vm}/cloneJobs/{clone_job}"
