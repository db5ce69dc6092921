"""Chart tests use the real helm: $HELM, else helm on PATH; without either they skip and say so."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from clonejob_operator import permissions

CHART = Path(__file__).resolve().parents[2] / "charts" / "clonejob-operator"


@pytest.fixture(scope="session")
def helm() -> str:
    return find_helm()


def find_helm() -> str:
    """$HELM, else helm on PATH; without either the test skips (fails with CLONEJOB_TEST_REQUIRE_HELM=1)."""
    found = os.environ.get("HELM") or shutil.which("helm")
    if not found:
        if os.environ.get("CLONEJOB_TEST_REQUIRE_HELM") == "1":
            pytest.fail("no helm: set HELM or put helm on PATH")
        pytest.skip("no helm: set HELM or put helm on PATH")
    return found


def run_helm(helm: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([helm, *args], capture_output=True, text=True, timeout=120)
    if check and result.returncode != 0:
        raise AssertionError(f"helm {' '.join(args)} failed:\n{result.stderr}")
    return result


@pytest.fixture
def render(helm: str) -> Callable[..., list[dict[str, Any]]]:
    def rendered(*sets: str, crds: bool = False) -> list[dict[str, Any]]:
        args = ["template", "cj", str(CHART), "--namespace", "clonejob-system"]
        if crds:
            args.append("--include-crds")
        for item in sets:
            args += ["--set", item]
        return [doc for doc in yaml.safe_load_all(run_helm(helm, *args).stdout) if doc]

    return rendered


def rules_of(rules: tuple[permissions.Rule, ...], release: str = "cj-clonejob-operator") -> list[dict[str, Any]]:
    """The rules as RBAC has them; the sealing key's name is the release's (``RELEASE-seal``)."""
    out: list[dict[str, Any]] = []
    for r in rules:
        rule: dict[str, Any] = {"apiGroups": [r.group], "resources": list(r.resources), "verbs": list(r.verbs)}
        if r.names:
            rule["resourceNames"] = [name.replace("clonejob-operator", release) for name in r.names]
        out.append(rule)
    return out
