"""The house rules that a test can hold: module and function sizes, and kopf through its public API only."""

from __future__ import annotations

import ast
import re
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]
SOURCES = sorted((ROOT / "operator").rglob("*.py"))


def test_no_module_over_400_lines() -> None:
    long = {str(p.relative_to(ROOT)): n for p in SOURCES if (n := len(p.read_text().splitlines())) > 400}
    assert long == {}


def test_no_function_over_50_lines() -> None:
    long = [
        f"{path.relative_to(ROOT)}:{node.name} ({size})"
        for path in SOURCES
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and (size := (node.end_lineno or node.lineno) - node.lineno + 1) > 50
    ]
    assert long == []


def test_kopf_is_used_through_its_public_api_only() -> None:
    """No import of kopf's private modules and no name of them, in the package, the tests or the benchmark."""
    private = re.compile(r"\bkopf\." + "_")  # written in two parts, so that this file does not match itself
    places = [*SOURCES, *(ROOT / "tests").rglob("*.py"), *(ROOT / "bench").rglob("*.py")]
    assert [str(p.relative_to(ROOT)) for p in places if private.search(p.read_text())] == []


def test_kopf_is_pinned_to_the_minor_version_the_tests_run() -> None:
    """An upgrade of kopf is a change of ours: the range allows patch releases only, and holds the kopf
    installed here (the one every test ran with)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    (kopf,) = [Requirement(d) for d in project["dependencies"] if Requirement(d).name == "kopf"]
    bounds = {spec.operator: spec.version for spec in kopf.specifier}
    assert set(bounds) == {">=", "<"}, kopf
    low, high = bounds[">="].split("."), bounds["<"].split(".")
    assert high[:2] == [low[0], str(int(low[1]) + 1)], f"one minor version: {kopf}"
    assert kopf.specifier.contains(metadata.version("kopf")), f"kopf {metadata.version('kopf')} is outside {kopf}"
