"""hack/stand-in-controllers.sh, which the kind end-to-end uses in place of CDI/KubeVirt/snapshots, works."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from clonejob_operator.kube import MIGRATING_VM, Kube
from clonejob_operator.targets.kubevirt.kinds import VOLUME_SNAPSHOT
from tests.integration.kit import World, running_operator, settings_for

ROOT = Path(__file__).resolve().parents[2]


def test_stand_in_controllers_bring_the_sample_to_succeeded(
    kube: Kube, world: World, namespace: str, cluster_kubeconfig: str
) -> None:
    kubectl = os.environ.get("KUBECTL") or shutil.which("kubectl")
    if not kubectl:
        pytest.skip("no kubectl: set KUBECTL or put kubectl on PATH")
    env = {**os.environ, "KUBECONFIG": cluster_kubeconfig, "PATH": f"{Path(kubectl).parent}:{os.environ['PATH']}"}
    stand_in = subprocess.Popen(
        ["bash", str(ROOT / "hack" / "stand-in-controllers.sh"), namespace],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        for sample in ("migratingvm.yaml", "clonejob.yaml"):
            text = (
                (ROOT / "manifests" / "samples" / sample)
                .read_text()
                .replace("namespace: migration", f"namespace: {namespace}")
            )
            subprocess.run(
                [kubectl, "apply", "-f", "-"], input=text, env=env, check=True, capture_output=True, text=True
            )
        world.create(VOLUME_SNAPSHOT, "web-1-c3-d0", {"source": {"persistentVolumeClaimName": "web-1-source"}})
        kube.patch_status(
            MIGRATING_VM,
            namespace,
            "web-1",
            {
                "status": {
                    "lastSync": {"cycleNumber": 3, "snapshots": [{"disk": "disk-0", "volumeSnapshot": "web-1-c3-d0"}]}
                }
            },
        )
        with running_operator(kube, settings_for(namespace)):
            status = world.wait_state("web-1-test-3", "SUCCEEDED", timeout=60)
    finally:
        stand_in.terminate()
        output, _ = stand_in.communicate(timeout=10)
    assert status["kubevirtTargetDetails"]["memory"] == "4Gi"
    assert (
        "marked datavolumes.cdi.kubevirt.io/web-1-test-3-disk-0" in output
        or "marked datavolume/web-1-test-3-disk-0" in output
    )
    assert "marked virtualmachines.kubevirt.io/web-1-test-3" in output
