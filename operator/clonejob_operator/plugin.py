"""``kubectl clonejob``: the vmmigration API's four CloneJob methods (create, get, list, cancel), at a terminal."""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TextIO

import kubernetes
import yaml
from kubernetes.client.exceptions import ApiException

from clonejob_operator.api.base import DNS_SUBDOMAIN
from clonejob_operator.api.clonejob import FINISHED as FINISHED_STATES
from clonejob_operator.api.clonejob import State
from clonejob_operator.jobs import read_job
from clonejob_operator.kube import (
    CLONE_JOB,
    KUBECONFIG_ERRORS,
    KUBECONFIG_HELP,
    MIGRATING_VM,
    Body,
    KindNotServed,
    Kube,
    kubeconfig_problem,
    status_of,
)
from clonejob_operator.listing import Filter, FilterError, Order, field_of, field_selector, order_key, parse_filter
from clonejob_operator.timestamps import format_duration, now, parse_time

FINISHED = tuple(sorted(state.value for state in FINISHED_STATES))
BAR = 20
CHUNK = 500
"""How many CloneJobs one list request asks for when every match is needed (--order-by)."""
ORDER_LIMIT = 10_000
"""The most CloneJobs --order-by reads and orders on this side."""
ORDERED_TOKEN = "ordered-"
"""How a page token of an ordered list begins (an offset into the ordered matches); the server's never do."""
BROKEN_PIPE = 141
"""The exit status of a process that SIGPIPE ended, as kubectl's when its reader goes away."""


class PluginError(Exception):
    """A problem to tell the user about, in one line, with a non-zero exit."""


def bar(percent: int | None, width: int = BAR) -> str:
    value = max(0, min(100, percent or 0))
    filled = round(width * value / 100)
    return "[" + "#" * filled + "-" * (width - filled) + f"] {value:3d}%"


def _ago(stamp: str | None, moment: datetime) -> str:
    return format_duration(moment - parse_time(stamp)) if stamp else "-"


def timeline(body: Body, moment: datetime) -> str:
    """A CloneJob as `kubectl clonejob get` shows it."""
    job = read_job(body)
    status = job.status
    lines = [
        f"CloneJob {job.namespace}/{job.name}  (MigratingVm {job.migrating_vm})",
        f"State:    {status.current.value} for {_ago(status.state_time, moment)}"
        + (f", ended {_ago(status.end_time, moment)} ago" if status.end_time else ""),
        f"Progress: {bar(status.progress_percent)}",
    ]
    if status.steps:
        lines.append("Steps:")
    for step in status.steps or []:
        start, end = step.start_time, step.end_time
        took = (
            (parse_time(end) - parse_time(start)) if start and end else (moment - parse_time(start)) if start else None
        )
        how = ("took " if end else "running ") + (format_duration(took) if took is not None else "-")
        lines.append(f"  {step.kind.value:<25} {start or '-':<28} {how:<16} {bar(step.progress_percent)}")
    if job.doing:
        lines.append(f"Now:      {job.doing}")
    if status.error is not None:
        lines.append(f"Error:    {status.error.message or ''} (code {status.error.code})")
    return "\n".join(lines)


def table(items: Sequence[Body], moment: datetime, namespaces: bool = True) -> str:
    """The list as kubectl prints one: a NAMESPACE column only across namespaces."""
    rows: list[tuple[str, ...]] = [("NAMESPACE", "NAME", "STATE", "STEP", "PROGRESS", "MIGRATINGVM", "AGE")]
    for item in items:
        job = read_job(item)
        rows.append(
            (
                job.namespace,
                job.name,
                job.status.state or "",
                job.status.current_step.value if job.status.current_step else "",
                f"{job.status.progress_percent or 0}%",
                job.migrating_vm if job.spec else "",
                _ago(item["metadata"].get("creationTimestamp"), moment),
            )
        )
    if not namespaces:
        rows = [row[1:] for row in rows]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "   ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows
    )


