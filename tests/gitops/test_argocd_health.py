"""The Argo CD health scripts, run by a real Lua runtime against their fixtures (Argo's health_test.yaml)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lupa
import pytest
import yaml

ARGOCD = Path(__file__).resolve().parents[2] / "manifests" / "gitops" / "argocd"
KINDS = ARGOCD / "resource_customizations" / "vmmigration.dev"


def health(script: str, obj: dict[str, Any]) -> dict[str, Any]:
    lua = lupa.LuaRuntime(unpack_returned_tuples=True)
    lua.globals().obj = lua.table_from(obj, recursive=True)
    result = lua.execute(script)
    return {key: result[key] for key in ("status", "message")}


def cases() -> list[tuple[str, dict[str, Any]]]:
    out = []
    for test_file in sorted(KINDS.glob("*/health_test.yaml")):
        for case in yaml.safe_load(test_file.read_text())["tests"]:
            out.append((test_file.parent.name, case))
    return out


@pytest.mark.parametrize(("kind", "case"), cases(), ids=lambda v: v if isinstance(v, str) else v["inputPath"])
def test_health(kind: str, case: dict[str, Any]) -> None:
    script = (KINDS / kind / "health.lua").read_text()
    obj = yaml.safe_load((KINDS / kind / case["inputPath"]).read_text())
    assert health(script, obj) == case["healthStatus"]


def test_every_state_is_covered() -> None:
    from clonejob_operator.api.clonejob import State

    states = {
        yaml.safe_load(p.read_text()).get("status", {}).get("state") for p in (KINDS / "CloneJob").glob("testdata/*")
    }
    assert {s.value for s in State} - {"STATE_UNSPECIFIED"} <= states


def test_argocd_cm_carries_the_same_scripts() -> None:
    data = yaml.safe_load((ARGOCD / "argocd-cm.yaml").read_text())["data"]
    for kind in ("CloneJob", "MigratingVm"):
        assert (
            data[f"resource.customizations.health.vmmigration.dev_{kind}"] == (KINDS / kind / "health.lua").read_text()
        )
