from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from clonejob_operator import cli, flags
from clonejob_operator.api.clonejob import StepKind


def test_run_options_parse() -> None:
    args = flags.parser().parse_args(
        [
            "run",
            "-n",
            "a",
            "-n",
            "b",
            "--max-active",
            "3",
            "--standalone",
            "--pending-deadline",
            "30m",
            "--step-timeout",
            "adaptingOs=2h",
        ]
    )
    assert args.namespace == ["a", "b"] and args.max_active == 3 and args.standalone
    assert args.pending_deadline == timedelta(minutes=30)
    assert args.step_timeout == [(StepKind.ADAPTING_OS, timedelta(hours=2))]


@pytest.mark.parametrize(
    "bad",
    [
        ["--step-timeout", "cooking=1h"],
        ["--step-timeout", "adaptingOs"],
        ["--pending-deadline", "soon"],
        ["-n", "a", "-A"],
    ],
)
def test_bad_options_exit_with_a_message(bad: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        flags.parser().parse_args(["run", *bad])
    assert caught.value.code == 2
    assert "error" in capsys.readouterr().err


def test_run_without_a_cluster_exits_1_with_a_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    missing = tmp_path / "nope"
    assert cli.main(["run", "--kubeconfig", str(missing), "-n", "x"]) == 1
    said = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert said == [f"the kubeconfig {missing} (--kubeconfig) does not exist (in a pod, {IN_POD})"]


IN_POD = "the operator uses the pod's own account instead"


@pytest.mark.parametrize("command", ["run", "plugin", "demo"])
def test_no_kubeconfig_anywhere_says_where_to_put_one(
    command: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Every command looks for its kubeconfig alike, and says the same when there is none."""
    from clonejob_demo import story
    from clonejob_kubectl import main

    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    wanted = "no kubeconfig: pass --kubeconfig, set $KUBECONFIG, or create ~/.kube/config"
    if command == "run":
        assert cli.main(["run", "-n", "x"]) == 1
        assert [r.getMessage() for r in caplog.records if r.levelname == "ERROR"] == [f"{wanted} (in a pod, {IN_POD})"]
        return
    if command == "plugin":
        assert main.main(["list"]) == 1
    else:
        assert story.run(None, None, "x", start_operator=False, keep=False) == 1
    assert capsys.readouterr().err == f"error: {wanted}\n"


def test_an_unreadable_kubeconfig_is_named_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from clonejob_kubectl import main

    broken = tmp_path / "config"
    broken.write_text("clusters: [\n")
    assert main.main(["--kubeconfig", str(broken), "list"]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"error: cannot load the kubeconfig {broken} (--kubeconfig): ") and err.count("\n") == 1


def test_leader_election_takes_controller_runtimes_flags(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POD_NAME", "op-7d9f-x2")
    monkeypatch.setenv("POD_NAMESPACE", "clonejob-system")
    args = flags.parser().parse_args(
        ["run", "--leader-elect", "--leader-elect-lease-duration", "30s", "--leader-elect-renew-deadline", "20s"]
    )
    election = cli._leader_election(args)
    assert election is not None
    assert (election.namespace, election.name) == ("clonejob-system", "clonejob-operator")
    assert (election.lease_duration, election.renew_deadline, election.retry_period) == (30, 20.0, 2.0)
    assert election.identity.startswith("op-7d9f-x2_") and len(election.identity) == len("op-7d9f-x2_") + 8
    assert cli._leader_election(flags.parser().parse_args(["run"])) is None, "standalone unless asked"


@pytest.mark.parametrize(
    ("given", "complaint"),
    [
        (["--leader-elect", "--standalone"], "not allowed with argument"),
        (["--leader-elect", "--leader-elect-lease-duration", "15.5s"], "whole number of seconds"),
        (["--leader-elect", "--leader-elect-renew-deadline", "20s"], "longer than --leader-elect-renew-deadline"),
        (["--leader-elect", "--leader-elect-retry-period", "500ms"], "at least 1s"),
        (["--leader-elect", "--leader-elect-namespace", ""], "--leader-elect-namespace outside a pod"),
    ],
)
def test_leader_election_flags_that_cannot_work_are_refused(
    given: list[str], complaint: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("POD_NAMESPACE", raising=False)
    monkeypatch.setattr("clonejob_operator.leadership.SERVICE_ACCOUNT_NAMESPACE", Path("/nonexistent/namespace"))
    if complaint != "--leader-elect-namespace outside a pod":
        given = [*given, "--leader-elect-namespace", "ops"]
    with pytest.raises(SystemExit) as caught:
        cli._leader_election(flags.parser().parse_args(["run", *given]))
    assert caught.value.code == 2 and complaint in capsys.readouterr().err


def test_crds_stand_ins_prints_the_four_stand_in_crds(capsys: pytest.CaptureFixture[str]) -> None:
    import yaml

    from clonejob_demo import standins
    from clonejob_operator import cli

    assert cli.main(["crds", "--stand-ins"]) == 0
    docs = list(yaml.safe_load_all(capsys.readouterr().out))
    assert sorted(d["metadata"]["name"] for d in docs) == [
        "datavolumes.cdi.kubevirt.io",
        "replicationdestinations.volsync.backube",
        "virtualmachines.kubevirt.io",
        "volumesnapshots.snapshot.storage.k8s.io",
    ]
    assert all(standins.is_stand_in(d) and d["kind"] == "CustomResourceDefinition" for d in docs)


def test_the_operators_run_loads_neither_the_plugin_nor_the_demo_nor_lark() -> None:
    """The operator's process holds what it runs: `clonejob-operator run` (the CLI and everything the run
    path imports) loads no module of the kubectl plugin, the demo or its stand-in controllers, nor lark."""
    import subprocess
    import sys

    script = (
        "import sys\n"
        "from clonejob_operator import cli, controller, flags, kopfwiring, reconciler, runtime\n"
        "flags.parser().parse_args(['run', '-n', 'x'])\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('clonejob_kubectl', 'clonejob_demo', 'lark'))\n"
        "print(loaded)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True)
    assert done.stdout.strip() == "[]", done.stdout