def ref(name: str) -> str:
    """A CloneJob as kubectl names it in its output: ``clonejob.vmmigration.dev/NAME``."""
    return f"{CLONE_JOB.kind.lower()}.{CLONE_JOB.group}/{name}"


def without_managed_fields(body: Body) -> Body:
    """The object as kubectl prints it by default: ``metadata.managedFields`` left out."""
    metadata = {k: v for k, v in (body.get("metadata") or {}).items() if k != "managedFields"}
    return {**body, "metadata": metadata}


def dump(document: Any, output: str) -> str:
    text = json.dumps(document, indent=2) if output == "json" else yaml.safe_dump(document, sort_keys=False)
    return text.rstrip()


def name_problem(name: str) -> str | None:
    """Why NAME cannot be an object's name (a lowercase RFC 1123 subdomain), in the API server's words."""
    if len(name) > 253:
        return "must be no more than 253 characters"
    if not re.fullmatch(DNS_SUBDOMAIN, name):
        return (
            "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
            "and must start and end with an alphanumeric character"
        )
    return None


def no_namespace(namespace: str) -> str:
    return f"namespace {namespace} does not exist: create it first, or name another with -n"


class Plugin:
    def __init__(self, kube: Kube, namespace: str, out: TextIO, show_managed_fields: bool = False) -> None:
        self.kube, self.namespace, self.out = kube, namespace, out
        self.show_managed_fields = show_managed_fields

    def _shown(self, body: Body) -> Body:
        return dict(body) if self.show_managed_fields else without_managed_fields(body)

    def _get(self, name: str) -> Body:
        body = self.kube.get(CLONE_JOB, self.namespace, name)
        if body is None:
            raise PluginError(f"CloneJob {name} not found in namespace {self.namespace}")
        return body

    def create(self, migrating_vm: str, name: str | None, wait_for_vm: bool = False) -> int:
        """Create a CloneJob of a MigratingVm that exists (or, with ``wait_for_vm``, of one still to come)."""
        for what, value in (("MigratingVm", migrating_vm), ("--name", name)):
            problem = name_problem(value) if value is not None else None
            if problem:
                raise PluginError(f"{what} {value!r} is not a valid name: {problem}")
        if self.kube.namespace_exists(self.namespace) is False:  # None: this user may not tell
            raise PluginError(no_namespace(self.namespace))
        if not wait_for_vm and self.kube.get(MIGRATING_VM, self.namespace, migrating_vm) is None:
            raise PluginError(
                f"MigratingVm {migrating_vm} not found in namespace {self.namespace}: nothing to clone; "
                "pass --wait-for-vm to create the CloneJob anyway (it waits for the MigratingVm, "
                "up to the operator's pending deadline)"
            )
        meta: dict[str, Any] = {"namespace": self.namespace}
        meta.update({"name": name} if name else {"generateName": f"{migrating_vm}-clone-"})
        body = {
            "apiVersion": CLONE_JOB.api_version,
            "kind": CLONE_JOB.kind,
            "metadata": meta,
            "spec": {"migratingVm": migrating_vm},
        }
        try:
            created = self.kube.create(CLONE_JOB, self.namespace, body)
        except ApiException as error:
            if status_of(error) == 404:  # the only thing a create finds missing is the namespace
                raise PluginError(no_namespace(self.namespace)) from None
            raise
        print(
            f"{ref(created['metadata']['name'])} created in namespace {self.namespace}",
            file=self.out,
        )
        return 0

    def get(self, name: str, migrating_vm: str | None = None, output: str = "timeline") -> int:
        body = self._get(name)
        if migrating_vm is not None and (body.get("spec") or {}).get("migratingVm") != migrating_vm:
            raise PluginError(f"CloneJob {name} of MigratingVm {migrating_vm} not found in namespace {self.namespace}")
        if output in ("json", "yaml"):
            print(dump(self._shown(body), output), file=self.out)
        elif output == "name":
            print(ref(body["metadata"]["name"]), file=self.out)
        else:
            print(timeline(body, now()), file=self.out)
        return 0

    def list(self, query: Query) -> int:
        """The vmmigration API's list: by MigratingVm and state on the server (field selectors), the rest of the
        filter here. Without --order-by, pages are the API server's (limit and continue: the continue token is
        the next page token). With it, every match is read (up to ORDER_LIMIT), ordered, then cut into pages,
        so that `--order-by createTime desc --page-size 10` is the newest ten."""
        flt = parse_filter(query.filter) if query.filter else None
        selector = field_selector(query.migrating_vm, query.states, flt.server if flt else ())
        if query.order_by is None:
            if (query.page_token or "").startswith(ORDERED_TOKEN):
                raise PluginError("--page-token: this token came from a list with --order-by; pass it again")
            listing = self._fetch(query.all_namespaces, selector, query.page_size, query.page_token)
            items = _matching(list(listing.get("items") or []), query, flt)
            items.sort(key=lambda i: (i["metadata"]["namespace"], i["metadata"].get("creationTimestamp", "")))
            token = str((listing.get("metadata") or {}).get("continue") or "")
        else:
            items = _matching(list(self._everything(query.all_namespaces, selector)), query, flt)
            items.sort(key=order_key(query.order_by), reverse=query.descending)
            items, token = _page(items, query.page_size, query.page_token)
        self._print_list(items, token, query)
        return 0

    def _fetch(self, all_namespaces: bool, selector: str, limit: int, token: str | None) -> Body:
        kwargs: dict[str, Any] = {"field_selector": selector, "limit": limit}
        if token:
            kwargs["_continue"] = token
        custom, kind = self.kube.custom, CLONE_JOB
        if all_namespaces:
            return dict(
                self.kube.call(custom.list_cluster_custom_object, kind.group, kind.version, kind.plural, **kwargs)
            )
        return dict(
            self.kube.call(
                custom.list_namespaced_custom_object, kind.group, kind.version, self.namespace, kind.plural, **kwargs
            )
        )

    def _everything(self, all_namespaces: bool, selector: str) -> Sequence[Body]:
        """Every CloneJob the selector matches, read in chunks; refused beyond ORDER_LIMIT."""
        items: tuple[Body, ...] = ()
        token: str | None = None
        while True:
            listing = self._fetch(all_namespaces, selector, CHUNK, token)
            items += tuple(listing.get("items") or ())
            token = str((listing.get("metadata") or {}).get("continue") or "")
            if len(items) > ORDER_LIMIT:
                raise PluginError(
                    f"--order-by reads every matching CloneJob and orders them here, at most {ORDER_LIMIT}; "
                    "more match: narrow the list with MIGRATINGVM or --state, or drop --order-by"
                )
            if not token:
                return items

    def _print_list(self, items: Sequence[Body], token: str, query: Query) -> None:
        output = query.output
        if output in ("json", "yaml"):
            response = {
                "cloneJobs": [self._shown(item) for item in items],
                "nextPageToken": token,
            }  # the vmmigration API's ListCloneJobsResponse
            print(dump(response, output), file=self.out)
            return
        if output == "name":
            for item in items:
                print(ref(item["metadata"]["name"]), file=self.out)
            return
        if items:
            print(table(items, now(), namespaces=query.all_namespaces), file=self.out)
        else:
            print(
                "No CloneJobs found." if query.all_namespaces else f"No CloneJobs found in namespace {self.namespace}.",
                file=self.out,
            )
        if token:
            print(f"Next page token: {token}", file=self.out)

    def cancel(self, name: str, wait: bool, timeout: float, interval: float = 1.0) -> int:
        state = (self._get(name).get("status") or {}).get("state")
        if state in FINISHED:
            raise PluginError(
                f"CloneJob {name}: FAILED_PRECONDITION: the job has finished ({state}); nothing to cancel"
            )
        self.kube.patch(CLONE_JOB, self.namespace, name, {"spec": {"cancel": True}})
        print(f"{ref(name)} cancel requested", file=self.out)
        if not wait:
            return 0
        deadline, shown = time.monotonic() + timeout, ""
        while time.monotonic() < deadline:
            status = self.kube.get(CLONE_JOB, self.namespace, name)
            if status is None:
                print(f"{ref(name)} is gone", file=self.out)
                return 0
            line = _live(status)
            if line != shown:
                self._show(line)
                shown = line
            state = (status.get("status") or {}).get("state")
            if state in FINISHED:
                if self.out.isatty():
                    print(file=self.out)
                return 0 if state == "CANCELLED" else 1
            time.sleep(interval)
        raise PluginError(
            f"CloneJob {name} did not finish cancelling within {format_duration(timedelta(seconds=timeout))}"
        )

    def _show(self, line: str) -> None:
        """On a terminal, one line redrawn in place; otherwise (a pipe, a log) a line per change."""
        if self.out.isatty():
            self.out.write("\r\033[K" + line)
            self.out.flush()
        else:
            print(line, file=self.out, flush=True)


