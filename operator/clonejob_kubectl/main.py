"""``kubectl clonejob``: the vmmigration API's four CloneJob methods (create, get, list, cancel), at a terminal."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import Any, TextIO

import kubernetes
from kubernetes.client.exceptions import ApiException

from clonejob_kubectl.commands import Plugin
from clonejob_kubectl.listing import FilterError, Order
from clonejob_kubectl.query import ORDER_LIMIT, PluginError, Query, resource_name, server_message
from clonejob_operator.api.clonejob import State
from clonejob_operator.kube import KUBECONFIG_ERRORS, KUBECONFIG_HELP, KindNotServed, Kube, kubeconfig_problem

BROKEN_PIPE = 141
"""The exit status of a process that SIGPIPE ended, as kubectl's when its reader goes away."""


def _connection_flags(parser: argparse.ArgumentParser, default: Any, across: bool = True) -> None:
    """The flags kubectl takes before or after the verb: after it they win, before it they are the default."""
    parser.add_argument("-n", "--namespace", default=default, help="default: the current context's namespace")
    parser.add_argument("--kubeconfig", default=default, help=KUBECONFIG_HELP)
    parser.add_argument("--context", default=default, help="the kubeconfig context to use")
    if across:
        parser.add_argument(
            "-A",
            "--all-namespaces",
            action="store_true",
            default=default if default is not None else False,
            help="list: across all namespaces",
        )


def _managed_fields(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--show-managed-fields",
        action="store_true",
        help="with -o json|yaml: keep metadata.managedFields (left out by default, as kubectl does)",
    )


ABOUT = """The CloneJob methods of Google's Migrate to Virtual Machines API (vmmigration.googleapis.com, v1), at
a terminal: create a CloneJob of a MigratingVm, get one with its step timeline, list them (with the API's filters,
ordering and pages) and cancel one. The clonejob-operator carries them out. See COMMAND --help."""
"""What the plugin is (its --help)."""


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="kubectl clonejob", description=ABOUT)
    _connection_flags(top, None)
    after = argparse.ArgumentParser(add_help=False)
    _connection_flags(after, argparse.SUPPRESS, across=False)
    across = argparse.ArgumentParser(add_help=False)
    _connection_flags(across, argparse.SUPPRESS)
    commands = top.add_subparsers(dest="command", required=True)
    create = commands.add_parser("create", help="clone a MigratingVm", parents=[after])
    create.add_argument("migrating_vm", metavar="MIGRATINGVM")
    create.add_argument("--name", help="default: MIGRATINGVM-clone-<random>")
    create.add_argument(
        "--wait-for-vm",
        action="store_true",
        help="create the CloneJob even though the MigratingVm does not exist yet (the job waits for it)",
    )
    get = commands.add_parser("get", help="a CloneJob's state and step timeline", parents=[after])
    get.add_argument("name", metavar="NAME", help="a name, or namespaces/NS/migratingVms/MVM/cloneJobs/NAME")
    get.add_argument(
        "-o",
        "--output",
        choices=["timeline", "json", "yaml", "name"],
        default="timeline",
        help="the step timeline (default), the object as json or yaml, or its name",
    )
    _managed_fields(get)
    _list_command(commands, across)
    cancel = commands.add_parser("cancel", help="cancel a CloneJob", parents=[after])
    cancel.add_argument("name", metavar="NAME")
    cancel.add_argument("--wait", action="store_true", help="show progress until it has ended")
    cancel.add_argument("--timeout", type=float, default=600.0, help="seconds to wait with --wait (default 600)")
    return top


def _list_command(commands: Any, across: argparse.ArgumentParser) -> None:
    """``list``: the vmmigration API's list, with its filter, order and pages."""
    listing = commands.add_parser(
        "list",
        help="CloneJobs in the namespace (or all), the vmmigration API's list",
        parents=[across],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=LIST_HELP,
    )
    listing.add_argument("migrating_vm", metavar="MIGRATINGVM", nargs="?", help="only this MigratingVm's jobs")
    listing.add_argument("--state", type=_states, default=[], help="S[,S...]: only these states")
    listing.add_argument("--filter", help="an AIP-160 filter (see below)")
    listing.add_argument(
        "--order-by",
        nargs="+",
        metavar="FIELD",
        help=f"createTime|endTime|state|name [desc]: order every match (at most {ORDER_LIMIT}), then page",
    )
    listing.add_argument("--page-size", type=int, default=0, metavar="N", help="at most N jobs per page")
    listing.add_argument("--page-token", help="the page after the one that printed this token")
    listing.add_argument("-o", "--output", choices=["table", "json", "yaml", "name"], default="table")
    _managed_fields(listing)


