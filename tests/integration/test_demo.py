"""hack/demo.sh (``clonejob-operator demo``), as the README's "Two commands" names it, on the test cluster."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path

import kubernetes
import pytest
from kubernetes.client.exceptions import ApiException

from clonejob_operator.kube import CLONE_JOB, MIGRATING_VM, Kube
from clonejob_operator.sources.volsync.kinds import REPLICATION_DESTINATION
from clonejob_operator.targets.kubevirt.kinds import DATA_VOLUME, VIRTUAL_MACHINE, VOLUME_SNAPSHOT
from tests.integration.conftest import clear_namespace, product_crds
from tests.integration.kit import running_operator, settings_for

ROOT = Path(__file__).resolve().parents[2]
DEMO = (sys.executable, "-m", "clonejob_operator.cli", "demo")


def played() -> list[str]:
    """Where the tests installed the products' real CRDs (nothing runs them), the demo is told to play anyway."""
    return ["--play-controllers"] if product_crds() else []


def test_the_demo_shows_a_success_a_cancel_and_a_failure_and_removes_what_it_made(
    kube: Kube, cluster_kubeconfig: str, tmp_path: Path
) -> None:
    namespace = f"cjdemo-{uuid.uuid4().hex[:6]}"
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    env = {
        **os.environ,
        "KUBECONFIG": cluster_kubeconfig,  # the cluster named for the tests, never another
        "PYTHON": sys.executable,  # the interpreter under test, never a virtualenv of its own
        "TMPDIR": str(scratch),
    }
    started = time.monotonic()
    try:
        done = subprocess.run(
            [
                "bash",
                str(ROOT / "hack" / "demo.sh"),
                "--namespace",
                namespace,
                "--operator-log",
                str(tmp_path / "op.log"),
                *played(),
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
    finally:
        took = time.monotonic() - started
        try:
            kube.core.delete_namespace(namespace)
        except ApiException as error:
            assert error.status in (404, 409), error  # gone already, or being deleted: the demo did it
    out = done.stdout
    assert done.returncode == 0, f"{out}\n{done.stderr}"
    assert took < 300, f"the demo took {took:.0f}s"
    lines = out.splitlines()
    assert any(line.split("] ", 1)[-1].startswith("SUCCEEDED") for line in lines), out
    assert any(line.split("] ", 1)[-1].startswith("CANCELLED") for line in lines), out
    assert any(line.split("] ", 1)[-1].startswith("FAILED") for line in lines), out
    assert "Steps:" in out and "preparingVmDisks" in out and "instantiatingMigratedVm" in out
    assert out.count("nothing left behind") == 2, "the cancel and the failure remove their products"
    assert "code 13" in out, "the disk's failure is INTERNAL"
    assert "4. a clone of a MigratingVm fed by VolSync" in out and "cycle 1 complete, its images held" in out
    assert "held by nobody any more, they were deleted" in out, "the job let go of what VolSync relinquished"
    assert "deleted MigratingVm web-2 (it let go of its images first)" in out
    assert "CRDs: installed none; already there:" in out, "the session's CRDs were there: left alone"
    for kind in (CLONE_JOB, MIGRATING_VM, VOLUME_SNAPSHOT, DATA_VOLUME, VIRTUAL_MACHINE, REPLICATION_DESTINATION):
        assert kube.fresh_list(kind, namespace) == [], f"the demo left a {kind.kind}"
    try:
        left = kube.core.read_namespace(namespace).metadata
        assert left is not None and left.deletion_timestamp is not None, "the demo deletes its namespace"
    except ApiException as error:
        assert error.status == 404
    assert list(scratch.iterdir()) == [], "the demo leaves nothing in the temporary folder"
    assert re.findall(r"its log: (\S+)", out) == [str(tmp_path / "op.log")], "where it goes"
    assert f"operator stopped; its log is kept: {tmp_path / 'op.log'}" in out
    lines = (tmp_path / "op.log").read_text().splitlines()
    assert "STATE_UNSPECIFIED" not in out, "a job the operator has not looked at yet reads created"
    about = [line for line in lines if "web-1-test-" in line]
    assert len(about) >= 15, lines
    named = re.compile(rf"^CloneJob {namespace}/web-1-test-[123]: ")
    assert [line for line in about if not named.match(line)] == [], "every line about a job names it first"
    assert any(
        re.match(rf"CloneJob {namespace}/web-1-test-2: deleting DataVolume web-1-test-2-disk-0", x) for x in about
    )
    api = kubernetes.client.ApiextensionsV1Api(kube.api_client)
    crd = api.read_custom_resource_definition("clonejobs.vmmigration.dev").metadata
    assert crd is not None and crd.deletion_timestamp is None


def test_the_demo_refuses_a_namespace_an_earlier_kept_demo_left_full(kube: Kube, cluster_kubeconfig: str) -> None:
    namespace = f"cjdemo-{uuid.uuid4().hex[:6]}"
    labels = {"app.kubernetes.io/managed-by": "clonejob-operator-demo"}
    kube.core.create_namespace(
        kubernetes.client.V1Namespace(metadata=kubernetes.client.V1ObjectMeta(name=namespace, labels=labels))
    )
    try:
        kube.create(
            MIGRATING_VM,
            namespace,
            {
                "apiVersion": MIGRATING_VM.api_version,
                "kind": MIGRATING_VM.kind,
                "metadata": {"name": "web-1", "namespace": namespace},
                "spec": {"sourceVmId": "vm-1", "kubevirtTargetDefaults": {}},
            },
        )
        done = subprocess.run(
            [*DEMO, "--kubeconfig", cluster_kubeconfig, "--namespace", namespace, *played()],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 1
        assert f"namespace {namespace} still holds an earlier demo's objects (MigratingVm" in done.stderr
        assert "operator started" not in done.stdout
        assert kube.fresh_list(CLONE_JOB, namespace) == [] and kube.fresh_list(VOLUME_SNAPSHOT, namespace) == []
        assert kube.get(MIGRATING_VM, namespace, "web-1") is not None, "what the earlier demo left is not removed"
    finally:
        clear_namespace(kube, namespace)
        kube.core.delete_namespace(namespace)


def test_the_demo_with_an_operator_that_already_runs(kube: Kube, cluster_kubeconfig: str) -> None:
    """`--use-running-operator`: the demo starts none, and the one watching the namespace does the work."""
    namespace = f"cjdemo-{uuid.uuid4().hex[:6]}"
    labels = {"app.kubernetes.io/managed-by": "clonejob-operator-demo"}  # an earlier demo's, empty: reused
    kube.core.create_namespace(
        kubernetes.client.V1Namespace(metadata=kubernetes.client.V1ObjectMeta(name=namespace, labels=labels))
    )
    try:
        with running_operator(kube, settings_for(namespace, message_interval=timedelta(seconds=1))):
            done = subprocess.run(
                [
                    *DEMO,
                    "--kubeconfig",
                    cluster_kubeconfig,
                    "--namespace",
                    namespace,
                    "--use-running-operator",
                    *played(),
                ],
                capture_output=True,
                text=True,
                timeout=240,
                check=False,
            )
        assert done.returncode == 0, f"{done.stdout}\n{done.stderr}"
        assert "using the operator that already runs" in done.stdout and "operator started" not in done.stdout
        assert f"namespace {namespace} (left by an earlier demo) reused" in done.stdout
        assert done.stdout.count("nothing left behind") == 2
        for kind in (CLONE_JOB, MIGRATING_VM, VOLUME_SNAPSHOT, DATA_VOLUME, VIRTUAL_MACHINE):
            assert kube.fresh_list(kind, namespace) == [], f"the demo left a {kind.kind}"
    finally:
        clear_namespace(kube, namespace)
        try:
            kube.core.delete_namespace(namespace)
        except ApiException as error:
            assert error.status in (404, 409), error


def test_the_demo_refuses_a_cluster_with_the_real_crds_unless_told_nothing_runs_them(
    kube: Kube, cluster_kubeconfig: str
) -> None:
    if not product_crds():
        pytest.skip("the products' real CRDs are not installed here (CLONEJOB_TEST_PRODUCT_CRDS)")
    namespace = f"cjdemo-{uuid.uuid4().hex[:6]}"
    done = subprocess.run(
        [*DEMO, "--kubeconfig", cluster_kubeconfig, "--namespace", namespace],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 1
    assert "is installed and is not a stand-in" in done.stderr and "--play-controllers" in done.stderr
    assert "operator started" not in done.stdout
    try:
        kube.core.read_namespace(namespace)
        made = True
    except ApiException as error:
        assert error.status == 404
        made = False
    assert not made, "refused before anything was made"
