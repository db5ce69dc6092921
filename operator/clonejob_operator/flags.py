"""The clonejob-operator command's flags: every subcommand's, their help and their checks as they are read."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from clonejob_operator.api.clonejob import StepKind
from clonejob_operator.kube import KUBECONFIG_HELP
from clonejob_operator.settings import DEFAULT_STEP_TIMEOUTS
from clonejob_operator.timestamps import format_duration, parse_duration


def _duration(text: str) -> timedelta:
    try:
        return parse_duration(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _at_most(limit: timedelta) -> Callable[[str], timedelta]:
    def parse(text: str) -> timedelta:
        value = _duration(text)
        if value > limit:
            raise argparse.ArgumentTypeError(f"{text} is longer than {format_duration(limit)}")
        return value

    return parse


def _step_timeout(text: str) -> tuple[StepKind, timedelta]:
    step, sep, value = text.partition("=")
    try:
        kind = StepKind(step)
    except ValueError:
        choices = ", ".join(k.value for k in StepKind)
        raise argparse.ArgumentTypeError(f"unknown step {step!r}; one of {choices}") from None
    if not sep:
        raise argparse.ArgumentTypeError("use STEP=DURATION, e.g. preparingVmDisks=6h")
    return kind, _duration(value)


DEMO = """It installs what is missing (the operator's CRDs, and stand-ins for the DataVolume, VirtualMachine,
VolumeSnapshot and ReplicationDestination CRDs), makes a MigratingVm with a ready VolumeSnapshot in a namespace of
its own, starts the operator, plays the four controllers, and shows four CloneJobs: one that succeeds, one
cancelled while its disk is being prepared, one whose disk fails, and one of a MigratingVm fed by VolSync, which
keeps the images it restores from while VolSync moves on. Then it removes everything it made, the successful
clones included, unless `--keep` is given."""
"""What ``demo`` does (its --help). The demo lives in the package ``clonejob_demo``, imported by that command
only: the operator's ``run`` never loads it."""


ABOUT = """The CloneJob of Google's Migrate to Virtual Machines API (vmmigration.googleapis.com, v1) on
Kubernetes: a CloneJob makes a test clone of a MigratingVm from its latest snapshots, on KubeVirt or Compute
Engine. `run` is the operator; `demo` shows it at work; `crds` prints what to install; `trust` vouches for a
held job. See COMMAND --help."""
"""What the command is (its --help)."""


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="clonejob-operator", description=ABOUT)
    commands = top.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run the operator against the cluster in KUBECONFIG or in-cluster")
    scope = run.add_mutually_exclusive_group()
    scope.add_argument("-n", "--namespace", action="append", default=[], help="watch this namespace (repeatable)")
    scope.add_argument("-A", "--all-namespaces", action="store_true", help="watch all namespaces (the default)")
    run.add_argument("--liveness", metavar="URL", help="serve a health endpoint, e.g. http://0.0.0.0:8080/healthz")
    run.add_argument(
        "--max-active", type=int, default=0, metavar="N", help="at most N CloneJobs hold products at once (0: no limit)"
    )
    run.add_argument(
        "--max-active-per-namespace",
        type=int,
        default=0,
        metavar="N",
        help="at most N of them in one namespace (0: no limit); a freed slot goes to the namespace that waited longest",
    )
    _election(run)
    _trust_flags(run)
    _timing(run)
    run.add_argument("--workers", type=int, default=8, metavar="N", help="CloneJobs reconciled at once (default 8)")
    run.add_argument(
        "--metrics-port", type=int, default=0, metavar="PORT", help="serve Prometheus metrics on PORT (default 0: off)"
    )
    run.add_argument("--metrics-address", default="0.0.0.0", metavar="ADDR", help="bind address for metrics")
    run.add_argument(
        "--crd-timeout",
        type=float,
        default=120.0,
        metavar="SECONDS",
        help="how long to wait at start for the CRDs to be served (default 120)",
    )
    _reach_and_say(run)
    crds = commands.add_parser("crds", help="print the CustomResourceDefinitions as YAML")
    crds.add_argument("--output-dir", metavar="DIR", help="write one file per CRD into DIR instead")
    crds.add_argument(
        "--stand-ins",
        action="store_true",
        help="print instead minimal stand-ins for the DataVolume, VirtualMachine, VolumeSnapshot and "
        "ReplicationDestination CRDs, for clusters without CDI, KubeVirt, a snapshot controller or VolSync",
    )
    _demo(commands)
    _trust(commands)
    return top


def _reach_and_say(run: argparse.ArgumentParser) -> None:
    """How the operator reaches its cluster, and how it logs."""
    run.add_argument("--kubeconfig", help=KUBECONFIG_HELP + "; in a pod without either: the pod's own account")
    run.add_argument("--context", help="the kubeconfig context to use")
    run.add_argument(
        "--log-format",
        choices=["plain", "full", "json"],
        default="full",
        help="plain: the message; full: with time, level and logger (default); json: one object per line",
    )
    run.add_argument("--verbose", action="store_true", help="log at DEBUG (every request sent, every look)")


