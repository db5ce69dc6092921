"""The READMEs agree with their sources: the CLI's parser, the chart's values.yaml and values.schema.json."""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path
from typing import Any

import yaml

from clonejob_operator import flags
from clonejob_operator.settings import DEFAULT_STEP_TIMEOUTS
from clonejob_operator.timestamps import format_duration

ROOT = Path(__file__).resolve().parents[1]
CHART = ROOT / "charts" / "clonejob-operator"
DOCS = ROOT / "docs"
FLAG = re.compile(r"(?<![\w-])--[a-z][a-z-]+")


def subcommands() -> dict[str, argparse.ArgumentParser]:
    action = next(a for a in flags.parser()._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def long_flags(parser: argparse.ArgumentParser) -> set[str]:
    return {o for a in parser._actions for o in a.option_strings if o.startswith("--") and o != "--help"}


def section(text: str, title: str) -> str:
    start = text.index(title)
    end = text.find("\n## ", start + len(title))
    return text[start : end if end != -1 else None]


def block(text: str, title: str) -> str:
    """The first fenced block of a README section."""
    return section(text, title).split("```")[1]


def test_the_synopsis_has_every_flag_of_every_command_and_no_other() -> None:
    synopsis = block((DOCS / "operating.md").read_text(), "## Running the operator")
    for name, parser in subcommands().items():
        line = synopsis[synopsis.index(f"clonejob-operator {name}") :].split("\nclonejob-operator ")[0]
        words = set(re.findall(r"(?<![\w-])--?[A-Za-z][a-z-]*", line))
        for action in parser._actions:
            if action.option_strings and "--help" not in action.option_strings:
                assert words & set(action.option_strings), f"{name}: {action.option_strings[-1]} is not in the README"
        assert set(FLAG.findall(line)) <= long_flags(parser), f"{name}: the README names a flag it does not have"


def test_the_docs_give_the_step_timeouts_the_cli_has() -> None:
    text = (DOCS / "operating.md").read_text()
    for kind, value in DEFAULT_STEP_TIMEOUTS.items():
        assert f"`{kind.value}={format_duration(value)}`" in text
    helped = subcommands()["run"].format_help()
    assert all(f"{k.value}={format_duration(v)}" in helped for k, v in DEFAULT_STEP_TIMEOUTS.items())
    assert not re.search(r"=\d+s\b", " ".join(helped.split())), "durations as people write them"


def test_every_flag_the_chart_passes_or_its_readme_names_is_a_flag_of_run() -> None:
    known = long_flags(subcommands()["run"]) | {"--help"}
    template = (CHART / "templates" / "deployment.yaml").read_text()
    named = set(FLAG.findall(template)) | set(FLAG.findall((CHART / "README.md").read_text()))
    named -= {
        "--namespace",
        "--create-namespace",
        "--server-side",
        "--force-conflicts",
        "--set",
        "--set-string",
        "--from-file",
    }  # helm's and kubectl's
    assert named - known == set()
    assert {"--leader-elect", "--max-active", "--step-timeout"} <= named


def schema_leaves(node: dict[str, Any], prefix: str = "") -> dict[str, dict[str, Any]]:
    if node.get("type") == "object" and "properties" in node and prefix != "resources.":
        out: dict[str, dict[str, Any]] = {}
        for key, child in node["properties"].items():
            out.update(schema_leaves(child, f"{prefix}{key}."))
        return out
    return {prefix.rstrip("."): node}


def value_of(values: Any, path: str) -> Any:
    for key in path.split("."):
        values = values[key]
    return values


def shown(value: Any) -> str:
    """A default as the values table writes it."""
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, str):
        return f"`{value}`" if value else '`""`'
    return f"`{json.dumps(value)}`"


def test_the_chart_readme_lists_exactly_the_schemas_values_with_their_defaults() -> None:
    schema = json.loads((CHART / "values.schema.json").read_text())
    leaves = schema_leaves(schema)
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    rows = re.findall(r"^\| `([^`]+)` \| ([^|]*) \|", section((CHART / "README.md").read_text(), "## Values"), re.M)
    table = dict(rows)
    assert len(rows) == len(table), "a value listed twice"
    assert set(table) == set(leaves)
    for path, default in table.items():
        if path == "resources":
            continue  # written out in words
        assert default.strip() == shown(value_of(values, path)), path


