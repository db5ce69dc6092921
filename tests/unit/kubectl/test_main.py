"""The command line: flags, help, a reader that goes away."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from clonejob_kubectl import main
from clonejob_kubectl.main import LIST_HELP, parser
from clonejob_operator.kube import Kube
from tests.unit.kubectl.samples import plugin_over_fake


def test_connection_flags_go_before_or_after_the_verb() -> None:

    after = parser().parse_args(["list", "-n", "team-a", "--context", "c", "--kubeconfig", "k", "-A"])
    before = parser().parse_args(["-n", "team-a", "--context", "c", "--kubeconfig", "k", "-A", "list"])
    for args in (after, before):
        assert (args.namespace, args.context, args.kubeconfig, args.all_namespaces) == ("team-a", "c", "k", True)
    both = parser().parse_args(["-n", "first", "get", "x", "-n", "second"])
    assert both.namespace == "second" and both.name == "x"
    assert parser().parse_args(["get", "x"]).namespace is None


def test_the_readme_shows_the_lists_help() -> None:

    readme = (Path(__file__).resolve().parents[3] / "docs" / "kubectl-clonejob.md").read_text()
    assert LIST_HELP.strip() in readme


def test_get_output_name_and_the_parser_takes_o_after_get() -> None:
    out = io.StringIO()
    shown, _ = plugin_over_fake(out)
    shown.get("cj", output="name")
    assert out.getvalue() == "clonejob.vmmigration.dev/cj\n"
    args = parser().parse_args(["get", "cj", "-o", "yaml", "--show-managed-fields"])
    assert (args.output, args.show_managed_fields) == ("yaml", True)
    assert parser().parse_args(["get", "cj"]).output == "timeline"


def test_all_namespaces_is_offered_by_list_only(capsys: pytest.CaptureFixture[str]) -> None:
    for verb in ("create", "get", "cancel"):
        with pytest.raises(SystemExit):
            parser().parse_args([verb, "--help"])
        assert "--all-namespaces" not in capsys.readouterr().out, verb
    with pytest.raises(SystemExit):
        parser().parse_args(["list", "--help"])
    assert "--all-namespaces" in capsys.readouterr().out


class Gone(io.StringIO):
    """A pipe whose reader has gone (`| head` after its lines)."""

    def write(self, text: str) -> int:
        raise BrokenPipeError(32, "Broken pipe")


def test_a_reader_that_goes_away_ends_the_plugin_quietly(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:

    fake = plugin_over_fake(io.StringIO())[1]
    monkeypatch.setattr(Kube, "from_kubeconfig", lambda *_: fake)
    assert main.main(["-n", "m", "get", "cj", "-o", "yaml"], out=Gone()) == main.BROKEN_PIPE
    assert capsys.readouterr().err == ""
