"""The vmmigration API's four CloneJob methods (create, get, list, cancel) against the API server."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import timedelta
from typing import Any, TextIO

from kubernetes.client.exceptions import ApiException

from clonejob_kubectl.listing import field_selector, order_key, parse_filter
from clonejob_kubectl.query import (
    CHUNK,
    ORDER_LIMIT,
    ORDERED_TOKEN,
    PluginError,
    Query,
    matching,
    name_problem,
    no_namespace,
    page,
)
from clonejob_kubectl.show import dump, kubectl_name, live, table, timeline, without_managed_fields
from clonejob_operator.api.clonejob import FINISHED
from clonejob_operator.kube import CLONE_JOB, MIGRATING_VM, Body, Kube, status_of
from clonejob_operator.timestamps import format_duration, now


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
            f"{kubectl_name(created['metadata']['name'])} created in namespace {self.namespace}",
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
            print(kubectl_name(body["metadata"]["name"]), file=self.out)
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
            items = matching(list(listing.get("items") or []), query, flt)
            items.sort(key=lambda i: (i["metadata"]["namespace"], i["metadata"].get("creationTimestamp", "")))
            token = str((listing.get("metadata") or {}).get("continue") or "")
        else:
            items = matching(list(self._everything(query.all_namespaces, selector)), query, flt)
            items.sort(key=order_key(query.order_by), reverse=query.descending)
            items, token = page(items, query.page_size, query.page_token)
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
                print(kubectl_name(item["metadata"]["name"]), file=self.out)
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
        if state in {s.value for s in FINISHED}:
            raise PluginError(
                f"CloneJob {name}: FAILED_PRECONDITION: the job has finished ({state}); nothing to cancel"
            )
        self.kube.patch(CLONE_JOB, self.namespace, name, {"spec": {"cancel": True}})
        print(f"{kubectl_name(name)} cancel requested", file=self.out)
        if not wait:
            return 0
        deadline, shown = time.monotonic() + timeout, ""
        while time.monotonic() < deadline:
            status = self.kube.get(CLONE_JOB, self.namespace, name)
            if status is None:
                print(f"{kubectl_name(name)} is gone", file=self.out)
                return 0
            line = live(status)
            if line != shown:
                self._show(line)
                shown = line
            state = (status.get("status") or {}).get("state")
            if state in {s.value for s in FINISHED}:
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