def _live(body: Body) -> str:
    job = read_job(body)
    return f"{job.status.state or ''} {bar(job.status.progress_percent)} {job.doing}".rstrip()


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


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="kubectl clonejob", description=__doc__)
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
    cancel = commands.add_parser("cancel", help="cancel a CloneJob", parents=[after])
    cancel.add_argument("name", metavar="NAME")
    cancel.add_argument("--wait", action="store_true", help="show progress until it has ended")
    cancel.add_argument("--timeout", type=float, default=600.0, help="seconds to wait with --wait (default 600)")
    return top


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


@dataclass(frozen=True)
class Query:
    migrating_vm: str | None = None
    all_namespaces: bool = False
    states: list[str] = field(default_factory=list)
    filter: str | None = None
    order_by: Order | None = None
    descending: bool = False
    page_size: int = 0
    page_token: str | None = None
    output: str = "table"


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


def _matching(items: list[Body], query: Query, flt: Filter | None) -> list[Body]:
    """The jobs of a listing that pass what the server could not filter."""
    if query.states:
        items = [i for i in items if field_of(i, "state") in query.states]
    return [i for i in items if flt.test(i)] if flt is not None else items


def _page(items: list[Body], size: int, token: str | None) -> tuple[list[Body], str]:
    """One page of ordered matches and the token of the next ("" after the last)."""
    start = 0
    if token:
        offset = token.removeprefix(ORDERED_TOKEN)
        if not token.startswith(ORDERED_TOKEN) or not offset.isdigit():
            raise PluginError("--page-token: this token came from a list without --order-by; pass it without one")
        start = int(offset)
    end = start + size if size else len(items)
    return items[start:end], f"{ORDERED_TOKEN}{end}" if end < len(items) else ""


