"""Descriptions for the CRDs' fields, as ``kubectl explain`` shows them.

``API_WORDS`` holds the vmmigration API's own words (vmmigration v1 CloneJob and CloneStep) and wins over anything
else for those fields. ``BY_NAME`` describes every other field that its model leaves undescribed, by
its JSON name: the Compute Engine fields follow the vmmigration v1 reference, the Kubernetes ones
their Kubernetes meaning. crdgen applies both; a test fails when a generated field has no description.
"""

from __future__ import annotations

_TS = ' A timestamp in RFC3339 UTC "Zulu" format, with nanosecond resolution and up to nine fractional digits.'

STATES = {
    "STATE_UNSPECIFIED": "The state is unknown. This is used for API compatibility only and is not used by the system.",
    "PENDING": "The clone job has not yet started.",
    "ACTIVE": "The clone job is active and running.",
    "FAILED": "The clone job finished with errors.",
    "SUCCEEDED": "The clone job finished successfully.",
    "CANCELLED": "The clone job was cancelled.",
    "CANCELLING": "The clone job is being cancelled.",
    "ADAPTING_OS": "OS adaptation is running as part of the clone job to generate license.",
}

API_WORDS: dict[tuple[str, str], str] = {
    ("CloneJobStatus", "createTime"): "Output only. The time the clone job was created (as an API call, not when it "
    "was actually created in the target)." + _TS,
    ("CloneJobStatus", "endTime"): "Output only. The time the clone job was ended." + _TS,
    ("CloneJobStatus", "name"): "Output only. The name of the clone (namespaces/NS/migratingVms/MVM/cloneJobs/NAME).",
    ("CloneJobStatus", "state"): "Output only. State of the clone job. "
    + " ".join(f"{state}: {meaning}" for state, meaning in STATES.items()),
    ("CloneJobStatus", "stateTime"): "Output only. The time the state was last updated." + _TS,
    ("CloneJobStatus", "error"): "Output only. Provides details for the errors that led to the Clone Job's state.",
    ("CloneJobStatus", "steps"): "Output only. The clone steps list representing its progress.",
    ("CloneJobStatus", "targetDetails"): "Output only. Details of the VM to create as the target of this clone job. "
    "Deprecated: Use computeEngineTargetDetails instead. (The older TargetVMDetails message.)",
    ("CloneJobStatus", "computeEngineVmDetails"): "Output only. Details of the VM in Compute Engine. Deprecated: Use "
    "computeEngineTargetDetails instead. (The older TargetVMDetails message.)",
    ("CloneJobStatus", "computeEngineTargetDetails"): "Output only. Details of the target VM in Compute Engine.",
    ("CloneJobStatus", "computeEngineDisksTargetDetails"): "Output only. Details of the target Persistent Disks in "
    "Compute Engine.",
    ("CloneJobStatus", "kubevirtTargetDetails"): "Output only. Details of the target VM on KubeVirt (an addition to "
    "the vmmigration API), every default resolved.",
    ("CloneStep", "startTime"): "The time the step has started." + _TS,
    ("CloneStep", "endTime"): "The time the step has ended." + _TS,
    ("CloneStep", "adaptingOs"): "Adapting OS step.",
    ("CloneStep", "preparingVmDisks"): "Preparing VM disks step.",
    ("CloneStep", "instantiatingMigratedVm"): "Instantiating migrated VM step.",
    ("CloneStep", "progressPercent"): "How far the step has got, in percent (an addition to the vmmigration API).",
}

