"""Request counting on both sides: the API server's own counters, and the benchmark's own clients."""

from __future__ import annotations

import re
import threading
from collections import Counter
from typing import Any

from clonejob_operator.kube import Kind, Kube

Tally = Counter[tuple[str, str]]
"""(verb, resource[/subresource]) -> requests."""

_SAMPLE = re.compile(r"^apiserver_request_total\{(?P<labels>[^}]*)\} (?P<value>[0-9.e+]+)$")
_LABEL = re.compile(r'(\w+)="([^"]*)"')


def server_counts(kube: Kube) -> Tally:
    """``apiserver_request_total`` by verb and resource, summed over codes (only resource requests)."""
    configuration = kube.configuration
    token = configuration.get_api_key_with_prefix("BearerToken") or configuration.get_api_key_with_prefix(
        "authorization"
    )
    headers = {"Authorization": token} if token else {}
    response = kube.api_client.rest_client.request(
        "GET", f"{configuration.host}/metrics", headers=headers, _request_timeout=30
    )
    response.read()
    text = response.data.decode()
    out: Tally = Counter()
    for line in str(text).splitlines():
        match = _SAMPLE.match(line)
        if not match:
            continue
        labels = dict(_LABEL.findall(match["labels"]))
        if not labels.get("resource"):
            continue
        resource = labels["resource"] + (f"/{labels['subresource']}" if labels.get("subresource") else "")
        code = labels.get("code", "200")
        if not code.startswith("2"):  # refusals are requests too, and worth seeing on their own
            resource = f"{resource} ({code})"
        out[(labels["verb"], resource)] += int(float(match["value"]))
    return out


class CountingKube(Kube):
    """A Kube that counts its own requests, retries included, the way the API server labels them."""

    def __init__(self, kube: Kube) -> None:
        self.share(kube)
        self.tally: Tally = Counter()
        self._lock = threading.Lock()
        self._doing = threading.local()

    def count(self, verb: str, resource: str, times: int = 1) -> None:
        with self._lock:
            self.tally[(verb, resource)] += times

    def call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        what = getattr(self._doing, "what", None)

        def counted(*a: Any, **k: Any) -> Any:
            if what is not None:
                self.count(*what)
            return fn(*a, **k)

        return super().call(counted, *args, **kwargs)

    def send(self, *args: Any, **kwargs: Any) -> Any:
        what = getattr(self._doing, "what", None)
        if what is not None:
            self.count(*what)
        return super().send(*args, **kwargs)

    def _as(self, verb: str, kind: Kind, subresource: str = "") -> None:
        self._doing.what = (verb, kind.plural + (f"/{subresource}" if subresource else ""))

    def refresh(self, kind: Kind, namespace: str, name: str) -> Any:
        self._as("GET", kind)
        return super().refresh(kind, namespace, name)

    def get(self, kind: Kind, namespace: str, name: str) -> Any:
        self._as("GET", kind)
        return super().get(kind, namespace, name)

    def list(self, kind: Kind, namespace: str | None, selector: str | None = None) -> list[Any]:
        self._as("LIST", kind)
        return super().list(kind, namespace, selector)

    def create(self, kind: Kind, namespace: str, body: Any) -> Any:
        self._as("POST", kind)
        return super().create(kind, namespace, body)

    def patch(self, kind: Kind, namespace: str, name: str, patch: Any) -> Any:
        self._as("PATCH", kind)
        return super().patch(kind, namespace, name, patch)

    def patch_status(self, kind: Kind, namespace: str, name: str, patch: Any) -> Any:
        self._as("PATCH", kind, "status")
        return super().patch_status(kind, namespace, name, patch)


def minus(total: Tally, *others: Tally) -> Tally:
    out = Counter(total)
    for other in others:
        out.subtract(other)
    return Counter({key: value for key, value in out.items() if value > 0})