def test_the_chart_readme_names_the_three_crds_and_both_targets() -> None:
    intro = (CHART / "README.md").read_text().split("\n## ")[0]
    for words in ("CloneJob", "MigratingVm", "TargetProject", "KubeVirt", "Compute Engine"):
        assert words in intro


def test_each_operator_value_is_the_run_flag_of_its_name() -> None:
    known = long_flags(subcommands()["run"])
    template = (CHART / "templates" / "deployment.yaml").read_text()
    leaves = schema_leaves(json.loads((CHART / "values.schema.json").read_text()))
    for path in (p for p in leaves if p.startswith("operator.")):
        key = path.split(".")[1].removesuffix("s") if "stepTimeouts" in path else path.split(".")[1]
        flag = "--" + re.sub(r"[A-Z]", lambda m: "-" + m.group().lower(), key)
        assert flag in known and flag in template, path
    assert "`operator.maxActive` is `--max-active`" in (CHART / "README.md").read_text()


def test_every_apply_the_docs_and_scripts_give_is_server_side() -> None:
    """One apply mode everywhere: a client-side apply of the CRDs and a server-side one conflict."""
    places = [ROOT / "README.md", *sorted(DOCS.glob("*.md")), CHART / "README.md", CHART / "templates" / "NOTES.txt"]
    places += sorted((ROOT / "hack").glob("*.sh")) + sorted((ROOT / "manifests").rglob("*.yaml"))
    applies = [
        (place.name, line)
        for place in places
        for line in place.read_text().splitlines()
        if re.search(r"kubectl( -n \S+)? apply\b", line)
    ]
    assert len(applies) > 5
    assert [a for a in applies if "--server-side" not in a[1]] == []


def test_no_word_of_the_projects_own_and_no_markup_where_a_user_reads() -> None:
    """The API mirrored is named by its name; what kubectl explain shows is plain text."""
    import re

    from clonejob_operator import crdgen

    private = re.compile(r"(?i)\bthe seed\b|\bseed'?s\b|seed-style")
    texts = {
        "README.md": (ROOT / "README.md").read_text(),
        **{f"docs/{page.name}": page.read_text() for page in DOCS.glob("*.md")},
        "the chart's README": (CHART / "README.md").read_text(),
        "NOTES.txt": (CHART / "templates" / "NOTES.txt").read_text(),
        "values.yaml": (CHART / "values.yaml").read_text(),
        "the CRDs": "".join(crdgen.render(crd) for crd in crdgen.all_crds().values()),
        **{f"--help of {name}": parser.format_help() for name, parser in subcommands().items()},
    }
    from clonejob_kubectl import main as plugin

    texts["kubectl clonejob --help"] = plugin.parser().format_help()
    texts["clonejob-operator --help"] = flags.parser().format_help()
    assert [where for where, text in texts.items() if private.search(text)] == []
    assert "``" not in texts["the CRDs"], "descriptions are plain text"
    helps = {where: " ".join(text.split()) for where, text in texts.items() if where.endswith("--help")}
    assert [where for where, text in helps.items() if "``" in text or ":class:" in text] == [], "help is plain text"
    for where in ("clonejob-operator --help", "kubectl clonejob --help"):
        assert "Migrate to Virtual Machines API (vmmigration.googleapis.com, v1)" in helps[where], where


def test_the_readme_is_a_newcomers_path_and_every_link_of_the_docs_leads_somewhere() -> None:
    """What it is, trying it, installing, a first clone and uninstalling come first; reference is in docs/."""
    readme = (ROOT / "README.md").read_text()
    titles = re.findall(r"(?m)^## (.+)$", readme)
    assert titles[:5] == ["Try it", "Install", "Your first clone", "Uninstall", "Development"], titles
    assert len(readme.splitlines()) < 250
    for page in [ROOT / "README.md", *DOCS.glob("*.md")]:
        for target in re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", page.read_text()):
            if not target.startswith("http"):
                assert (page.parent / target).exists(), f"{page.name} links to {target}, which does not exist"
    linked = set(re.findall(r"\(docs/([\w-]+\.md)\)", readme))
    assert linked == {page.name for page in DOCS.glob("*.md")}, "the README leads to every page of docs/"