BY_NAME: dict[str, str] = {
    # Kubernetes.
    "apiVersion": "The versioned schema of this object: vmmigration.dev/v1.",
    "kind": "The REST resource this object represents.",
    "spec": "What is asked for.",
    "status": "What was observed and done, written by its controller.",
    "conditions": "kstatus conditions: Ready, Reconciling and Stalled, each with observedGeneration.",
    "type": "The condition's type (Ready, Reconciling, Stalled), or the license type.",
    "reason": "A CamelCase reason for the condition's status.",
    "message": "A human-readable message.",
    "observedGeneration": "The metadata.generation this was computed for.",
    "namespace": "The object's namespace.",
    "uid": "The object's uid.",
    "createdResources": "Everything the job created: Kubernetes objects, or Compute Engine resources with their URI. "
    "Removed on cancel or failure, never touched after success.",
    "currentStep": "The step running now (for the printer column); unset between steps and when finished.",
    "progressPercent": "Progress in percent.",
    "details": "google.rpc.Status details.",
    "createTime": "The time it was created." + _TS,
    "startTime": "The time it started." + _TS,
    "endTime": "The time it ended." + _TS,
    "stateTime": "The time the state was last updated." + _TS,
    "lastSyncTime": "The time the last successful replication cycle ended." + _TS,
    "lastTransitionTime": "When the condition's status last changed." + _TS,
    # The MigratingVm.
    "displayName": "The display name attached to the MigratingVm by the user.",
    "description": "The description attached to the resource by the user.",
    "lastSync": "The last successful replication cycle: its number, time and snapshots, one per disk.",
    "cycleNumber": "The cycle's ordinal number.",
    "snapshots": "One snapshot per disk of the VM, in boot order.",
    "sizeBytes": "The disk's size in bytes.",
    "lastReplicationCycle": "The most updated snapshot created time in the source that finished replication (the "
    "vmmigration API's ReplicationCycle).",
    "steps": "The cycle's steps.",
    "initializingReplication": "Initializing replication step.",
    "postProcessing": "Post processing step.",
    "state": "The state.",
    "migratingVmUid": "The uid of the MigratingVm the clone was made from.",
    "targetProject": "The TargetProject to clone into: projects/*/locations/*/targetProjects/NAME or a bare NAME, a "
    "TargetProject in the MigratingVm's namespace either way.",
    # KubeVirt.
    "storageClassName": "The StorageClass of the disks' PVCs (default: the cluster's default).",
    "accessModes": "The disks' PVC access modes (default: from the CDI storage profile).",
    "volumeMode": "Filesystem or Block (default: from the CDI storage profile).",
    "cores": "CPU cores.",
    "sockets": "CPU sockets.",
    "threads": "CPU threads per core.",
    "multus": "A Multus network (a NetworkAttachmentDefinition).",
    "firmware": "The VM's firmware: bootloader BIOS (default) or EFI, and secure boot.",
    "image": "The image to run, or the boot disk's source image.",
    "command": "The container's command.",
    "args": "The container's arguments.",
    "serviceAccountName": "The Kubernetes service account the adaptation Job runs as.",
    # Compute Engine (vmmigration v1).
    "computeEngineTargetDefaults": "Details of the target VM in Compute Engine.",
    "computeEngineDisksTargetDefaults": "Details of the target Persistent Disks in Compute Engine.",
    "computeEngineTargetDetails": "Details of the target VM in Compute Engine.",
    "computeEngineDisksTargetDetails": "Details of the target Persistent Disks in Compute Engine.",
    "name": "The name.",
    "vmName": "The name of the VM to create.",
    "zone": "The zone in which to create the VM or the disks.",
    "machineTypeSeries": "The machine type series to create the VM with.",
    "machineType": "The machine type to create the VM with.",
    "networkTags": "A list of network tags to associate with the VM.",
    "networkInterfaces": "List of NICs connected to this VM.",
    "network": "The network to connect the NIC to.",
    "subnetwork": "The subnetwork to connect the NIC to.",
    "internalIp": "The internal IP to define in the NIC.",
    "externalIp": "The external IP to define in the NIC.",
    "networkTier": "The networking tier used for configuring network access configuration.",
    "serviceAccount": "The service account to associate the VM with.",
    "diskType": "The disk type to use.",
    "labels": "A map of labels to associate with the VM (or the disk).",
    "licenseType": "The license type to use in OS adaptation.",
    "appliedLicense": "Output only. The OS license returned from the adaptation module report.",
    "osLicense": "The OS license returned from the adaptation module's report.",
    "computeScheduling": "Compute instance scheduling information (if empty default is used).",
    "onHostMaintenance": "How the instance should behave when the host machine undergoes maintenance.",
    "restartType": "Whether the instance should be automatically restarted whenever it is terminated by Compute "
    "Engine (not terminated by user).",
    "nodeAffinities": "A set of node affinity and anti-affinity configurations for sole tenant nodes.",
    "key": "The label key of a node resource, or the key of a Secret.",
    "operator": "The operator to use for the node resources specified in the values parameter.",
    "values": "Corresponds to the label values of a node resource.",
    "minNodeCpus": "The minimum number of virtual CPUs this instance will consume when running on a sole-tenant node.",
    "secureBoot": "Defines whether the instance has Secure Boot enabled.",
    "enableVtpm": "Defines whether the instance has vTPM enabled.",
    "enableIntegrityMonitoring": "Defines whether the instance has integrity monitoring enabled.",
    "bootOption": "Output only. The VM Boot Option, as set in the source VM.",
    "additionalLicenses": "Additional licenses to assign to the VM.",
    "hostname": "The hostname to assign to the VM.",
    "encryption": "The encryption to apply to the disks: a Cloud KMS key.",
    "kmsKey": "The name of the encryption key that is stored in Google Cloud KMS.",
    "bootConversion": "By default the virtual machine will keep its existing boot option; setting this property will "
    "trigger an internal process which will convert the virtual machine from using the existing boot option to "
    "another.",
    "adaptationModifiers": "AdaptationModifiers are the set of modifiers used during OS adaptation.",
    "modifier": "The modifier name.",
    "value": "The value of the modifier.",
    "diskReplicaZones": "The replica zones for the disks; only for regional disks.",
    "storagePool": "The storage pool used for the VM disks; when set, it is used for all VM disks.",
    "project": "The Google Cloud target project ID or name.",
    "vmTargetDefaults": "Details of the VM to create with the disks attached.",
    "vmTargetDetails": "Details of the VM created with the disks attached.",
    "vmUri": "The URI of the Compute Engine VM.",
    "disks": "The details of each Persistent Disk to create (or created).",
    "sourceDiskNumber": "The ordinal number of the source VM disk.",
    "diskName": "The name of the Persistent Disk to create.",
    "diskUri": "The URI of the Persistent Disk.",
    "additionalLabels": "A map of labels to associate with the Persistent Disk.",
    "vmAttachmentDetails": "Details for attaching the disk to a VM.",
    "deviceName": "The disk name as the guest OS sees it.",
    "bootDiskDefaults": "Details of the boot disk of the VM.",
    "sourceImage": "The image to use when creating the disk.",
}


