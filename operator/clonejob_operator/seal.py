"""The operator's seal on the CloneJob statuses it writes: evidence that no tenant can forge.

Anyone granted ``clonejobs/status`` (a careless ``vmmigration.dev */*`` role, say) can write any status. Field
managers, labels and annotations can be named or written by any client, so none of them proves who wrote a
status. The seal does: every status the operator writes carries ``status.seal``, an HMAC-SHA256 of the job's
uid and the status itself under a key that only the operator (and cluster admins) can read, a Secret in
the operator's own namespace. A status whose seal is missing or does not match was written by someone else:
the operator never creates or deletes anything because of it (see ``machine.transitions.decide``), and the job holds no
slot of ``--max-active`` (see ``roster.py``). A job that has no status yet is a new job.

The key is the same for every replica (they read one Secret) and survives restarts, so a restart trusts
exactly what the last process wrote.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from kubernetes.client.exceptions import ApiException

from clonejob_operator.kube import Body, Secret

log = logging.getLogger(__name__)

FIELD = "seal"
"""The status field that carries the seal."""
PREFIX = "v1."
KEY_BYTES = 32
MIN_KEY_BYTES = 16
SECRET_KEY = "key"
"""The data key of the Secret that holds the sealing key."""
DEFAULT_SECRET = "clonejob-operator-seal"
VERDICTS = 8192
"""Verdicts remembered by (uid, resourceVersion): every CloneJob event and reconcile asks for one."""


def canonical(status: dict[str, Any]) -> bytes:
    """The status as the seal covers it: every field but the seal, in one byte form."""
    rest = {key: value for key, value in status.items() if key != FIELD}
    return json.dumps(rest, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


@dataclass(frozen=True)
class Sealer:
    key: bytes
    _verdicts: dict[tuple[str, str], str | None] = field(default_factory=dict, compare=False, repr=False)
    """(uid, resourceVersion) -> doubt: a stored version never changes, so each is checked once."""

    @classmethod
    def random(cls) -> Sealer:
        """A key of this process alone (tests, and runs that never restart)."""
        return cls(os.urandom(KEY_BYTES))

    def seal(self, uid: str, status: dict[str, Any]) -> str:
        digest = hmac.new(self.key, uid.encode() + b"\n" + canonical(status), hashlib.sha256).digest()
        return PREFIX + base64.urlsafe_b64encode(digest).decode().rstrip("=")

    def sealed(self, uid: str, status: dict[str, Any]) -> dict[str, Any]:
        """``status`` with its seal."""
        return {**status, FIELD: self.seal(uid, status)}

    def doubt(self, body: Body) -> str | None:
        """Why the CloneJob's status is not the operator's own writing, or None when it is (or there is none yet)."""
        meta = body.get("metadata") or {}
        version = str(meta.get("resourceVersion") or "")
        if not version:
            return self._doubt(body)
        key = (str(meta.get("uid", "")), version)
        if key not in self._verdicts:
            if len(self._verdicts) >= VERDICTS:
                self._verdicts.clear()  # a bound, not an LRU: every entry is cheap to compute again
            self._verdicts[key] = self._doubt(body)
        return self._verdicts[key]

    def _doubt(self, body: Body) -> str | None:
        status = body.get("status") or {}
        if not status:
            return None  # a new job: nothing written yet, by anyone
        uid = (body.get("metadata") or {}).get("uid", "")
        found = status.get(FIELD)
        if not isinstance(found, str) or not found:
            return "its status carries no seal of this operator"
        if not hmac.compare_digest(found, self.seal(uid, status)):
            return "its status does not match the seal this operator wrote with it"
        return None


class Secrets(Protocol):
    def read_secret(self, namespace: str, name: str) -> Secret: ...

    def create_secret(self, namespace: str, body: Body) -> None: ...


@dataclass(frozen=True)
class KeySource:
    """Where the sealing key lives: a Secret (``secret:[NAMESPACE/]NAME``) or a file (``file:PATH``)."""

    secret: tuple[str, str] | None = None
    path: Path | None = None

    @classmethod
    def parse(cls, text: str, namespace: str | None) -> KeySource:
        kind, _, rest = text.partition(":")
        if kind == "file" and rest:
            return cls(path=Path(rest).expanduser())
        if kind == "secret" and rest:
            where, _, name = rest.rpartition("/")
            if not (where or namespace):
                raise ValueError(f"{text}: outside a pod, name the Secret's namespace (secret:NAMESPACE/NAME)")
            return cls(secret=(where or namespace or "", name))
        raise ValueError(f"{text}: use secret:[NAMESPACE/]NAME or file:PATH")

    @classmethod
    def default(cls, namespace: str | None) -> KeySource:
        """In a pod, a Secret of its own namespace; elsewhere, a file of the user running it."""
        if namespace:
            return cls(secret=(namespace, DEFAULT_SECRET))
        home = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
        return cls(path=home / "clonejob-operator" / "seal-key")

    def __str__(self) -> str:
        return f"Secret {self.secret[0]}/{self.secret[1]}" if self.secret else f"file {self.path}"

    def load(self, kube: Secrets) -> Sealer:
        if self.secret is not None:
            return load(kube, *self.secret)
        assert self.path is not None
        return read_file(self.path)


def read_file(path: Path) -> Sealer:
    """The key in ``path`` (base64), made there (readable by its owner only) when the file does not exist."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as out:
            out.write(base64.b64encode(os.urandom(KEY_BYTES)).decode() + "\n")
        log.info("made the sealing key, file %s", path)
    return _sealer(path.read_text().strip(), str(path))


def _sealer(text: str, where: str) -> Sealer:
    """A Sealer from the base64 key found in ``where``; refused when it is not one."""
    try:
        key = base64.b64decode(text, validate=True)
    except ValueError:
        key = b""
    if len(key) < MIN_KEY_BYTES:
        raise ValueError(f"{where} holds no sealing key (at least {MIN_KEY_BYTES} bytes, base64)")
    return Sealer(key)


def load(kube: Secrets, namespace: str, name: str) -> Sealer:
    """The sealing key from Secret ``namespace/name``, made (32 random bytes) when it does not exist yet.

    Every replica reads the same Secret; when two make it at once, the second reads what the first made.
    """
    for _ in range(3):
        try:
            secret = kube.read_secret(namespace, name)
        except ApiException as error:
            if error.status != 404:
                raise
        else:
            value = secret.data.get(SECRET_KEY)
            if not value:
                raise ValueError(f"Secret {namespace}/{name} has no data key {SECRET_KEY!r}: it cannot seal statuses")
            return _sealer(value, f"Secret {namespace}/{name}, data key {SECRET_KEY!r},")
        try:
            kube.create_secret(namespace, _secret(name))
            log.info("made the sealing key, Secret %s/%s", namespace, name)
        except ApiException as error:
            if error.status != 409:
                raise
    raise RuntimeError(f"Secret {namespace}/{name} could neither be read nor made")


def _secret(name: str) -> Body:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": name,
            "labels": {"app.kubernetes.io/name": "clonejob-operator", "app.kubernetes.io/component": "seal"},
        },
        "type": "Opaque",
        "data": {SECRET_KEY: base64.b64encode(os.urandom(KEY_BYTES)).decode()},
    }
