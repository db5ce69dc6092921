"""`kubectl clonejob` against the real API server."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys

import pytest
import yaml

from clonejob_kubectl import main as plugin
from clonejob_kubectl.query import ORDERED_TOKEN, no_namespace
from clonejob_operator.kube import CLONE_JOB, Kube
from tests.integration.kit import World, running_operator, settings_for

PLUGIN = (sys.executable, "-m", "clonejob_kubectl.main")


def run(kubeconfig: str, *args: str) -> tuple[int, str]:
    out = io.StringIO()
    code = plugin.main(["--kubeconfig", kubeconfig, *args], out=out)
    return code, out.getvalue()


def test_create_get_list(
    kube: Kube, world: World, namespace: str, cluster_kubeconfig: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = run(cluster_kubeconfig, "-n", namespace, "create", "web-1")
    err = capsys.readouterr().err
    assert code == 1 and err.startswith(f"error: MigratingVm web-1 not found in namespace {namespace}"), err
    assert world.kube.list(CLONE_JOB, namespace) == [], "refused: nothing created"
    world.migrating_vm("web-1")
    code, out = run(cluster_kubeconfig, "-n", namespace, "create", "web-1")
    assert code == 0 and out.startswith("clonejob.vmmigration.dev/web-1-clone-")
    assert out.rstrip().endswith(f" created in namespace {namespace}")
    generated = out.split("/")[1].split()[0]
    assert world.job(generated)["spec"] == {"migratingVm": "web-1", "cancel": False}
    code, out = run(cluster_kubeconfig, "-n", namespace, "create", "web-1", "--name", "mine")
    assert code == 0 and world.job("mine")
    with running_operator(kube, settings_for(namespace)):
        world.wait_state("mine", "PENDING")
        code, out = run(cluster_kubeconfig, "-n", namespace, "get", "mine")
        assert code == 0 and f"CloneJob {namespace}/mine  (MigratingVm web-1)" in out and "State:    PENDING" in out
    code, out = run(cluster_kubeconfig, "list", "-A")
    names = {(line.split()[0], line.split()[1]) for line in out.splitlines()[1:]}
    assert {(namespace, "mine"), (namespace, generated)} <= names


def test_cancel_wait_shows_progress_until_cancelled(
    kube: Kube, world: World, namespace: str, cluster_kubeconfig: str
) -> None:
    world.migrating_vm("web-1")
    with running_operator(kube, settings_for(namespace)):
        world.clone_job("cj")
        world.wait_step("cj", "preparingVmDisks")
        code, out = run(cluster_kubeconfig, "-n", namespace, "cancel", "cj", "--wait", "--timeout", "30")
    assert code == 0, out
    lines = out.splitlines()
    assert lines[0] == "clonejob.vmmigration.dev/cj cancel requested"
    assert lines[-1].startswith("CANCELLED [")
    assert world.state("cj") == "CANCELLED" and world.all_products() == []


def test_errors_exit_non_zero_with_a_message(
    world: World, namespace: str, cluster_kubeconfig: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _ = run(cluster_kubeconfig, "-n", namespace, "get", "nope")
    assert code == 1 and f"error: CloneJob nope not found in namespace {namespace}" in capsys.readouterr().err
    world.clone_job("done")
    world.kube.patch_status(CLONE_JOB, namespace, "done", {"status": {"state": "SUCCEEDED"}})
    code, _ = run(cluster_kubeconfig, "-n", namespace, "cancel", "done")
    assert code == 1 and "FAILED_PRECONDITION: the job has finished (SUCCEEDED)" in capsys.readouterr().err
    assert world.job("done")["spec"]["cancel"] is False, "a finished job is left alone"
    code, _ = run("/nonexistent/kubeconfig", "list")
    assert (
        code == 1
        and "error: the kubeconfig /nonexistent/kubeconfig (--kubeconfig) does not exist" in capsys.readouterr().err
    )


def test_flags_after_the_verb_the_apis_resource_name_and_the_servers_words(
    world: World, namespace: str, cluster_kubeconfig: str, capsys: pytest.CaptureFixture[str]
) -> None:
    world.clone_job("mine", migrating_vm="web-1")
    code, out = run(cluster_kubeconfig, "list", "-n", namespace)
    assert code == 0 and "mine" in out
    resource = f"namespaces/{namespace}/migratingVms/web-1/cloneJobs/mine"
    code, out = run(cluster_kubeconfig, "get", resource)
    assert code == 0 and f"CloneJob {namespace}/mine  (MigratingVm web-1)" in out
    code, _ = run(cluster_kubeconfig, "get", f"namespaces/{namespace}/migratingVms/web-2/cloneJobs/mine")
    assert code == 1 and "CloneJob mine of MigratingVm web-2 not found" in capsys.readouterr().err
    code, _ = run(cluster_kubeconfig, "create", "web-1", "--name", "mine", "--wait-for-vm", "-n", namespace)
    err = capsys.readouterr().err
    assert code == 1 and err.startswith('error: CloneJob mine: clonejobs.vmmigration.dev "mine" already exists'), err
    code, _ = run(cluster_kubeconfig, "create", "Not_A_Name", "-n", namespace)
    err = capsys.readouterr().err
    assert code == 1 and err.startswith("error: MigratingVm 'Not_A_Name' is not a valid name: a lowercase RFC 1123")
    assert len(err.splitlines()) == 1 and "generateName" not in err


def test_create_waits_for_a_migratingvm_only_when_asked(
    kube: Kube, world: World, namespace: str, cluster_kubeconfig: str
) -> None:
    code, out = run(cluster_kubeconfig, "-n", namespace, "create", "ghost", "--name", "early", "--wait-for-vm")
    assert code == 0 and out == f"clonejob.vmmigration.dev/early created in namespace {namespace}\n"
    with running_operator(kube, settings_for(namespace)):
        world.wait_state("early", "PENDING")
        world.wait_reason("early", "MigratingVmNotFound")


def test_get_and_list_print_objects_as_kubectl_does(world: World, namespace: str, cluster_kubeconfig: str) -> None:
    world.clone_job("mine", migrating_vm="web-1")
    code, out = run(cluster_kubeconfig, "-n", namespace, "get", "mine", "-o", "json")
    assert code == 0 and json.loads(out)["metadata"]["name"] == "mine"
    assert "managedFields" not in json.loads(out)["metadata"]
    code, out = run(cluster_kubeconfig, "-n", namespace, "get", "mine", "-o", "yaml", "--show-managed-fields")
    assert code == 0 and yaml.safe_load(out)["metadata"]["managedFields"], "the API server records managers"
    for output in ("json", "yaml"):
        code, out = run(cluster_kubeconfig, "-n", namespace, "list", "-o", output)
        jobs = (json.loads(out) if output == "json" else yaml.safe_load(out))["cloneJobs"]
        assert code == 0 and [j["metadata"]["name"] for j in jobs] == ["mine"]
        assert all("managedFields" not in j["metadata"] for j in jobs)
    code, out = run(cluster_kubeconfig, "-n", namespace, "list")
    assert code == 0 and out.splitlines()[0].split()[:2] == ["NAME", "STATE"], "no NAMESPACE column with -n"
    code, out = run(cluster_kubeconfig, "-n", namespace, "list", "--state", "FAILED")
    assert code == 0 and out == f"No CloneJobs found in namespace {namespace}.\n"


def test_a_pipe_closed_early_ends_the_plugin_quietly(world: World, namespace: str, cluster_kubeconfig: str) -> None:
    for index in range(3):
        world.clone_job(f"job-{index}")
    read, write = os.pipe()
    os.close(read)  # `| head -5` that has gone before the plugin writes
    try:
        done = subprocess.run(
            [*PLUGIN, "--kubeconfig", cluster_kubeconfig, "-n", namespace, "list", "-o", "yaml"],
            stdout=write,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
            check=False,
        )
    finally:
        os.close(write)
    assert done.stderr == "" and done.returncode == plugin.BROKEN_PIPE


def test_list_pages_through_25_jobs_ten_at_a_time(world: World, namespace: str, cluster_kubeconfig: str) -> None:
    for index in range(25):
        world.clone_job(f"job-{index:02d}")
    seen: list[str] = []
    token, pages = "", 0
    while True:
        args = ["list", "-n", namespace, "--page-size", "10", "-o", "json", *(["--page-token", token] if token else [])]
        code, out = run(cluster_kubeconfig, *args)
        assert code == 0, out
        response = json.loads(out)
        assert set(response) == {"cloneJobs", "nextPageToken"}  # the vmmigration API's ListCloneJobsResponse
        seen += [job["metadata"]["name"] for job in response["cloneJobs"]]
        pages += 1
        token = response["nextPageToken"]
        if not token:
            break
    assert pages == 3 and len(seen) == 25 and sorted(seen) == [f"job-{i:02d}" for i in range(25)]
    code, out = run(cluster_kubeconfig, "list", "-n", namespace, "--page-size", "10")
    assert code == 0 and out.splitlines()[-1].startswith("Next page token: ")


def test_list_by_migratingvm_state_filter_and_order(world: World, namespace: str, cluster_kubeconfig: str) -> None:
    for name, mvm, state in (("a", "web-1", "FAILED"), ("b", "web-2", "FAILED"), ("c", "web-1", "SUCCEEDED")):
        world.clone_job(name, migrating_vm=mvm)
        world.set_status(CLONE_JOB, name, {"state": state, "createTime": f"2026-11-0{ord(name) - 96}T00:00:00Z"})
    world.clone_job("d", migrating_vm="web-1")  # not recorded yet: STATE_UNSPECIFIED

    def names(*args: str) -> list[str]:
        code, out = run(cluster_kubeconfig, "list", "-n", namespace, "-o", "name", *args)
        assert code == 0, out
        return [line.rsplit("/", 1)[1] for line in out.splitlines()]

    assert sorted(names("web-1")) == ["a", "c", "d"]
    assert names("web-1", "--state", "FAILED") == ["a"]
    assert sorted(names("--state", "FAILED,SUCCEEDED")) == ["a", "b", "c"]
    assert names("--state", "STATE_UNSPECIFIED") == ["d"]
    assert names("--filter", 'state = FAILED AND createTime > "2026-11-01T12:00:00Z"') == ["b"]
    assert names("--filter", "state = FAILED OR state = SUCCEEDED", "--order-by", "createTime", "desc") == [
        "c",
        "b",
        "a",
    ]


def test_list_rejects_an_unsupported_filter_pointing_at_it(
    namespace: str, cluster_kubeconfig: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _ = run(cluster_kubeconfig, "list", "-n", namespace, "--filter", "size > 3")
    err = capsys.readouterr().err
    assert code == 1 and "unknown field 'size'" in err and err.rstrip().endswith("^")


def test_order_by_orders_every_match_before_paging(world: World, namespace: str, cluster_kubeconfig: str) -> None:
    """`--order-by createTime desc --page-size 10` is the newest ten, though names and age disagree."""
    for index in range(23):
        name = f"job-{index:02d}"
        world.clone_job(name)
        day = 1 + (index * 7) % 23  # creation days in an order that is neither the names' nor its reverse
        world.set_status(CLONE_JOB, name, {"createTime": f"2026-10-{day:02d}T00:00:00Z"})
    expected = sorted(
        (f"job-{index:02d}" for index in range(23)), key=lambda n: 1 + (int(n[4:]) * 7) % 23, reverse=True
    )
    seen: list[list[str]] = []
    token = ""
    while True:
        extra = ["--page-token", token] if token else []
        args = ["list", "-n", namespace, "--order-by", "createTime", "desc", "--page-size", "10", "-o", "json"]
        code, out = run(cluster_kubeconfig, *args, *extra)
        assert code == 0, out
        response = json.loads(out)
        seen.append([job["metadata"]["name"] for job in response["cloneJobs"]])
        token = response["nextPageToken"]
        if not token:
            break
    assert [len(page) for page in seen] == [10, 10, 3]
    assert [name for page in seen for name in page] == expected


def test_a_page_token_belongs_to_its_kind_of_list(
    world: World, namespace: str, cluster_kubeconfig: str, capsys: pytest.CaptureFixture[str]
) -> None:
    for index in range(3):
        world.clone_job(f"job-{index}")
    code, out = run(cluster_kubeconfig, "list", "-n", namespace, "--order-by", "name", "--page-size", "2")
    token = out.splitlines()[-1].removeprefix("Next page token: ")
    assert code == 0 and token.startswith(ORDERED_TOKEN), out
    code, _ = run(cluster_kubeconfig, "list", "-n", namespace, "--page-size", "2", "--page-token", token)
    assert code == 1 and "came from a list with --order-by" in capsys.readouterr().err
    code, out = run(cluster_kubeconfig, "list", "-n", namespace, "--page-size", "2")
    server_token = out.splitlines()[-1].removeprefix("Next page token: ")
    code, _ = run(cluster_kubeconfig, "list", "-n", namespace, "--order-by", "name", "--page-token", server_token)
    assert code == 1 and "came from a list without --order-by" in capsys.readouterr().err


def test_create_in_a_namespace_that_does_not_exist_says_so(
    cluster_kubeconfig: str, namespace: str, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = f"{namespace}-missing"
    for extra in ([], ["--wait-for-vm"]):
        code, _ = run(cluster_kubeconfig, "-n", missing, "create", "web-1", *extra)
        err = capsys.readouterr().err
        assert code == 1 and err == f"error: {no_namespace(missing)}\n", err
