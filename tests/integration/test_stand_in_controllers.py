"""hack/stand-in-controllers.sh, which the kind end-to-end uses in place of CDI/KubeVirt/snapshots/VolSync, works."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from clonejob_operator.kube import MIGRATING_VM, Kube
from clonejob_operator.sources.volsync.kinds import REPLICATION_DESTINATION
from clonejob_operator.targets.kubevirt.kinds import VOLUME_SNAPSHOT
from tests.integration.kit import World, running_operator, settings_for, wait_for

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class StandIns:
    """The script running against the test's namespace; ``output`` is what it said, once it has stopped."""

    kubectl: str
    namespace: str
    env: dict[str, str]
    output: str = ""

    def apply(self, sample: str) -> None:
        """A file of manifests/samples/, in the test's namespace."""
        text = (ROOT / "manifests" / "samples" / sample).read_text()
        text = text.replace("namespace: migration", f"namespace: {self.namespace}")
        run = [self.kubectl, "apply", "-f", "-"]
        subprocess.run(run, input=text, env=self.env, check=True, capture_output=True, text=True)


@contextmanager
def stand_ins(namespace: str, kubeconfig: str) -> Iterator[StandIns]:
    kubectl = os.environ.get("KUBECTL") or shutil.which("kubectl")
    if not kubectl:
        pytest.skip("no kubectl: set KUBECTL or put kubectl on PATH")
    env = {**os.environ, "KUBECONFIG": kubeconfig, "PATH": f"{Path(kubectl).parent}:{os.environ['PATH']}"}
    script = ["bash", str(ROOT / "hack" / "stand-in-controllers.sh"), namespace]
    process = subprocess.Popen(script, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    shell = StandIns(kubectl, namespace, env)
    try:
        yield shell
    finally:
        process.terminate()
        shell.output, _ = process.communicate(timeout=10)


def test_stand_in_controllers_bring_the_sample_to_succeeded(
    kube: Kube, world: World, namespace: str, cluster_kubeconfig: str
) -> None:
    with stand_ins(namespace, cluster_kubeconfig) as shell:
        shell.apply("migratingvm.yaml")
        shell.apply("clonejob.yaml")
        world.create(VOLUME_SNAPSHOT, "web-1-c3-d0", {"source": {"persistentVolumeClaimName": "web-1-source"}})
        snapshots = [{"disk": "disk-0", "volumeSnapshot": "web-1-c3-d0"}]
        kube.patch_status(
            MIGRATING_VM, namespace, "web-1", {"status": {"lastSync": {"cycleNumber": 3, "snapshots": snapshots}}}
        )
        with running_operator(kube, settings_for(namespace)):
            status = world.wait_state("web-1-test-3", "SUCCEEDED", timeout=60)
    assert status["kubevirtTargetDetails"]["memory"] == "4Gi"
    assert (
        "marked datavolumes.cdi.kubevirt.io/web-1-test-3-disk-0" in shell.output
        or "marked datavolume/web-1-test-3-disk-0" in shell.output
    )
    assert "marked virtualmachines.kubevirt.io/web-1-test-3" in shell.output


def test_stand_in_controllers_play_volsyncs_first_sync_once(
    world: World, namespace: str, cluster_kubeconfig: str
) -> None:
    """Each ReplicationDestination that has published nothing gets one ready image that it owns, as its latest."""
    with stand_ins(namespace, cluster_kubeconfig) as shell:
        shell.apply("volsync/replicationdestinations.yaml")
        for name in ("web-2-boot", "web-2-data"):
            rd = wait_for(lambda n=name: _published(world, n), 30, f"{name}'s first image")  # type: ignore[misc]
            image = world.get(VOLUME_SNAPSHOT, rd["status"]["latestImage"]["name"])
            assert image is not None and image["status"]["readyToUse"] is True
            (owner,) = image["metadata"]["ownerReferences"]
            owned_by = ("ReplicationDestination", name, rd["metadata"]["uid"])
            assert (owner["kind"], owner["name"], owner["uid"]) == owned_by
    assert sorted(line for line in shell.output.splitlines() if line.startswith("synced")) == [
        "synced replicationdestination/web-2-boot: volsync-web-2-boot-dst-1",
        "synced replicationdestination/web-2-data: volsync-web-2-data-dst-1",
    ], "once each"


def _published(world: World, name: str) -> dict[str, Any] | None:
    rd = world.get(REPLICATION_DESTINATION, name)
    return rd if rd is not None and (rd.get("status") or {}).get("latestImage") else None
