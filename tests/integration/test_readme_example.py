"""The README's first clone and its VolSync-fed clone, their shell lines as written, reach SUCCEEDED (in a namespace
of the test's own)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

from kubernetes.client.exceptions import ApiException

from clonejob_operator.kube import CLONE_JOB, Kube
from tests.integration.conftest import clear_namespace, product_crds

ROOT = Path(__file__).resolve().parents[2]


def example_lines() -> list[str]:
    """The shell lines of the README's first clone, then those of its VolSync-fed clone (with the operator and the
    stand-ins the first started still running)."""
    readme = (ROOT / "README.md").read_text()
    start = readme.index("## Your first clone\n")
    section = readme[start : readme.index("\n## ", start + 5)]
    blocks = [part.split("```", 1)[0] for part in section.split("```sh\n")[1:]]
    assert len(blocks) == 2, "the first clone, and a clone of a MigratingVm fed by VolSync"
    return [line.split("  #", 1)[0].rstrip() for block in blocks for line in block.splitlines() if line.strip()]


def test_the_readme_example_reaches_succeeded_as_written(kube: Kube, cluster_kubeconfig: str, tmp_path: Path) -> None:
    lines = example_lines()
    assert any(line.startswith("kubectl -n migration wait --for=condition=Ready cjob/web-1-test-3") for line in lines)
    assert lines[-1].startswith("kubectl -n migration wait --for=condition=Ready cjob/web-2-test-1")
    namespace = f"cjreadme-{uuid.uuid4().hex[:6]}"
    # The checkout's files, with the samples' namespace replaced by the test's (and nothing else changed).
    for folder in ("crds", "manifests", "hack"):
        shutil.copytree(ROOT / folder, tmp_path / folder)
    for path in (tmp_path / "manifests").rglob("*.yaml"):
        path.write_text(path.read_text().replace("namespace: migration", f"namespace: {namespace}"))
    if product_crds():  # the cluster has the products' real CRDs (not their controllers): no stand-in CRD over them
        lines = [line for line in lines if "crds --stand-ins" not in line]
    operator = f"{sys.executable} -m clonejob_operator.cli"
    script = ["set -euo pipefail", "trap 'kill $(jobs -p) 2>/dev/null || true' EXIT"] + [
        re.sub(r"\bmigration\b", namespace, line).replace("clonejob-operator ", operator + " ") for line in lines
    ]
    search = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"  # kubectl finds the plugin there
    env = {**os.environ, "KUBECONFIG": cluster_kubeconfig, "PATH": search}  # the cluster named for the tests
    try:
        done = subprocess.run(
            ["bash", "-c", "\n".join(script)],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=240,
            check=False,
        )
        assert done.returncode == 0, f"{done.stdout}\n{done.stderr}"
        for name in ("web-1-test-3", "web-2-test-1"):
            assert f"clonejob.vmmigration.dev/{name} condition met" in done.stdout
            job = kube.get(CLONE_JOB, namespace, name)
            assert job is not None and job["status"]["state"] == "SUCCEEDED"
        fed = kube.get(CLONE_JOB, namespace, "web-2-test-1")
        assert fed is not None and fed["status"]["sourceSync"]["replication"] == "volSync"
    finally:
        clear_namespace(kube, namespace)
        try:
            kube.core.delete_namespace(namespace)
        except ApiException as error:
            assert error.status == 404
