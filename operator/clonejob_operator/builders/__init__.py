"""Object builders: pure functions from target details to the manifests a driver creates."""
