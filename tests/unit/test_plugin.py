from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from typing import Any

import pytest
import yaml

from clonejob_operator.kube import CLONE_JOB, MIGRATING_VM, Kube
from clonejob_operator.plugin import Plugin, PluginError, Query, bar, parser, table, timeline
from tests.fakekube import FakeKube

NOW = datetime(2026, 11, 26, 10, 10, 0, tzinfo=UTC)
JOB: dict[str, Any] = {
    "metadata": {"name": "cj", "namespace": "m", "creationTimestamp": "2026-11-26T10:00:00Z"},
    "spec": {"migratingVm": "web-1"},
    "status": {
        "state": "ACTIVE",
        "stateTime": "2026-11-26T10:00:05Z",
        "progressPercent": 80,
        "currentStep": "instantiatingMigratedVm",
        "steps": [
            {
                "preparingVmDisks": {},
                "startTime": "2026-11-26T10:00:05Z",
                "endTime": "2026-11-26T10:08:05Z",
                "progressPercent": 100,
            },
            {"instantiatingMigratedVm": {}, "startTime": "2026-11-26T10:08:05Z", "progressPercent": 50},
        ],
        "conditions": [
            {
                "type": "Reconciling",
                "status": "True",
                "reason": "InstantiatingMigratedVm",
                "lastTransitionTime": "2026-11-26T10:08:05Z",
                "message": "VirtualMachine cj Starting",
            }
        ],
    },
}


def test_bar() -> None:
    assert bar(0) == "[--------------------]   0%"
    assert bar(50) == "[##########----------]  50%"
    assert bar(100, width=4) == "[####] 100%"
    assert bar(None) == bar(0) and bar(250) == bar(100)


def test_timeline_shows_steps_durations_and_progress() -> None:
    text = timeline(JOB, NOW)
    assert "CloneJob m/cj  (MigratingVm web-1)" in text
    assert "State:    ACTIVE for 9m55s" in text
    assert "preparingVmDisks" in text and "took 8m" in text
    assert "instantiatingMigratedVm" in text and "running 1m55s" in text
    assert "[##########----------]  50%" in text
    assert "Now:      VirtualMachine cj Starting" in text


def test_timeline_says_why_a_stalled_job_is_stuck() -> None:
    """An unreachable Compute Engine endpoint: Reconciling goes False with no message, Stalled says why."""
    stalled = [
        {
            "type": "Reconciling",
            "status": "False",
            "reason": "Unavailable",
            "lastTransitionTime": "2026-11-26T10:09:00Z",
        },
        {
            "type": "Stalled",
            "status": "True",
            "reason": "Unavailable",
            "lastTransitionTime": "2026-11-26T10:09:00Z",
            "message": "ConnectionError: compute.googleapis.com refused",
        },
    ]
    text = timeline({**JOB, "status": {**JOB["status"], "conditions": stalled}}, NOW)
    assert "Now:      stuck (Unavailable): ConnectionError: compute.googleapis.com refused" in text


def test_timeline_shows_the_error() -> None:
    failed = {
        **JOB,
        "status": {"state": "FAILED", "error": {"code": 4, "message": "too slow"}, "endTime": "2026-11-26T10:09:00Z"},
    }
    text = timeline(failed, NOW)
    assert "Error:    too slow (code 4)" in text and "ended 1m ago" in text


def test_table() -> None:
    lines = table([JOB], NOW).splitlines()
    assert lines[0].split() == ["NAMESPACE", "NAME", "STATE", "STEP", "PROGRESS", "MIGRATINGVM", "AGE"]
    assert lines[1].split() == ["m", "cj", "ACTIVE", "instantiatingMigratedVm", "80%", "web-1", "10m"]


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_live_display_redraws_one_line_on_a_terminal_and_prints_lines_otherwise() -> None:
    from clonejob_operator.plugin import Plugin

    terminal, pipe = Terminal(), io.StringIO()
    for out in (terminal, pipe):
        shower = Plugin(kube=None, namespace="m", out=out)  # type: ignore[arg-type]
        shower._show("CANCELLING [----]   0%")
        shower._show("CANCELLED [####] 100%")
    assert terminal.getvalue() == "\r\x1b[KCANCELLING [----]   0%\r\x1b[KCANCELLED [####] 100%"
    assert pipe.getvalue().splitlines() == ["CANCELLING [----]   0%", "CANCELLED [####] 100%"]


