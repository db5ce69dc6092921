"""The ``clonejob-operator`` command: ``run`` the operator, or print the ``crds``."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Callable, Sequence
from datetime import timedelta
from pathlib import Path

import kopf
import kubernetes

from clonejob_operator import crdgen
from clonejob_operator.api.clonejob import StepKind
from clonejob_operator.controller import Controller
from clonejob_operator.handlers import build_registry, operator_settings
from clonejob_operator.kube import CLONE_JOB, MIGRATING_VM, Kube
from clonejob_operator.settings import DEFAULT_STEP_TIMEOUTS, Settings
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


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="clonejob-operator", description=__doc__)
    commands = top.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run the operator against the cluster in KUBECONFIG or in-cluster")
    scope = run.add_mutually_exclusive_group()
    scope.add_argument("-n", "--namespace", action="append", default=[], help="watch this namespace (repeatable)")
    scope.add_argument("-A", "--all-namespaces", action="store_true", help="watch all namespaces (the default)")
    run.add_argument("--liveness", metavar="URL", help="serve a health endpoint, e.g. http://0.0.0.0:8080/healthz")
    run.add_argument(
        "--max-active", type=int, default=0, metavar="N", help="at most N CloneJobs hold products at once (0: no limit)"
    )
    run.add_argument("--standalone", action="store_true", help="no peering with other operator instances")
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
    _timing(run)
    run.add_argument("--workers", type=int, default=8, metavar="N", help="CloneJobs reconciled at once (default 8)")
    run.add_argument("--metrics-port", type=int, default=0, metavar="PORT", help="serve Prometheus metrics (0: off)")
    run.add_argument("--metrics-address", default="0.0.0.0", metavar="ADDR", help="bind address for metrics")
    run.add_argument(
        "--crd-timeout",
        type=float,
        default=120.0,
        metavar="SECONDS",
        help="how long to wait at start for the CRDs to be served (default 120)",
    )
    run.add_argument("--kubeconfig", help="a kubeconfig file (default: $KUBECONFIG, then in-cluster)")
    run.add_argument("--context", help="the kubeconfig context to use")
    run.add_argument("--log-format", choices=["plain", "full", "json"], default="full")
    run.add_argument("--verbose", action="store_true")
    crds = commands.add_parser("crds", help="print the CustomResourceDefinitions as YAML")
    crds.add_argument("--output-dir", metavar="DIR", help="write one file per CRD into DIR instead")
    return top


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
    defaults = ", ".join(f"{k.value}={int(v.total_seconds())}s" for k, v in DEFAULT_STEP_TIMEOUTS.items())
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


def connect(kubeconfig: str | None, context: str | None) -> Kube:
    if kubeconfig or os.environ.get("KUBECONFIG") or not os.environ.get("KUBERNETES_SERVICE_HOST"):
        return Kube.from_kubeconfig(kubeconfig, context)
    return Kube.in_cluster()


def _crds(output_dir: str | None) -> int:
    if output_dir:
        for name, crd in crdgen.all_crds().items():
            (Path(output_dir) / name).write_text(crdgen.render(crd))
    else:
        sys.stdout.write(crdgen.render_all())
    return 0


def _settings(args: argparse.Namespace) -> Settings:
    return Settings(
        pending_deadline=args.pending_deadline,
        stall_after=args.stall_after,
        message_interval=args.message_interval,
        step_timeouts={**DEFAULT_STEP_TIMEOUTS, **dict(args.step_timeout)},
        max_active=args.max_active,
        resync_interval=args.resync_interval,
        workers=args.workers,
        allow_ambient_credentials=args.allow_ambient_credentials,
        compute_endpoint=args.compute_endpoint,
        namespaces=tuple(args.namespace),
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.command == "crds":
        return _crds(args.output_dir)
    if args.max_active < 0:
        parser().error("--max-active must be 0 or more")
    if args.workers < 1:
        parser().error("--workers must be 1 or more")
    settings = _settings(args)
    kopf.configure(verbose=args.verbose, log_format=kopf.LogFormat[args.log_format.upper()])
    logging.getLogger("clonejob_operator").setLevel(logging.DEBUG if args.verbose else logging.INFO)
    try:
        kube = connect(args.kubeconfig, args.context)
    except (kubernetes.config.ConfigException, OSError) as error:
        logging.getLogger("clonejob_operator").error("cannot reach a cluster: %s", error)
        return 1
    try:  # kopf discovers resources once when watching named namespaces: the CRDs must be there first
        kube.await_served([CLONE_JOB, MIGRATING_VM], timeout=args.crd_timeout)
    except TimeoutError as error:
        logging.getLogger("clonejob_operator").error("%s", error)
        return 1
    controller = Controller.assemble(kube, settings)
    if args.metrics_port:
        controller.reconciler.metrics.serve(args.metrics_port, args.metrics_address)
    asyncio.run(
        kopf.operator(
            registry=build_registry(controller, kube.configuration),
            settings=operator_settings(args.namespace),
            standalone=args.standalone,
            clusterwide=not args.namespace,
            namespaces=args.namespace,
            liveness_endpoint=args.liveness,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
