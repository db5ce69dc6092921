"""The kinds the KubeVirt target makes and reads: CDI's DataVolumes, KubeVirt's VirtualMachines, batch Jobs
(the adaptingOs step) and the snapshot controller's VolumeSnapshots (what a clone restores from)."""

from __future__ import annotations

from clonejob_operator.kube import Kind

DATA_VOLUME = Kind("cdi.kubevirt.io", "v1beta1", "datavolumes", "DataVolume")
VIRTUAL_MACHINE = Kind("kubevirt.io", "v1", "virtualmachines", "VirtualMachine")
VOLUME_SNAPSHOT = Kind("snapshot.storage.k8s.io", "v1", "volumesnapshots", "VolumeSnapshot")
BATCH_JOB = Kind("batch", "v1", "jobs", "Job")
