"""What a user asks of `kubectl clonejob` (names, a list's query and its pages), and what the server
answered, in the words the plugin says them."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from kubernetes.client.exceptions import ApiException

from clonejob_kubectl.listing import Filter, Order, field_of
from clonejob_operator.api.base import DNS_SUBDOMAIN
from clonejob_operator.kube import Body, status_of

CHUNK = 500
"""How many CloneJobs one list request asks for when every match is needed (--order-by)."""
ORDER_LIMIT = 10_000
"""The most CloneJobs --order-by reads and orders on this side."""
ORDERED_TOKEN = "ordered-"
"""How a page token of an ordered list begins (an offset into the ordered matches); the server's never do."""


class PluginError(Exception):
    """A problem to tell the user about, in one line, with a non-zero exit."""


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


def matching(items: list[Body], query: Query, flt: Filter | None) -> list[Body]:
    """The jobs of a listing that pass what the server could not filter."""
    if query.states:
        items = [i for i in items if field_of(i, "state") in query.states]
    return [i for i in items if flt.test(i)] if flt is not None else items


def page(items: list[Body], size: int, token: str | None) -> tuple[list[Body], str]:
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
