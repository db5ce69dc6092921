"""clonejob-operator: the vmmigration CloneJob, brought to Kubernetes."""

GROUP = "vmmigration.dev"
VERSION = "v1"
API_VERSION = f"{GROUP}/{VERSION}"

__all__ = ["API_VERSION", "GROUP", "VERSION"]
