"""The kinds the KubeVirt target makes and reads: CDI's DataVolumes, KubeVirt's VirtualMachines, batch Jobs
(the adaptingOs step) and the snapshot controller's VolumeSnapshots (what a clone restores from)."""

from __future__ import annotations

from clonejob_operator.kube import VOLUME_SNAPSHOT, Kind

DATA_VOLUME = Kind("cdi.kubevirt.io", "v1beta1", "datavolumes", "DataVolume")
VIRTUAL_MACHINE = Kind("kubevirt.io", "v1", "virtualmachines", "VirtualMachine")
BATCH_JOB = Kind("batch", "v1", "jobs", "Job")

__all__ = ["BATCH_JOB", "DATA_VOLUME", "VIRTUAL_MACHINE", "VOLUME_SNAPSHOT"]
