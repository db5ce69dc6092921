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
    assert any("cannot reach a cluster" in r.getMessage() for r in caplog.records)