def test_connection_flags_go_before_or_after_the_verb() -> None:
    from clonejob_operator.plugin import parser

    after = parser().parse_args(["list", "-n", "team-a", "--context", "c", "--kubeconfig", "k", "-A"])
    before = parser().parse_args(["-n", "team-a", "--context", "c", "--kubeconfig", "k", "-A", "list"])
    for args in (after, before):
        assert (args.namespace, args.context, args.kubeconfig, args.all_namespaces) == ("team-a", "c", "k", True)
    both = parser().parse_args(["-n", "first", "get", "x", "-n", "second"])
    assert both.namespace == "second" and both.name == "x"
    assert parser().parse_args(["get", "x"]).namespace is None


def test_the_seeds_resource_name_is_accepted_by_get() -> None:
    import pytest

    from clonejob_operator.plugin import PluginError, resource_name

    assert resource_name("cj", "ns") == ("ns", "cj", None)
    assert resource_name("namespaces/team-a/migratingVms/web-1/cloneJobs/cj", "ns") == ("team-a", "cj", "web-1")
    with pytest.raises(PluginError):
        resource_name("projects/p/cloneJobs/cj", "ns")


def test_server_refusals_keep_the_servers_words() -> None:
    import json

    from kubernetes.client.exceptions import ApiException

    from clonejob_operator.plugin import server_message

    error = ApiException(status=422, reason="Unprocessable Entity")
    error.body = json.dumps(
        {
            "message": 'CloneJob.vmmigration.dev "web-1-test-3" is invalid: spec: Invalid value: exactly one of a, b '
            "must be set"
        }
    )
    assert server_message(error) == "spec: exactly one of a, b must be set"
    bare = ApiException(status=409, reason="Conflict")
    assert server_message(bare) == "the API server answered 409 Conflict"


def test_the_readme_shows_the_lists_help() -> None:
    from pathlib import Path

    from clonejob_operator.plugin import LIST_HELP

    readme = (Path(__file__).resolve().parents[2] / "docs" / "kubectl-clonejob.md").read_text()
    assert LIST_HELP.strip() in readme


def test_table_has_a_namespace_column_only_across_namespaces() -> None:
    one = table([JOB], NOW, namespaces=False).splitlines()
    assert one[0].split() == ["NAME", "STATE", "STEP", "PROGRESS", "MIGRATINGVM", "AGE"]
    assert one[1].split()[0] == "cj"


def _plugin(out: io.StringIO, show_managed_fields: bool = False) -> tuple[Plugin, FakeKube]:
    fake = FakeKube()
    managed = [{"manager": "kubectl", "operation": "Update", "fieldsV1": {"f:spec": {}}}]
    fake.put(CLONE_JOB, "m", "cj", spec=JOB["spec"], status=JOB["status"])
    fake.objects[(CLONE_JOB.plural, "m", "cj")]["metadata"]["managedFields"] = managed
    fake.put(MIGRATING_VM, "m", "web-1", spec={"sourceVmId": "vm-1"})
    return Plugin(kube=fake, namespace="m", out=out, show_managed_fields=show_managed_fields), fake  # type: ignore[arg-type]


@pytest.mark.parametrize("output", ["json", "yaml"])
def test_get_prints_the_object_without_managed_fields_unless_asked(output: str) -> None:
    out = io.StringIO()
    shown, _ = _plugin(out)
    assert shown.get("cj", output=output) == 0
    body = json.loads(out.getvalue()) if output == "json" else yaml.safe_load(out.getvalue())
    assert body["metadata"]["name"] == "cj" and body["status"]["state"] == "ACTIVE"
    assert "managedFields" not in body["metadata"]
    out = io.StringIO()
    kept, _ = _plugin(out, show_managed_fields=True)
    kept.get("cj", output=output)
    body = json.loads(out.getvalue()) if output == "json" else yaml.safe_load(out.getvalue())
    assert body["metadata"]["managedFields"][0]["manager"] == "kubectl"