_VM_MODELS = (
    "ComputeEngineTargetDefaults",
    "ComputeEngineTargetDetails",
    "DisksMigrationVmTargetDefaults",
    "TargetVmDetails",
)
BY_MODEL: dict[tuple[str, str], str] = {
    **{(model, "metadata"): "The metadata key/value pairs to assign to the VM." for model in _VM_MODELS},
    **{(model, "name"): "The name of the VM to create." for model in ("TargetVmDetails",)},
    ("AppliedLicense", "type"): "The license type that was used in OS adaptation.",
    ("Condition", "type"): "The condition's type: Ready, Reconciling or Stalled.",
    ("Condition", "status"): "True, False or Unknown.",
    ("ReplicationCycle", "state"): "State of the cycle.",
    ("ReplicationCycle", "name"): "The identifier of the ReplicationCycle.",
    ("MigratingVmStatus", "state"): "State of the MigratingVm.",
    ("CloneJobSummary", "state"): "State of the clone job.",
    ("ResourceRef", "name"): "The product's name.",
    ("Network", "name"): "The network's name in the VM.",
    ("InstancetypeRef", "name"): "The instancetype's name.",
    ("PreferenceRef", "name"): "The preference's name.",
    ("SecretKeyRef", "name"): "The Secret's name, in the TargetProject's namespace.",
    ("ComputeEngineTargetDetails", "project"): "The Google Cloud target project ID or name (resolved from the "
    "TargetProject).",
}


def describe(model: str | None, field: str, current: str | None) -> str | None:
    """The description a field gets: the vmmigration API's words first, then its model's own, then by model and name,
    then by name alone."""
    return (
        API_WORDS.get((model or "", field))
        or current
        or BY_MODEL.get((model or "", field))
        or BY_NAME.get(field)
        or None
    )
