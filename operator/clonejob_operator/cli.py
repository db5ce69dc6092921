"""The clonejob-operator command: run the operator, print its CRDs, show it at work (demo), or vouch for a held
CloneJob's status (trust)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from kubernetes.client.exceptions import ApiException

from clonejob_operator import crdgen, seal
from clonejob_operator.flags import parser
from clonejob_operator.kube import CLONE_JOB, KUBECONFIG_ERRORS, MIGRATING_VM, Kube, kubeconfig_problem
from clonejob_operator.leadership import Election, own_identity, own_namespace
from clonejob_operator.logs import configure_logging
from clonejob_operator.metrics import Metrics
from clonejob_operator.runtime import Launch, Process, steady_heap
from clonejob_operator.seal import KeySource, Sealer
from clonejob_operator.settings import DEFAULT_STEP_TIMEOUTS, Settings


def _leader_election(args: argparse.Namespace) -> Election | None:
    if not args.leader_elect:
        return None
    lease = args.leader_elect_lease_duration.total_seconds()
    if lease != int(lease):
        parser().error("--leader-elect-lease-duration must be a whole number of seconds")
    namespace = args.leader_elect_namespace or own_namespace()
    if not namespace:
        parser().error("--leader-elect needs --leader-elect-namespace outside a pod")
    election = Election(
        namespace=namespace,
        name=args.leader_elect_id,
        identity=own_identity(),
        lease_duration=int(lease),
        renew_deadline=args.leader_elect_renew_deadline.total_seconds(),
        retry_period=args.leader_elect_retry_period.total_seconds(),
    )
    for problem in election.problems():
        parser().error(problem)
    return election


def connect(kubeconfig: str | None, context: str | None) -> Kube:
    if kubeconfig or os.environ.get("KUBECONFIG") or not os.environ.get("KUBERNETES_SERVICE_HOST"):
        return Kube.from_kubeconfig(kubeconfig, context)
    return Kube.in_cluster()


def _crds(output_dir: str | None, stand_ins: bool) -> int:
    if stand_ins:
        if output_dir:
            parser().error("--stand-ins prints them; it takes no --output-dir")
        from clonejob_demo import standins  # the demo's, imported for this command only

        sys.stdout.write(standins.render())
        return 0
    if output_dir:
        for name, crd in crdgen.all_crds().items():
            (Path(output_dir) / name).write_text(crdgen.render(crd))
    else:
        sys.stdout.write(crdgen.render_all())
    return 0


def _key_source(text: str | None) -> KeySource:
    namespace = own_namespace()
    try:
        return KeySource.parse(text, namespace) if text else KeySource.default(namespace)
    except ValueError as error:
        parser().error(f"--seal-key {error}")


def _sealer(source: KeySource, kube: Kube) -> Sealer | None:
    log = logging.getLogger("clonejob_operator")
    try:
        sealer = source.load(kube)
    except (ApiException, OSError, ValueError, RuntimeError) as error:
        why = f"the API answered {error.status} {error.reason}" if isinstance(error, ApiException) else str(error)
        log.error("cannot read or make the sealing key (%s): %s", source, why)
        return None
    log.info("statuses are sealed with the key in %s", source)
    return sealer


def _vouch(args: argparse.Namespace) -> int:
    namespace, _, name = args.job.partition("/")
    if not namespace or not name:
        parser().error(f"{args.job}: name the CloneJob as NAMESPACE/NAME")
    try:
        source = KeySource.parse(args.seal_key, None)
    except ValueError as error:
        parser().error(str(error))
    kube = connect(args.kubeconfig, args.context)
    body = kube.get(CLONE_JOB, namespace, name)
    if body is None:
        sys.stderr.write(f"CloneJob {namespace}/{name} not found\n")
        return 1
    sealer = source.load(kube)
    status = body.get("status") or {}
    if sealer.doubt(body) is None:
        sys.stdout.write(f"CloneJob {namespace}/{name}: its status is already the operator's; nothing to do\n")
        return 0
    patch = {"metadata": {"resourceVersion": body["metadata"]["resourceVersion"]}}
    patch["status"] = {seal.FIELD: sealer.seal(body["metadata"]["uid"], status)}
    kube.patch_status(CLONE_JOB, namespace, name, patch)
    shown = {k: status.get(k) for k in ("state", "currentStep") if status.get(k)}
    sys.stdout.write(f"CloneJob {namespace}/{name}: sealed its status as it is {shown}; the operator acts on it now\n")
    return 0


def _settings(args: argparse.Namespace, instance: str, sealer: Sealer) -> Settings:
    return Settings(
        sealer=sealer,
        instance=instance,
        pending_deadline=args.pending_deadline,
        stall_after=args.stall_after,
        message_interval=args.message_interval,
        step_timeouts={**DEFAULT_STEP_TIMEOUTS, **dict(args.step_timeout)},
        max_active=args.max_active,
        max_active_per_namespace=args.max_active_per_namespace,
        resync_interval=args.resync_interval,
        workers=args.workers,
        allow_ambient_credentials=args.allow_ambient_credentials,
        compute_endpoint=args.compute_endpoint,
        namespaces=tuple(args.namespace),
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.command == "crds":
        return _crds(args.output_dir, args.stand_ins)
    if args.command == "demo":
        from clonejob_demo import story  # imported for this command only: never on the operator's path

        return story.run(
            args.kubeconfig,
            args.context,
            args.namespace,
            not args.use_running_operator,
            args.keep,
            operator_log=args.operator_log,
            play_controllers=args.play_controllers,
        )
    if args.command == "trust":
        return _vouch(args)
    if args.max_active < 0 or args.max_active_per_namespace < 0:
        parser().error("--max-active and --max-active-per-namespace must be 0 or more")
    if args.workers < 1:
        parser().error("--workers must be 1 or more")
    election = _leader_election(args)
    source = _key_source(args.seal_key)
    configure_logging(args.log_format, args.verbose)
    log = logging.getLogger("clonejob_operator")
    try:
        kube = connect(args.kubeconfig, args.context)
    except KUBECONFIG_ERRORS as error:
        log.error(
            "%s (in a pod, the operator uses the pod's own account instead)", kubeconfig_problem(args.kubeconfig, error)
        )
        return 1
    try:  # kopf discovers resources once when watching named namespaces: the CRDs must be there first
        kube.await_served([CLONE_JOB, MIGRATING_VM], timeout=args.crd_timeout)
    except TimeoutError as error:
        log.error("%s", error)
        return 1
    sealer = _sealer(source, kube)
    if sealer is None:
        return 1
    settings = _settings(args, election.identity if election else own_identity(), sealer)
    metrics = Metrics()
    if args.metrics_port:
        metrics.serve(args.metrics_port, args.metrics_address)
    worker = Kube(kube.configuration, patient=False)  # the startup above may wait; the reconciles never do
    steady_heap()
    asyncio.run(Process(worker, Launch(settings, election, args.liveness), metrics).run())
    return 0


if __name__ == "__main__":
    sys.exit(main())
