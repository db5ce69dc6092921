"""A local HTTP fake of the Compute Engine REST API: disks, instances and zone operations in memory.

Its answers are google-cloud-compute's own messages (``compute_v1.Disk``, ``Instance``, ``Operation``)
serialised as the REST API does, so field names cannot drift from the real API. It honours
``requestId`` (a repeated insert returns the first one's operation and makes nothing) and label
filters of the form ``labels.KEY = "VALUE"``; operations finish after ``op_delay`` seconds; errors
can be injected as HTTP answers or as operations that end in error.
"""

from __future__ import annotations

import base64
import json
import re
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

from google.cloud import compute_v1

_ZONAL = re.compile(
    r"^/compute/v1/projects/(?P<project>[^/]+)/zones/(?P<zone>[^/]+)/(?P<collection>[^/]+)(?:/(?P<name>[^/]+))?$"
)
_FILTER = re.compile(r'^labels\.(?P<key>[a-z0-9_-]+)\s*=\s*"?(?P<value>[^"]*)"?$')
DONE, RUNNING = compute_v1.Operation.Status.DONE, compute_v1.Operation.Status.RUNNING


@dataclass
class Injected:
    method: str
    collection: str
    status: int
    message: str
    reason: str = ""
    times: int = 1
    perform: bool = False
    """Carry the request out, then answer with the error anyway (a cut connection after the insert)."""


@dataclass
class OpFailure:
    collection: str
    code: str
    message: str
    http_status: int


