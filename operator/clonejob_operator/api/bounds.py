"""Bounds of strings, lists and maps, named once for each kind of value, with the limit of whoever owns it.

Every string in the CRDs has a maxLength (or an enum, a date-time format or a bounded pattern) and every
list a maxItems: an unbounded field lets one object grow until etcd refuses it, and it makes CEL
rules costly. The limits follow Compute Engine and Kubernetes where they set one, and are generous
but finite where they do not.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field
from pydantic.config import JsonDict

GceName = Annotated[str, Field(max_length=63)]
"""A Compute Engine resource name (RFC 1035: at most 63 characters): a VM, a disk, a device, a zone,
a machine type or its series, a network tag, a node affinity key or value."""
ResourcePath = Annotated[str, Field(max_length=512)]
"""A resource URL or a relative resource name: a network, a subnetwork, a KMS key, an image, a license,
a storage pool, a disk or VM URI (the longest, a KMS key version's name, is about 300)."""
Email = Annotated[str, Field(max_length=254)]
"""A service account's e-mail address."""
IpAddress = Annotated[str, Field(max_length=45)]
"""An IPv4 or IPv6 address in text form (or an address resource's name, which is shorter)."""
Hostname = Annotated[str, Field(max_length=253)]
"""A fully qualified host name."""
LabelValue = Annotated[str, Field(max_length=63)]
"""A label's value (Compute Engine and Kubernetes both allow 63 characters)."""
MetadataValue = Annotated[str, Field(max_length=256)]
"""Deprecated: a metadata value as a status of an earlier version recorded it (redacted); values now come from a
Secret, never from a MigratingVm."""
Word = Annotated[str, Field(max_length=128)]
"""A short free-form value: an adaptation modifier and its value, a replication cycle's name."""
Argument = Annotated[str, Field(max_length=4096)]
"""One word of a container's command or arguments."""
Duration = Annotated[str, Field(max_length=64)]
"""A google.protobuf.Duration in its JSON form, e.g. 3.5s."""

MAX_DISKS = 32
"""The most disks a MigratingVm's sync may have, and so a clone may make."""
MAX_PRODUCTS = MAX_DISKS + 2
"""The most products one CloneJob may make: a disk per snapshot, the OS adaptation Job and the VM."""
MAX_LABELS = 32
"""Labels of a Compute Engine clone (Compute Engine allows 64; a job's status keeps up to four copies of them)."""
MAX_KUBE_LABELS = 16
"""Labels a user adds to a KubeVirt clone, and to its pods (a Kubernetes key is up to 317 characters)."""
MAX_METADATA = 128
MAX_NETWORK_TAGS = 64
"""Compute Engine allows 64 network tags per instance."""
MAX_NETWORK_INTERFACES = 8
"""Compute Engine allows up to 8 network interfaces per instance."""
MAX_NODE_AFFINITIES = 8
MAX_AFFINITY_VALUES = 8
MAX_LICENSES = 8
MAX_MODIFIERS = 8
MAX_DISK_LABELS = 4
"""Labels added to one disk of a disks target (besides the VM's)."""
REPLICA_ZONES = 2
"""A regional disk lives in exactly two zones."""

ATOMIC: JsonDict = {"x-kubernetes-list-type": "atomic"}
"""A list whose order means something (the first network interface is nic0, a command's words): it is
replaced whole by any apply."""
SET: JsonDict = {"x-kubernetes-list-type": "set"}
"""A list of unique scalars whose order does not matter (network tags, licenses): appliers merge it."""


def keys_at_most(limit: int, what: str = "a key") -> JsonDict:
    """A map whose keys are at most ``limit`` characters: a structural schema cannot bound map keys itself."""
    return {
        "x-kubernetes-validations": [
            {"rule": f"self.all(k, size(k) <= {limit})", "message": f"{what} is at most {limit} characters"}
        ]
    }


def with_rules(base: JsonDict, *more: dict[str, Any]) -> JsonDict:
    """``base`` with more x-kubernetes-validations rules."""
    rules: list[Any] = [*base.get("x-kubernetes-validations", []), *more]  # type: ignore[misc]
    return {**base, "x-kubernetes-validations": rules}


LABEL_KEY = 317
"""A Kubernetes label key: a DNS subdomain prefix (253), a slash and a name (63)."""
