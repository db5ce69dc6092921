"""The KubeVirt target: CDI DataVolumes restored from VolumeSnapshots, and a KubeVirt VirtualMachine.

``model`` (the API fields and their defaults), ``manifests`` (pure builders) and ``driver`` (the steps,
their I/O and the cleanup).
"""
