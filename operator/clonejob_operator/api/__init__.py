"""The vmmigration.dev/v1 API: pydantic models that are the single source of the CRD schemas."""