def test_get_output_name_and_the_parser_takes_o_after_get() -> None:
    out = io.StringIO()
    shown, _ = _plugin(out)
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


def test_create_refuses_a_migratingvm_that_does_not_exist_and_names_the_namespace() -> None:
    out = io.StringIO()
    shown, fake = _plugin(out)
    with pytest.raises(PluginError) as refused:
        shown.create("ghost", None)
    assert str(refused.value).startswith("MigratingVm ghost not found in namespace m: nothing to clone")
    assert "--wait-for-vm" in str(refused.value) and fake.names(CLONE_JOB) == ["cj"]
    assert shown.create("ghost", "later", wait_for_vm=True) == 0
    assert shown.create("web-1", "now") == 0
    assert out.getvalue().splitlines() == [
        "clonejob.vmmigration.dev/later created in namespace m",
        "clonejob.vmmigration.dev/now created in namespace m",
    ]


def test_create_names_what_the_user_typed_in_one_line_when_it_is_no_name() -> None:
    shown, fake = _plugin(io.StringIO())
    for args, what in ((("Not_A_Name", None), "MigratingVm 'Not_A_Name'"), (("web-1", "Bad!"), "--name 'Bad!'")):
        with pytest.raises(PluginError) as refused:
            shown.create(*args)
        message = str(refused.value)
        assert message.startswith(f"{what} is not a valid name: a lowercase RFC 1123 subdomain"), message
        assert "\n" not in message and "generateName" not in message and "clone-" not in message
    assert fake.names(CLONE_JOB) == ["cj"]


def test_no_clonejobs_found_names_the_namespace() -> None:
    out = io.StringIO()
    shown, _ = _plugin(out)
    shown._print_list([], "", Query())
    shown._print_list([], "", Query(all_namespaces=True))
    assert out.getvalue().splitlines() == ["No CloneJobs found in namespace m.", "No CloneJobs found."]


class Gone(io.StringIO):
    """A pipe whose reader has gone (`| head` after its lines)."""

    def write(self, text: str) -> int:
        raise BrokenPipeError(32, "Broken pipe")


def test_a_reader_that_goes_away_ends_the_plugin_quietly(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from clonejob_operator import plugin

    fake = _plugin(io.StringIO())[1]
    monkeypatch.setattr(Kube, "from_kubeconfig", lambda *_: fake)
    assert plugin.main(["-n", "m", "get", "cj", "-o", "yaml"], out=Gone()) == plugin.BROKEN_PIPE
    assert capsys.readouterr().err == ""


class Unreadable(FakeKube):
    """A user who may not read namespaces: whether one exists is not theirs to know."""

    def namespace_exists(self, name: str) -> bool | None:
        return None


def test_create_in_a_missing_namespace_says_so_even_to_whom_namespaces_are_hidden() -> None:
    for fake in (FakeKube(namespaces={"m"}), Unreadable(namespaces={"m"})):
        shown = Plugin(kube=fake, namespace="migrations", out=io.StringIO())  # type: ignore[arg-type]
        with pytest.raises(PluginError) as refused:
            shown.create("web-1", None, wait_for_vm=True)
        assert str(refused.value) == "namespace migrations does not exist: create it first, or name another with -n"
        assert fake.names(CLONE_JOB) == []


def test_ordered_pages_cut_the_ordered_matches_and_say_where_the_next_begins() -> None:
    from clonejob_operator.plugin import ORDERED_TOKEN, _page

    items: list[dict[str, Any]] = [{"n": i} for i in range(5)]
    first, token = _page(items, 2, None)
    assert first == items[:2] and token == f"{ORDERED_TOKEN}2"
    last, token = _page(items, 4, token)
    assert last == items[2:] and token == ""
    assert _page(items, 0, None) == (items, "")
    for wrong in ("eyJ2IjoibWV0YS", f"{ORDERED_TOKEN}x"):
        with pytest.raises(PluginError, match="without --order-by"):
            _page(items, 2, wrong)
