"""The seal: only the operator's key makes a status that the operator believes, for one job only."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest
from kubernetes.client.exceptions import ApiException

from clonejob_operator import seal
from clonejob_operator.kube import Secret
from clonejob_operator.seal import Sealer
from tests.builders import clone_job

STATUS: dict[str, Any] = {
    "state": "SUCCEEDED",
    "steps": [{"preparingVmDisks": {}, "startTime": "2026-11-26T10:00:00Z"}],
}


def body(status: dict[str, Any], uid: str = "u-1") -> dict[str, Any]:
    return clone_job(status=status, uid=uid)


def test_a_status_sealed_by_the_operator_is_believed() -> None:
    sealer = Sealer.random()
    assert sealer.doubt(body(sealer.sealed("u-1", STATUS))) is None


def test_a_new_job_without_any_status_is_believed() -> None:
    assert Sealer.random().doubt(body({})) is None
    assert Sealer.random().doubt({"metadata": {"uid": "u"}}) is None


@pytest.mark.parametrize(
    "change",
    [
        lambda s: {**s, "state": "CANCELLING"},
        lambda s: {**s, "error": {"code": 2, "message": "forged"}},
        lambda s: {**s, "steps": []},
        lambda s: {k: v for k, v in s.items() if k != "state"},
    ],
    ids=["state", "error added", "steps", "state removed"],
)
def test_any_change_after_sealing_is_doubted(change: Any) -> None:
    sealer = Sealer.random()
    forged = change(sealer.sealed("u-1", STATUS))
    assert sealer.doubt(body(forged)) == "its status does not match the seal this operator wrote with it"


def test_a_status_without_a_seal_is_doubted() -> None:
    assert Sealer.random().doubt(body(STATUS)) == "its status carries no seal of this operator"


def test_a_seal_copied_from_another_job_is_doubted() -> None:
    sealer = Sealer.random()
    assert sealer.doubt(body(sealer.sealed("u-1", STATUS), uid="u-2")) is not None


def test_a_seal_made_with_another_key_is_doubted() -> None:
    assert Sealer.random().doubt(body(Sealer.random().sealed("u-1", STATUS))) is not None


def test_the_order_of_keys_does_not_matter() -> None:
    sealer = Sealer.random()
    sealed = sealer.sealed("u-1", STATUS)
    assert sealer.doubt(body(dict(reversed(list(sealed.items()))))) is None


class Secrets:
    """Secrets of one namespace, as the API server keeps them: a create of an existing name is a 409."""

    def __init__(self, existing: dict[str, dict[str, str]] | None = None, race: bool = False) -> None:
        self.items = dict(existing or {})
        self.race = race
        self.created: list[str] = []

    def read_secret(self, namespace: str, name: str) -> Secret:
        if name not in self.items:
            raise ApiException(status=404)
        return Secret(labels={}, data=self.items[name])

    def create_secret(self, namespace: str, body: dict[str, Any]) -> None:
        name = body["metadata"]["name"]
        if self.race:  # another replica made it a moment earlier
            self.race = False
            self.items[name] = {seal.SECRET_KEY: base64.b64encode(b"k" * 32).decode()}
            raise ApiException(status=409)
        self.created.append(name)
        self.items[name] = body["data"]


def test_the_key_is_made_once_and_then_read() -> None:
    secrets = Secrets()
    first = seal.load(secrets, "ops", "seal")
    again = seal.load(secrets, "ops", "seal")
    assert secrets.created == ["seal"] and first.key == again.key and len(first.key) == seal.KEY_BYTES


def test_two_replicas_making_the_key_at_once_use_the_same_one() -> None:
    secrets = Secrets(race=True)
    assert seal.load(secrets, "ops", "seal").key == b"k" * 32
    assert secrets.created == []


def test_a_secret_without_the_key_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="Secret ops/seal has no data key 'key'"):
        seal.load(Secrets({"seal": {}}), "ops", "seal")


@pytest.mark.parametrize("value", [base64.b64encode(b"short").decode(), "not base64 at all!"])
def test_a_secret_whose_key_is_too_short_or_not_base64_is_refused_by_name(value: str) -> None:
    with pytest.raises(ValueError, match=r"Secret ops/seal, data key 'key', holds no sealing key \(at least 16"):
        seal.load(Secrets({"seal": {seal.SECRET_KEY: value}}), "ops", "seal")


def test_a_key_file_is_made_once_readable_by_its_owner_and_then_read(tmp_path: Path) -> None:
    path = tmp_path / "conf" / "seal-key"
    first = seal.read_file(path)
    assert path.stat().st_mode & 0o777 == 0o600
    assert seal.read_file(path).key == first.key and len(first.key) == seal.KEY_BYTES
    path.write_text(base64.b64encode(b"short").decode())
    with pytest.raises(ValueError, match="holds no sealing key"):
        seal.read_file(path)