@dataclass
class FakeCompute:
    op_delay: float = 0.0
    snapshots: set[str] = field(default_factory=set)
    disks: dict[tuple[str, str, str], compute_v1.Disk] = field(default_factory=dict)
    instances: dict[tuple[str, str, str], compute_v1.Instance] = field(default_factory=dict)
    operations: dict[str, tuple[compute_v1.Operation, float, Any]] = field(default_factory=dict)
    requests: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    callers: list[tuple[str, str]] = field(default_factory=list)
    """(who, path) of every request: who is a self-signed JWT's issuer (a service-account key), else the token."""
    injected: list[Injected] = field(default_factory=list)
    op_failures: list[OpFailure] = field(default_factory=list)
    _by_request_id: dict[str, str] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    url: str = ""

    # --- what tests arrange and read -----------------------------------------------------------------
    def inject(self, method: str, collection: str, status: int, message: str, reason: str = "", **kw: Any) -> None:
        self.injected.append(Injected(method, collection, status, message, reason, **kw))

    def fail_operation(self, collection: str, code: str, message: str, http_status: int = 403) -> None:
        self.op_failures.append(OpFailure(collection, code, message, http_status))

    def inserts(self, collection: str) -> list[dict[str, Any]]:
        return [body for method, path, body in self.requests if method == "POST" and path.endswith(f"/{collection}")]

    def add_disk(self, project: str, zone: str, name: str, labels: dict[str, str]) -> None:
        """A disk made by somebody else (or left over): ready at once."""
        with self._lock:
            self.disks[(project, zone, name)] = compute_v1.Disk(
                name=name, labels=labels, status="READY", self_link=self._link(project, zone, "disks", name), zone=zone
            )

    # --- the server -----------------------------------------------------------------------------------
    @contextmanager
    def serving(self, port: int = 0) -> Iterator[FakeCompute]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}") if length else {}
                fake.callers.append((_caller(self.headers.get("authorization") or ""), urlparse(self.path).path))
                status, payload = fake.handle(self.command, self.path, body)
                out = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            do_GET = do_POST = do_DELETE = _answer

            def log_message(self, *_: Any) -> None:
                return None

        server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        ended: list[BaseException] = []

        def serve() -> None:
            try:
                server.serve_forever(poll_interval=0.1)
            except BaseException as error:  # said at teardown instead of a shutdown that waits forever
                ended.append(error)
                raise

        thread = threading.Thread(target=serve, name="fake-compute", daemon=True)
        thread.start()
        self.url = f"http://127.0.0.1:{server.server_port}"
        try:
            yield self
        finally:
            if thread.is_alive():
                server.shutdown()
            server.server_close()
            assert not ended, f"the fake Compute Engine stopped serving: {ended[0]!r}"

    def handle(self, method: str, raw_path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        parsed = urlparse(raw_path)
        query = {k: v[0] for k, v in parse_qs(parsed.query).items()}
        match = _ZONAL.match(parsed.path)
        if not match:
            return _error(404, f"no such path {parsed.path}")
        project, zone, collection, name = match["project"], match["zone"], match["collection"], match["name"]
        with self._lock:
            self.requests.append((method, parsed.path, body))
            self._settle()
            injected = next(
                (i for i in self.injected if i.method == method and i.collection == collection and i.times > 0), None
            )
            if injected is not None:
                injected.times -= 1
                if injected.perform:
                    self._route(method, project, zone, collection, name, query, body)
                return _error(injected.status, injected.message, injected.reason)
            return self._route(method, project, zone, collection, name, query, body)

    def _route(
        self,
        method: str,
        project: str,
        zone: str,
        collection: str,
        name: str | None,
        query: dict[str, str],
        body: dict[str, Any],
    ) -> tuple[int, dict[str, Any]]:
        if collection == "operations" and method == "GET" and name:
            found = self.operations.get(name)
            if found is None:
                return _error(404, f"The resource 'operations/{name}' was not found", "notFound")
            return 200, json.loads(compute_v1.Operation.to_json(found[0]))
        collections: dict[str, tuple[dict[tuple[str, str, str], Any], Any]] = {
            "disks": (self.disks, compute_v1.Disk),
            "instances": (self.instances, compute_v1.Instance),
        }
        store, message_type = collections.get(collection, (None, None))
        if store is None or message_type is None:
            return _error(404, f"unknown collection {collection}")
        if method == "GET" and name:
            item = store.get((project, zone, name))
            if item is None:
                what = f"projects/{project}/zones/{zone}/{collection}/{name}"
                return _error(404, f"The resource '{what}' was not found", "notFound")
            return 200, json.loads(message_type.to_json(item))
        if method == "GET":
            return 200, {"kind": f"compute#{collection[:-1]}List", "items": self._listed(store, project, zone, query)}
        if method == "POST":
            return self._insert(store, message_type, project, zone, collection, query, body)
        if method == "DELETE" and name:
            return self._delete(store, project, zone, collection, name)
        return _error(400, "unsupported")

    def _listed(self, store: dict[Any, Any], project: str, zone: str, query: dict[str, str]) -> list[Any]:
        wanted = _FILTER.match(query.get("filter", "").strip()) if query.get("filter") else None
        if query.get("filter") and wanted is None:
            raise ValueError(f"the fake understands only labels.KEY = VALUE filters, not {query['filter']!r}")
        out = []
        for (p, z, _), item in sorted(store.items()):
            if (p, z) != (project, zone):
                continue
            if wanted and (item.labels or {}).get(wanted["key"]) != wanted["value"]:
                continue
            out.append(json.loads(type(item).to_json(item)))
        return out

    def _insert(
        self,
        store: dict[Any, Any],
        message_type: Any,
        project: str,
        zone: str,
        collection: str,
        query: dict[str, str],
        body: dict[str, Any],
    ) -> tuple[int, dict[str, Any]]:
        request_id = query.get("requestId")
        if request_id and request_id in self._by_request_id:  # Compute Engine's deduplication
            return 200, json.loads(compute_v1.Operation.to_json(self.operations[self._by_request_id[request_id]][0]))
        item = message_type.from_json(json.dumps(body))
        if collection == "disks" and item.source_snapshot and item.source_snapshot not in self.snapshots:
            return _error(404, f"The resource '{item.source_snapshot}' was not found", "notFound")
        key = (project, zone, item.name)
        op = compute_v1.Operation(
            name=f"operation-{uuid.uuid4().hex[:12]}",
            status=RUNNING,
            operation_type="insert",
            zone=zone,
            target_link=self._link(project, zone, collection, item.name),
            self_link="",
        )
        failure = next((f for f in self.op_failures if f.collection == collection), None)
        if failure is not None:
            self.op_failures.remove(failure)
            op.error = compute_v1.Error(errors=[compute_v1.Errors(code=failure.code, message=failure.message)])
            op.http_error_status_code = failure.http_status
            op.http_error_message = "FORBIDDEN" if failure.http_status == 403 else "ERROR"
            create = None
        elif key in store:
            op.error = compute_v1.Error(
                errors=[compute_v1.Errors(code="RESOURCE_ALREADY_EXISTS", message=f"'{item.name}' already exists")]
            )
            op.http_error_status_code = 409
            create = None
        else:
            item.self_link = self._link(project, zone, collection, item.name)
            item.zone = zone
            item.status = "CREATING" if collection == "disks" else "PROVISIONING"
            store[key] = item
            create = (store, key, "READY" if collection == "disks" else "RUNNING")
        self.operations[op.name] = (op, time.monotonic() + self.op_delay, create)
        if request_id:
            self._by_request_id[request_id] = op.name
        self._settle()
        return 200, json.loads(compute_v1.Operation.to_json(op))

    def _delete(
        self, store: dict[Any, Any], project: str, zone: str, collection: str, name: str
    ) -> tuple[int, dict[str, Any]]:
        key = (project, zone, name)
        if key not in store:
            return _error(404, f"The resource '{collection}/{name}' was not found", "notFound")
        link = self._link(project, zone, collection, name)
        if collection == "disks" and any(
            any(d.source.endswith(f"/disks/{name}") for d in i.disks) for i in self.instances.values()
        ):
            return _error(400, f"The disk resource '{link}' is already being used", "resourceInUseByAnotherResource")
        del store[key]
        op = compute_v1.Operation(name=f"operation-{uuid.uuid4().hex[:12]}", status=DONE, target_link=link, zone=zone)
        self.operations[op.name] = (op, 0.0, None)
        return 200, json.loads(compute_v1.Operation.to_json(op))

    def _settle(self) -> None:
        """Finish the operations whose time has come."""
        now = time.monotonic()
        for name, (op, due, create) in list(self.operations.items()):
            if op.status == DONE or now < due:
                continue
            op.status = DONE  # type: ignore[assignment]  # the stubs type the enum field, not its values
            if create is not None:
                store, key, ready = create
                if key in store:
                    store[key].status = ready
            self.operations[name] = (op, due, None)

    @staticmethod
    def _link(project: str, zone: str, collection: str, name: str) -> str:
        return f"https://www.googleapis.com/compute/v1/projects/{project}/zones/{zone}/{collection}/{name}"


def _error(status: int, message: str, reason: str = "") -> tuple[int, dict[str, Any]]:
    errors = [{"message": message, "domain": "global", "reason": reason or "error"}]
    return status, {"error": {"code": status, "message": message, "errors": errors}}


def _caller(authorization: str) -> str:
    """Who sent a request: a JWT's issuer (what a service-account key signs), else the bearer token itself."""
    token = authorization.removeprefix("Bearer ").strip()
    parts = token.split(".")
    if len(parts) == 3:
        try:
            claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
            return str(claims.get("iss") or claims.get("sub") or token)
        except ValueError:
            pass
    return token or "anonymous"


@dataclass
class TokenEndpoint:
    """An OAuth token endpoint that records who asks (the ambient identity's refresh, here)."""

    asked: list[dict[str, str]] = field(default_factory=list)
    url: str = ""

    @contextmanager
    def serving(self) -> Iterator[TokenEndpoint]:
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                endpoint.asked.append(form)
                out = json.dumps({"access_token": "ambient-token", "expires_in": 3600, "token_type": "Bearer"}).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            def log_message(self, *_: Any) -> None:
                return None

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{server.server_port}/token"
        try:
            yield self
        finally:
            server.shutdown()
            server.server_close()
