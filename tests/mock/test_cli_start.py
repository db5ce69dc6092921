"""`clonejob-operator run` refuses to start, saying why, when its CRDs are not served."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import kmock
import pytest
import yaml


@pytest.mark.asyncio
async def test_run_exits_when_the_crds_are_missing(kmock: kmock.KubernetesEmulator, tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "current-context": "mock",
                "clusters": [{"name": "mock", "cluster": {"server": str(kmock.url).rstrip("/")}}],
                "contexts": [{"name": "mock", "context": {"cluster": "mock", "user": "mock"}}],
                "users": [{"name": "mock", "user": {"token": "t"}}],
            }
        )
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "clonejob_operator.cli",
        "run",
        "--kubeconfig",
        str(kubeconfig),
        "-n",
        "ns",
        "--crd-timeout",
        "1",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 1, output.decode()
    assert b"does not serve clonejobs.vmmigration.dev/v1, migratingvms.vmmigration.dev/v1" in output
    assert b"kubectl apply --server-side -f crds/" in output
