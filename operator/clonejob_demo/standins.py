"""Stand-ins for the snapshot, CDI and KubeVirt controllers, for clusters that have none of them (VolSync's is
``volsync.VolSync``).

Their CRDs are minimal copies (same group, version, names and status subresource; any spec), marked with
``LABEL``. ``Stagehand`` plays their controllers in one namespace: it writes exactly the status fields
the operator waits for (a VolumeSnapshot ``readyToUse``, a DataVolume's ``phase`` and ``progress``, a
VirtualMachine ``ready``). Never let it loose where the real controllers run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources

import yaml

from clonejob_operator.kube import Body, Kind, Kube
from clonejob_operator.names import LABEL_JOB
from clonejob_operator.sources.volsync.kinds import REPLICATION_DESTINATION
from clonejob_operator.targets.kubevirt.kinds import DATA_VOLUME, VIRTUAL_MACHINE, VOLUME_SNAPSHOT

LABEL = "vmmigration.dev/stand-in"
"""On a stand-in CRD: it is ours, and no real controller serves its kind."""
KINDS = (VOLUME_SNAPSHOT, DATA_VOLUME, VIRTUAL_MACHINE, REPLICATION_DESTINATION)


def crds() -> list[Body]:
    """The stand-in CRDs, as manifests."""
    folder = resources.files("clonejob_demo").joinpath("stand_in_crds")
    return [
        yaml.safe_load(entry.read_text())
        for entry in sorted(folder.iterdir(), key=lambda e: e.name)
        if entry.name.endswith(".yaml")
    ]


def render() -> str:
    """The stand-in CRDs as one YAML stream, for ``kubectl apply --server-side -f -``."""
    return "---\n".join(yaml.safe_dump(crd, sort_keys=False) for crd in crds())


def is_stand_in(crd: Body) -> bool:
    labels = (crd.get("metadata") or {}).get("labels") or {}
    return bool(labels.get(LABEL) == "true")


@dataclass
class Stagehand:
    """Plays the three controllers in one namespace, a step at a time (``act``), as the demo and tests need."""

    kube: Kube
    namespace: str
    step: int = 25
    """How far a DataVolume's import goes in one act, in percent."""
    failing: set[str] = field(default_factory=set)
    """CloneJobs whose DataVolumes fail (phase Failed)."""
    holding: set[str] = field(default_factory=set)
    """CloneJobs whose DataVolumes stop short of done, at ``step`` percent."""

    def act(self) -> list[str]:
        """One round: every object not done yet moves on; returns what it did, a line each."""
        done: list[str] = []
        for snapshot in self.kube.list(VOLUME_SNAPSHOT, self.namespace):
            if not (snapshot.get("status") or {}).get("readyToUse"):
                self._status(VOLUME_SNAPSHOT, snapshot, {"readyToUse": True, "restoreSize": "10Gi"})
                done.append(f"VolumeSnapshot {snapshot['metadata']['name']} is readyToUse")
        for volume in self.kube.list(DATA_VOLUME, self.namespace):
            said = self._data_volume(volume)
            if said:
                done.append(said)
        for machine in self.kube.list(VIRTUAL_MACHINE, self.namespace):
            if not (machine.get("status") or {}).get("ready"):
                self._status(VIRTUAL_MACHINE, machine, {"created": True, "ready": True, "printableStatus": "Running"})
                done.append(f"VirtualMachine {machine['metadata']['name']} is Running")
        return done

    def _data_volume(self, volume: Body) -> str | None:
        name = volume["metadata"]["name"]
        job = (volume["metadata"].get("labels") or {}).get(LABEL_JOB, "")
        status = volume.get("status") or {}
        if status.get("phase") in ("Succeeded", "Failed"):
            return None
        if job in self.failing:
            self._status(DATA_VOLUME, volume, {"phase": "Failed", "progress": "N/A", "conditions": _ready(False)})
            return f"DataVolume {name} Failed (the import failed)"
        try:
            percent = int(float(str(status.get("progress", "0")).rstrip("%")))
        except ValueError:
            percent = 0
        if job in self.holding and percent >= self.step:
            return None
        percent = min(100, percent + self.step)
        phase = "Succeeded" if percent == 100 else "ImportInProgress"
        self._status(
            DATA_VOLUME, volume, {"phase": phase, "progress": f"{percent}.0%", "conditions": _ready(percent == 100)}
        )
        return f"DataVolume {name} {phase} {percent}%"

    def _status(self, kind: Kind, body: Body, status: Body) -> None:
        self.kube.patch_status(kind, self.namespace, body["metadata"]["name"], {"status": status})


def _ready(ready: bool) -> list[Body]:
    return [{"type": "Ready", "status": str(ready), "reason": "Succeeded" if ready else "Pending"}]