# "Invalid value: " before a rule's message (object fields carry no value); kept before a real value.
_NOISE = re.compile(r'Invalid value: (?!(?:"[^"]*"|true|false|null|-?\d[\d.e+-]*): )|Forbidden: ')
_RESOURCE = re.compile(r"^namespaces/(?P<ns>[^/]+)/migratingVms/(?P<mvm>[^/]+)/cloneJobs/(?P<name>[^/]+)$")


def resource_name(name: str, namespace: str) -> tuple[str, str, str | None]:
    """(namespace, name, MigratingVm or None) of a bare name, or of the vmmigration API's name (status.name)."""
    if "/" not in name:
        return namespace, name, None
    match = _RESOURCE.match(name)
    if match is None:
        raise PluginError(f"{name!r} is neither a name nor namespaces/NS/migratingVms/MVM/cloneJobs/NAME")
    return match["ns"], match["name"], match["mvm"]


def server_message(error: ApiException) -> str:
    """What the API server said: its message (the field, the rule and why), else its code and reason."""
    try:
        message = str(json.loads(error.body or "{}").get("message") or "")
    except ValueError:
        message = ""
    if not message:
        return f"the API server answered {status_of(error)} {error.reason}"
    _, invalid, detail = message.partition(" is invalid: ")
    # "spec.cancel: Invalid value: \"boolean\": why" reads "spec.cancel: why" (likewise Forbidden).
    return _NOISE.sub("", detail) if invalid else message


if __name__ == "__main__":
    sys.exit(main())
