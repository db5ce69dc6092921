from __future__ import annotations

import io
from datetime import UTC, datetime

from clonejob_operator.plugin import bar, table, timeline

NOW = datetime(2026, 11, 26, 10, 10, 0, tzinfo=UTC)
JOB = {
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

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    assert LIST_HELP.strip() in readme
