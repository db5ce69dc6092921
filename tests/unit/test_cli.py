from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from clonejob_operator import cli
from clonejob_operator.api.clonejob import StepKind


def test_run_options_parse() -> None:
    args = cli.parser().parse_args(
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
        cli.parser().parse_args(["run", *bad])
    assert caught.value.code == 2
    assert "error" in capsys.readouterr().err


def test_run_without_a_cluster_exits_1_with_a_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    missing = tmp_path / "nope"
    assert cli.main(["run", "--kubeconfig", str(missing), "-n", "x"]) == 1
    assert any("cannot reach a cluster" in r.getMessage() and str(missing) in r.getMessage() for r in caplog.records)


def test_leader_election_takes_controller_runtimes_flags(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POD_NAME", "op-7d9f-x2")
    monkeypatch.setenv("POD_NAMESPACE", "clonejob-system")
    args = cli.parser().parse_args(
        ["run", "--leader-elect", "--leader-elect-lease-duration", "30s", "--leader-elect-renew-deadline", "20s"]
    )
    election = cli._leader_election(args)
    assert election is not None
    assert (election.namespace, election.name) == ("clonejob-system", "clonejob-operator")
    assert (election.lease_duration, election.renew_deadline, election.retry_period) == (30, 20.0, 2.0)
    assert election.identity.startswith("op-7d9f-x2_") and len(election.identity) == len("op-7d9f-x2_") + 8
    assert cli._leader_election(cli.parser().parse_args(["run"])) is None, "standalone unless asked"


@pytest.mark.parametrize(
    ("flags", "complaint"),
    [
        (["--leader-elect", "--standalone"], "not allowed with argument"),
        (["--leader-elect", "--leader-elect-lease-duration", "15.5s"], "whole number of seconds"),
        (["--leader-elect", "--leader-elect-renew-deadline", "20s"], "longer than --leader-elect-renew-deadline"),
        (["--leader-elect", "--leader-elect-retry-period", "500ms"], "at least 1s"),
        (["--leader-elect", "--leader-elect-namespace", ""], "--leader-elect-namespace outside a pod"),
    ],
)
def test_leader_election_flags_that_cannot_work_are_refused(
    flags: list[str], complaint: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("POD_NAMESPACE", raising=False)
    monkeypatch.setattr("clonejob_operator.leadership.SERVICE_ACCOUNT_NAMESPACE", Path("/nonexistent/namespace"))
    if complaint != "--leader-elect-namespace outside a pod":
        flags = [*flags, "--leader-elect-namespace", "ops"]
    with pytest.raises(SystemExit) as caught:
        cli._leader_election(cli.parser().parse_args(["run", *flags]))
    assert caught.value.code == 2 and complaint in capsys.readouterr().err


def test_crds_stand_ins_prints_the_three_stand_in_crds(capsys: pytest.CaptureFixture[str]) -> None:
    import yaml

    from clonejob_operator import cli, standins

    assert cli.main(["crds", "--stand-ins"]) == 0
    docs = list(yaml.safe_load_all(capsys.readouterr().out))
    assert sorted(d["metadata"]["name"] for d in docs) == [
        "datavolumes.cdi.kubevirt.io",
        "virtualmachines.kubevirt.io",
        "volumesnapshots.snapshot.storage.k8s.io",
    ]
    assert all(standins.is_stand_in(d) and d["kind"] == "CustomResourceDefinition" for d in docs)