def _trust_flags(run: argparse.ArgumentParser) -> None:
    """Whom the operator trusts: its own sealed statuses, and Google identities only as told."""
    run.add_argument(
        "--compute-endpoint",
        metavar="URL",
        help="send every Compute Engine call to URL with anonymous credentials (tests, emulators, proxies)",
    )
    run.add_argument(
        "--allow-ambient-credentials",
        action="store_true",
        help="let TargetProjects without a credentials Secret use the operator's own Google identity "
        "(Application Default Credentials); without it such jobs fail with PERMISSION_DENIED",
    )
    run.add_argument(
        "--seal-key",
        metavar="SOURCE",
        help="the key that seals the CloneJob statuses the operator writes: secret:[NAMESPACE/]NAME (made when "
        "missing) or file:PATH (default: in a pod, secret:<its namespace>/clonejob-operator-seal; elsewhere, "
        "file:$XDG_CONFIG_HOME/clonejob-operator/seal-key)",
    )


def _trust(commands: Any) -> None:
    trust = commands.add_parser(
        "trust",
        help="vouch for a held CloneJob's status, as a cluster admin (its status was not the operator's writing)",
        description="Seal the current status of a CloneJob that the operator holds (reason UntrustedStatus), so "
        "that the operator acts on it again. Read the status first: whatever it says, the operator will do. "
        "Needs read access to the sealing key and, where the chart's status policy is bound, an exempt identity.",
    )
    trust.add_argument("job", metavar="NAMESPACE/NAME", help="the held CloneJob")
    trust.add_argument(
        "--seal-key",
        metavar="SOURCE",
        required=True,
        help="the operator's key: secret:NAMESPACE/NAME (the chart's: secret:RELEASE-NAMESPACE/RELEASE-seal) or "
        "file:PATH",
    )
    trust.add_argument("--kubeconfig", help=KUBECONFIG_HELP)
    trust.add_argument("--context", help="the kubeconfig context to use")


def _demo(commands: Any) -> None:
    demo = commands.add_parser(
        "demo",
        help="show the operator at work on a cluster without KubeVirt, CDI or a snapshot controller",
        description=DEMO,
    )
    demo.add_argument("--kubeconfig", help=KUBECONFIG_HELP)
    demo.add_argument("--context", help="the kubeconfig context to use")
    demo.add_argument("--namespace", default="clonejob-demo", help="the demo's own namespace (default clonejob-demo)")
    demo.add_argument(
        "--use-running-operator",
        action="store_true",
        help="do not start an operator: one watching the namespace already runs",
    )
    demo.add_argument("--keep", action="store_true", help="leave everything in place at the end")
    demo.add_argument(
        "--play-controllers",
        action="store_true",
        help="play the controllers even where the products' real CRDs are installed (a test cluster with the CRDs "
        "but without KubeVirt, CDI or a snapshot controller running); by default the demo refuses such a cluster",
    )
    demo.add_argument(
        "--operator-log",
        metavar="PATH",
        help="keep the log of the operator the demo starts at PATH (by default it is removed when the demo passes)",
    )


def _election(run: argparse.ArgumentParser) -> None:
    """Leader election, with controller-runtime's flag names and defaults."""
    mode = run.add_mutually_exclusive_group()
    mode.add_argument(
        "--leader-elect",
        action="store_true",
        help="act only while holding a coordination.k8s.io/v1 Lease, so that several replicas can run (chart default)",
    )
    mode.add_argument(
        "--standalone", action="store_true", help="no leader election: this process acts alone (the default)"
    )
    timings = (
        (
            "lease-duration",
            15,
            "how long followers wait after the last renewal before taking the Lease",
            "whole seconds",
        ),
        ("renew-deadline", 10, "how long the leader keeps trying to renew before it stops acting", ""),
        ("retry-period", 2, "how often candidates try to take or renew the Lease", "at least 1s"),
    )
    for flag, seconds, what, rule in timings:
        run.add_argument(
            f"--leader-elect-{flag}",
            type=_duration,
            default=timedelta(seconds=seconds),
            metavar="DURATION",
            help=f"{what} (default {seconds}s{', ' + rule if rule else ''})",
        )
    run.add_argument(
        "--leader-elect-namespace",
        metavar="NS",
        help="the Lease's namespace (default: the pod's own, from $POD_NAMESPACE or its service account)",
    )
    run.add_argument(
        "--leader-elect-id",
        default="clonejob-operator",
        metavar="NAME",
        help="the Lease's name (default clonejob-operator)",
    )


def _timing(run: argparse.ArgumentParser) -> None:
    """Deadlines, timeouts and how often things are looked at or written."""
    run.add_argument(
        "--pending-deadline",
        type=_duration,
        default=timedelta(hours=1),
        metavar="DURATION",
        help="fail a job whose preconditions stay unmet this long (default 1h)",
    )
    run.add_argument(
        "--stall-after",
        type=_at_most(timedelta(seconds=60)),
        default=timedelta(seconds=60),
        metavar="DURATION",
        help="show Stalled=True once a transient error (an outage, a refused connection) has lasted this long "
        "(default 60s, at most 60s)",
    )
    run.add_argument(
        "--message-interval",
        type=_at_most(timedelta(seconds=30)),
        default=timedelta(seconds=10),
        metavar="DURATION",
        help="write a change of a job's messages alone at most this often (default 10s, at most 30s)",
    )
    defaults = ", ".join(f"{k.value}={format_duration(v)}" for k, v in DEFAULT_STEP_TIMEOUTS.items())
    run.add_argument(
        "--step-timeout",
        type=_step_timeout,
        action="append",
        default=[],
        metavar="STEP=DURATION",
        help=f"a step's timeout (defaults: {defaults})",
    )
    run.add_argument(
        "--resync-interval",
        type=float,
        default=300.0,
        metavar="SECONDS",
        help="safety resync: how often every unfinished job is looked at again (default 300); "
        "watch events and deadlines drive everything else",
    )
