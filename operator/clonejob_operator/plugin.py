"""``kubectl clonejob``: the seed's four CloneJob methods (create, get, list, cancel) for people at a terminal."""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, TextIO

import kubernetes
from kubernetes.client.exceptions import ApiException

from clonejob_operator.api.clonejob import FINISHED as FINISHED_STATES
from clonejob_operator.api.clonejob import State
from clonejob_operator.kube import CLONE_JOB, Body, Kube, status_of
from clonejob_operator.timestamps import format_duration, now, parse_time

FINISHED = tuple(sorted(state.value for state in FINISHED_STATES))
BAR = 20


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
    meta, spec, status = body["metadata"], body.get("spec") or {}, body.get("status") or {}
    lines = [
        f"CloneJob {meta['namespace']}/{meta['name']}  (MigratingVm {spec.get('migratingVm', '?')})",
        f"State:    {status.get('state', 'STATE_UNSPECIFIED')} for {_ago(status.get('stateTime'), moment)}"
        + (f", ended {_ago(status.get('endTime'), moment)} ago" if status.get("endTime") else ""),
        f"Progress: {bar(status.get('progressPercent'))}",
    ]
    steps = status.get("steps") or []
    if steps:
        lines.append("Steps:")
    for step in steps:
        kind = next(key for key in step if key not in ("startTime", "endTime", "progressPercent"))
        start, end = step.get("startTime"), step.get("endTime")
        took = (
            (parse_time(end) - parse_time(start)) if start and end else (moment - parse_time(start)) if start else None
        )
        how = ("took " if end else "running ") + (format_duration(took) if took is not None else "-")
        lines.append(f"  {kind:<25} {start or '-':<28} {how:<16} {bar(step.get('progressPercent'))}")
    reconciling = next((c for c in status.get("conditions") or [] if c.get("type") == "Reconciling"), None)
    if reconciling and reconciling.get("status") == "True" and reconciling.get("message"):
        lines.append(f"Now:      {reconciling['message']}")
    if status.get("error"):
        lines.append(f"Error:    {status['error'].get('message', '')} (code {status['error'].get('code')})")
    return "\n".join(lines)


