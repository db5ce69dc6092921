"""The operator's most frequent requests, sent through the official client's own ApiClient.

Every reconcile reads, creates, merge-patches or deletes one object of some kind. The kubernetes library's
generated method for each of those validates its arguments with pydantic, walks the body to sanitize it,
and decodes the answer through a response-type map: per request, about as much CPU as the HTTP exchange
itself (measured in bench/RESULTS.md). These requests go through the same ApiClient instead: its urllib3
pool and TLS settings, its credentials (with their refresh hook, which reads a pod's rotated token again:
asked once a second at most, see ``Paced``), its retry policy and its default headers. A failure is the
library's own ApiException, with the answer's status, headers and body, as before.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol
from urllib.parse import quote, urlencode

import kubernetes
from kubernetes.client.exceptions import ApiException

JSON = "application/json"
MERGE_PATCH = "application/merge-patch+json"
TIMEOUT = (10, 60)
"""Seconds to connect and to read an answer."""
AUTH = ["BearerToken"]
"""The credentials the generated API methods send (the only scheme the Kubernetes OpenAPI declares)."""


class Located(Protocol):
    """A kind, as far as its path goes (``kube.Kind``)."""

    @property
    def group(self) -> str: ...
    @property
    def version(self) -> str: ...
    @property
    def plural(self) -> str: ...
    @property
    def namespaced(self) -> bool: ...


def path(kind: Located, namespace: str | None, name: str | None = None, subresource: str | None = None) -> str:
    """The URL path of a kind's collection in ``namespace`` (None: every namespace), or of one object in it."""
    out = f"/apis/{kind.group}/{kind.version}" if kind.group else f"/api/{kind.version}"
    if kind.namespaced and namespace is not None:
        out += f"/namespaces/{quote(namespace, safe='')}"
    out += f"/{kind.plural}"
    if name is not None:
        out += f"/{quote(name, safe='')}"
    if subresource is not None:
        out += f"/{subresource}"
    return out


REFRESH_EVERY = 1.0
"""Seconds between two calls of the library's credentials refresh hook, at most."""


class Paced:
    """The library's credentials refresh hook, called once a second at most rather than before every request.

    The hook reads a pod's rotated token again when it nears its expiry, or runs a kubeconfig's exec plugin
    when its token has expired: a second late is nothing against tokens valid for minutes or hours. Called
    per request, the kubeconfig loader's hook also sets the configuration's host again, which reads the
    proxy settings from the environment: a few percent of the operator's CPU under load.
    """

    def __init__(
        self, hook: Callable[[kubernetes.client.Configuration], None], clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.hook, self.clock = hook, clock
        self._last: float | None = None
        self._lock = threading.Lock()

    def __call__(self, configuration: kubernetes.client.Configuration) -> None:
        with self._lock:
            now = self.clock()
            if self._last is not None and now - self._last < REFRESH_EVERY:
                return
            self._last = now
            self.hook(configuration)

    def __deepcopy__(self, memo: dict[int, object]) -> Paced:
        return Paced(self.hook, self.clock)  # a configuration's copy (the operator's own client) paces on its own

    @classmethod
    def install(cls, configuration: kubernetes.client.Configuration) -> None:
        """Pace ``configuration``'s refresh hook, if it has one (once: a paced hook is left as it is)."""
        hook = configuration.refresh_api_key_hook
        if hook is not None and not isinstance(hook, cls):
            configuration.refresh_api_key_hook = cls(hook)


class Rest:
    def __init__(self, api_client: kubernetes.client.ApiClient) -> None:
        self.api = api_client

    def send(
        self,
        method: str,
        where: str,
        body: Any = None,
        content_type: str = JSON,
        query: dict[str, str] | None = None,
    ) -> Any:
        """Send one request; the decoded JSON answer (None for an empty one), or ApiException."""
        headers = {**self.api.default_headers, "Accept": JSON}
        if self.api.cookie:
            headers["Cookie"] = self.api.cookie
        if body is not None:
            headers["Content-Type"] = content_type
        queries: list[tuple[str, str]] = list((query or {}).items())
        self.api.update_params_for_auth(headers, queries, AUTH, where, method, body)
        url = self.api.configuration.host + where + (f"?{urlencode(queries)}" if queries else "")
        response = self.api.call_api(method, url, header_params=headers, body=body, _request_timeout=TIMEOUT)
        response.read()  # type: ignore[no-untyped-call]
        if not 200 <= response.status <= 299:
            text = response.data.decode("utf-8", "replace") if response.data else None
            raise ApiException.from_response(http_resp=response, body=text, data=None)
        return json.loads(response.data) if response.data else None
