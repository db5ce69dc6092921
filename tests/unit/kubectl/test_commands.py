"""The four methods against a fake API server."""

from __future__ import annotations

import io
import json

import pytest
import yaml

from clonejob_kubectl.commands import Plugin
from clonejob_kubectl.query import PluginError, Query
from clonejob_operator.kube import CLONE_JOB
from tests.fakekube import FakeKube
from tests.unit.kubectl.samples import plugin_over_fake


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_live_display_redraws_one_line_on_a_terminal_and_prints_lines_otherwise() -> None:

    terminal, pipe = Terminal(), io.StringIO()
    for out in (terminal, pipe):
        shower = Plugin(kube=None, namespace="m", out=out)  # type: ignore[arg-type]
        shower._show("CANCELLING [----]   0%")
        shower._show("CANCELLED [####] 100%")
    assert terminal.getvalue() == "\r\x1b[KCANCELLING [----]   0%\r\x1b[KCANCELLED [####] 100%"
    assert pipe.getvalue().splitlines() == ["CANCELLING [----]   0%", "CANCELLED [####] 100%"]


@pytest.mark.parametrize("output", ["json", "yaml"])
def test_get_prints_the_object_without_managed_fields_unless_asked(output: str) -> None:
    out = io.StringIO()
    shown, _ = plugin_over_fake(out)
    assert shown.get("cj", output=output) == 0
    body = json.loads(out.getvalue()) if output == "json" else yaml.safe_load(out.getvalue())
    assert body["metadata"]["name"] == "cj" and body["status"]["state"] == "ACTIVE"
    assert "managedFields" not in body["metadata"]
    out = io.StringIO()
    kept, _ = plugin_over_fake(out, show_managed_fields=True)
    kept.get("cj", output=output)
    body = json.loads(out.getvalue()) if output == "json" else yaml.safe_load(out.getvalue())
    assert body["metadata"]["managedFields"][0]["manager"] == "kubectl"


def test_create_refuses_a_migratingvm_that_does_not_exist_and_names_the_namespace() -> None:
    out = io.StringIO()
    shown, fake = plugin_over_fake(out)
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
    shown, fake = plugin_over_fake(io.StringIO())
    for args, what in ((("Not_A_Name", None), "MigratingVm 'Not_A_Name'"), (("web-1", "Bad!"), "--name 'Bad!'")):
        with pytest.raises(PluginError) as refused:
            shown.create(*args)
        message = str(refused.value)
        assert message.startswith(f"{what} is not a valid name: a lowercase RFC 1123 subdomain"), message
        assert "\n" not in message and "generateName" not in message and "clone-" not in message
    assert fake.names(CLONE_JOB) == ["cj"]


def test_no_clonejobs_found_names_the_namespace() -> None:
    out = io.StringIO()
    shown, _ = plugin_over_fake(out)
    shown._print_list([], "", Query())
    shown._print_list([], "", Query(all_namespaces=True))
    assert out.getvalue().splitlines() == ["No CloneJobs found in namespace m.", "No CloneJobs found."]


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