def _namespace(explicit: str | None, kubeconfig: str | None, context: str | None) -> str:
    if explicit:
        return explicit
    try:
        contexts, active = kubernetes.config.list_kube_config_contexts(  # type: ignore[no-untyped-call]
            config_file=kubeconfig
        )
    except KUBECONFIG_ERRORS:
        return "default"
    chosen = next((c for c in contexts if c["name"] == context), active) if context else active
    return str((chosen or {}).get("context", {}).get("namespace") or "default")


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    stream = out or sys.stdout
    try:
        code = _main(argv, stream)
        stream.flush()
        return code
    except BrokenPipeError:  # the reader went away (`| head`): stop quietly, as kubectl does
        if stream is sys.stdout:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())  # so that the flush at exit does not complain again
        return BROKEN_PIPE


def _main(argv: Sequence[str] | None, stream: TextIO) -> int:
    args = parser().parse_args(argv)
    try:
        kube = Kube.from_kubeconfig(args.kubeconfig, args.context)
    except KUBECONFIG_ERRORS as error:
        print(f"error: {kubeconfig_problem(args.kubeconfig, error)}", file=sys.stderr)
        return 1
    namespace = _namespace(args.namespace, args.kubeconfig, args.context)
    name = getattr(args, "name", None)
    parent = None
    if args.command == "get" and name:
        try:
            namespace, name, parent = resource_name(name, namespace)
        except PluginError as error:
            print(f"error: {error}", file=sys.stderr)
            return 1
    plugin = Plugin(kube, namespace, stream, show_managed_fields=getattr(args, "show_managed_fields", False))
    try:
        if args.command == "create":
            return plugin.create(args.migrating_vm, args.name, wait_for_vm=args.wait_for_vm)
        if args.command == "get":
            return plugin.get(name or "", parent, output=args.output)
        if args.command == "list":
            return plugin.list(_query(args))
        return plugin.cancel(args.name, args.wait, args.timeout)
    except (PluginError, FilterError, KindNotServed) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except ApiException as error:
        what = f"CloneJob {name}" if name else "CloneJobs" if args.command == "list" else "CloneJob"
        print(f"error: {what}: {server_message(error)}", file=sys.stderr)
        return 1


LIST_HELP = f"""filters (a subset of AIP-160):
  fields       state, name, migratingVm (= and != only); createTime, endTime (RFC 3339; = != < <= > >=)
  combine      AND, OR (AND binds tighter), NOT or -, parentheses
  values       "quoted" or bare words; states: {", ".join(s.value for s in State)}
examples:
  kubectl clonejob list web-1 --state FAILED,CANCELLED
  kubectl clonejob list -A --filter 'state = FAILED AND createTime > "2026-11-01T00:00:00Z"'
  kubectl clonejob list --order-by createTime desc --page-size 10 -o json    # the newest ten
pages:
  without --order-by, pages are the API server's, in its order (by name), each sorted by namespace and age;
  with it, every match (at most {ORDER_LIMIT}) is read and ordered first, then cut into pages
"""


def _states(text: str) -> list[str]:
    known = {s.value for s in State}
    states = [part.strip() for part in text.split(",") if part.strip()]
    unknown = [s for s in states if s not in known]
    if unknown:
        raise argparse.ArgumentTypeError(f"no state {unknown[0]!r}; states: {', '.join(sorted(known))}")
    return states


def _query(args: argparse.Namespace) -> Query:
    order, descending = None, False
    if args.order_by:
        words = " ".join(args.order_by).split()
        try:
            order = Order(words[0])
        except ValueError:
            raise PluginError(f"--order-by {words[0]!r}: one of {', '.join(o.value for o in Order)}") from None
        if words[1:] not in ([], ["desc"], ["asc"]):
            raise PluginError(f"--order-by takes FIELD [desc], not {' '.join(words)!r}")
        descending = words[1:] == ["desc"]
    if args.page_size < 0:
        raise PluginError("--page-size must be 0 (everything) or more")
    return Query(
        migrating_vm=args.migrating_vm,
        all_namespaces=args.all_namespaces,
        states=args.state,
        filter=args.filter,
        order_by=order,
        descending=descending,
        page_size=args.page_size,
        page_token=args.page_token,
        output=args.output,
    )


if __name__ == "__main__":
    sys.exit(main())