def table(items: list[Body], moment: datetime) -> str:
    rows = [("NAMESPACE", "NAME", "STATE", "STEP", "PROGRESS", "MIGRATINGVM", "AGE")]
    for item in items:
        status = item.get("status") or {}
        rows.append(
            (
                item["metadata"]["namespace"],
                item["metadata"]["name"],
                status.get("state", ""),
                status.get("currentStep") or "",
                f"{status.get('progressPercent', 0)}%",
                (item.get("spec") or {}).get("migratingVm", ""),
                _ago(item["metadata"].get("creationTimestamp"), moment),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "   ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows
    )


class Plugin:
    def __init__(self, kube: Kube, namespace: str, out: TextIO) -> None:
        self.kube, self.namespace, self.out = kube, namespace, out

    def _get(self, name: str) -> Body:
        body = self.kube.get(CLONE_JOB, self.namespace, name)
        if body is None:
            raise PluginError(f"CloneJob {name} not found in namespace {self.namespace}")
        return body

    def create(self, migrating_vm: str, name: str | None) -> int:
        meta: dict[str, Any] = {"namespace": self.namespace}
        meta.update({"name": name} if name else {"generateName": f"{migrating_vm}-clone-"})
        body = {
            "apiVersion": CLONE_JOB.api_version,
            "kind": CLONE_JOB.kind,
            "metadata": meta,
            "spec": {"migratingVm": migrating_vm},
        }
        created = self.kube.create(CLONE_JOB, self.namespace, body)
        print(f"clonejob.vmmigration.dev/{created['metadata']['name']} created", file=self.out)
        return 0

    def get(self, name: str, migrating_vm: str | None = None) -> int:
        body = self._get(name)
        if migrating_vm is not None and (body.get("spec") or {}).get("migratingVm") != migrating_vm:
            raise PluginError(f"CloneJob {name} of MigratingVm {migrating_vm} not found in namespace {self.namespace}")
        print(timeline(body, now()), file=self.out)
        return 0

    def list(self, all_namespaces: bool, state: str | None) -> int:
        items = self.kube.list(CLONE_JOB, None if all_namespaces else self.namespace)
        if state:
            items = [i for i in items if ((i.get("status") or {}).get("state") or "STATE_UNSPECIFIED") == state]
        items.sort(key=lambda i: (i["metadata"]["namespace"], i["metadata"].get("creationTimestamp", "")))
        if not items:
            print("No CloneJobs found.", file=self.out)
            return 0
        print(table(items, now()), file=self.out)
        return 0

    def cancel(self, name: str, wait: bool, timeout: float, interval: float = 1.0) -> int:
        state = (self._get(name).get("status") or {}).get("state")
        if state in FINISHED:
            raise PluginError(
                f"CloneJob {name}: FAILED_PRECONDITION: the job has finished ({state}); nothing to cancel"
            )
        self.kube.patch(CLONE_JOB, self.namespace, name, {"spec": {"cancel": True}})
        print(f"clonejob.vmmigration.dev/{name} cancel requested", file=self.out)
        if not wait:
            return 0
        deadline, shown = time.monotonic() + timeout, ""
        while time.monotonic() < deadline:
            status = self.kube.get(CLONE_JOB, self.namespace, name)
            if status is None:
                print(f"clonejob.vmmigration.dev/{name} is gone", file=self.out)
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
    status = body.get("status") or {}
    reconciling: dict[str, Any] = next(
        (c for c in status.get("conditions") or [] if c.get("type") == "Reconciling"), {}
    )
    message = reconciling.get("message") if reconciling.get("status") == "True" else ""
    return f"{status.get('state', '')} {bar(status.get('progressPercent'))} {message or ''}".rstrip()


def _connection_flags(parser: argparse.ArgumentParser, default: Any) -> None:
    """The flags kubectl takes before or after the verb: after it they win, before it they are the default."""
    parser.add_argument("-n", "--namespace", default=default, help="default: the current context's namespace")
    parser.add_argument("--kubeconfig", default=default, help="default: $KUBECONFIG or ~/.kube/config")
    parser.add_argument("--context", default=default, help="the kubeconfig context to use")
    parser.add_argument(
        "-A",
        "--all-namespaces",
        action="store_true",
        default=default if default is not None else False,
        help="list across all namespaces",
    )


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="kubectl clonejob", description=__doc__)
    _connection_flags(top, None)
    after = argparse.ArgumentParser(add_help=False)
    _connection_flags(after, argparse.SUPPRESS)
    commands = top.add_subparsers(dest="command", required=True)
    create = commands.add_parser("create", help="clone a MigratingVm", parents=[after])
    create.add_argument("migrating_vm", metavar="MIGRATINGVM")
    create.add_argument("--name", help="default: MIGRATINGVM-clone-<random>")
    get = commands.add_parser("get", help="a CloneJob's state and step timeline", parents=[after])
    get.add_argument("name", metavar="NAME", help="a name, or namespaces/NS/migratingVms/MVM/cloneJobs/NAME")
    listing = commands.add_parser("list", help="CloneJobs in the namespace (or all)", parents=[after])
    listing.add_argument("--state", choices=[state.value for state in State])
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
    except (kubernetes.config.ConfigException, OSError):
        return "default"
    chosen = next((c for c in contexts if c["name"] == context), active) if context else active
    return str((chosen or {}).get("context", {}).get("namespace") or "default")


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    args = parser().parse_args(argv)
    stream = out or sys.stdout
    try:
        kube = Kube.from_kubeconfig(args.kubeconfig, args.context)
    except (kubernetes.config.ConfigException, OSError) as error:
        print(f"error: cannot load a kubeconfig: {error}", file=sys.stderr)
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
    plugin = Plugin(kube, namespace, stream)
    try:
        if args.command == "create":
            return plugin.create(args.migrating_vm, args.name)
        if args.command == "get":
            return plugin.get(name or "", parent)
        if args.command == "list":
            return plugin.list(args.all_namespaces, args.state)
        return plugin.cancel(args.name, args.wait, args.timeout)
    except PluginError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except ApiException as error:
        what = f"CloneJob {name}" if name else "CloneJobs" if args.command == "list" else "CloneJob"
        print(f"error: {what}: {server_message(error)}", file=sys.stderr)
        return 1


_RESOURCE = re.compile(r"^namespaces/(?P<ns>[^/]+)/migratingVms/(?P<mvm>[^/]+)/cloneJobs/(?P<name>[^/]+)$")


def resource_name(name: str, namespace: str) -> tuple[str, str, str | None]:
    """(namespace, name, MigratingVm or None) of a bare name, or of the seed's resource name (status.name)."""
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
    return detail if invalid else message


if __name__ == "__main__":
    sys.exit(main())
