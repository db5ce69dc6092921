"""A job keeps the TargetProject, project and identity it started with, and never reaches the operator's own
Google identity without --allow-ambient-credentials: the real google-cloud-compute client against the local
Compute Engine fake, which records who sent each request, and a token endpoint that records who asks for the
operator's ambient identity (Application Default Credentials pointing at it)."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes
import pytest

from clonejob_operator.kube import MIGRATING_VM, TARGET_PROJECT, Kube
from clonejob_operator.names import SECRET_OPT_IN
from clonejob_operator.targets.computeengine.client import Compute
from tests.computeengine.fake import FakeCompute, TokenEndpoint
from tests.integration.conftest import _serves_core
from tests.integration.kit import World, running_operator, service_account_key, settings_for, wait_for

PROJECT, OTHER = "my-proj-123", "other-proj-99"
ZONE = "europe-west1-b"
SNAPSHOT = f"projects/{PROJECT}/global/snapshots/web-c3-d0"
KEY_OWNER = "cloner@my-proj-123.iam.gserviceaccount.com"


OPERATOR = "operator@ops-proj-1.iam.gserviceaccount.com"


@pytest.fixture
def ambient(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[TokenEndpoint]:
    """The operator's own Google identity (OPERATOR): Application Default Credentials, a key whose token
    exchange, if the client ever makes one, goes to a local endpoint that records it."""
    with TokenEndpoint().serving() as endpoint:
        key = json.loads(service_account_key("ops")[0])
        path = tmp_path / "adc.json"
        path.write_text(json.dumps({**key, "client_email": OPERATOR, "token_uri": endpoint.url}))
        monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(path))
        yield endpoint


def _world(kube: Kube, world: World, namespace: str) -> None:
    meta = kubernetes.client.V1ObjectMeta(name="sa", labels=dict([SECRET_OPT_IN]))
    data = {"key.json": base64.b64encode(service_account_key("k1")[0]).decode()}
    kube.core.create_namespaced_secret(namespace, kubernetes.client.V1Secret(metadata=meta, data=data))
    world.create(TARGET_PROJECT, "tp", {"project": PROJECT, "credentialsSecretRef": {"name": "sa", "key": "key.json"}})
    defaults = {"zone": ZONE, "targetProject": "tp", "vmName": "web-clone", "machineType": "n2-standard-2"}
    world.create(MIGRATING_VM, "gce", {"sourceVmId": "vm-7", "computeEngineTargetDefaults": defaults})
    world.set_status(
        MIGRATING_VM,
        "gce",
        {"lastSync": {"cycleNumber": 3, "snapshots": [{"disk": "d0", "computeEngineSnapshot": SNAPSHOT}]}},
    )


def _to_the_fake(operator: Any, fake: FakeCompute) -> None:
    """The clients the operator makes, with the credentials it chose, sent to the fake instead of Google."""
    driver = operator.reconciler.drivers.by_name("computeengine")
    driver.projects.connect = lambda credentials, endpoint: Compute.connect(credentials, fake.url)


@pytest.mark.parametrize(
    ("allowed", "change"),
    [
        (False, {"project": OTHER, "credentialsSecretRef": None}),
        (True, {"project": OTHER}),
    ],
    ids=["secret removed and project changed, ambient not allowed", "project changed, ambient allowed"],
)
def test_a_target_project_changed_under_a_running_job_fails_it_and_nothing_switches(
    kube: Kube, world: World, namespace: str, ambient: TokenEndpoint, allowed: bool, change: dict[str, Any]
) -> None:
    if not _serves_core(kube, namespace):
        pytest.skip("this API server serves no Secrets (a CRD-only server)")
    _world(kube, world, namespace)
    fake = FakeCompute(op_delay=30.0, snapshots={SNAPSHOT})  # the disk stays in the making: the job waits
    settings = settings_for(namespace, poll_interval=0.2, allow_ambient_credentials=allowed)
    with fake.serving(), running_operator(kube, settings) as operator:
        _to_the_fake(operator, fake)
        world.clone_job("cj", migrating_vm="gce")
        wait_for(lambda: fake.inserts("disks"), 20, "the disk insert")
        kube.patch(TARGET_PROJECT, namespace, "tp", {"spec": change})
        status = world.wait_state("cj", "FAILED", timeout=30)
    assert status["error"]["code"] == 9, status["error"]  # FAILED_PRECONDITION
    assert f"TargetProject tp now names project {OTHER}" in status["error"]["message"]
    assert ambient.asked == [], "nobody asked for the operator's own identity"
    assert {who for who, _ in fake.callers} == {KEY_OWNER}, "every call was made with the key the job started with"
    assert OPERATOR not in {who for who, _ in fake.callers}
    assert all(f"/projects/{PROJECT}/" in path for _, path in fake.callers), "and in the project it started in"
    assert not fake.disks, "its disk was removed, in its own project"
    assert status["sourceSync"]["project"] == PROJECT and status["sourceSync"]["targetProjectUid"]


def test_without_the_flag_the_operators_own_identity_is_never_asked_for(
    kube: Kube, world: World, namespace: str, ambient: TokenEndpoint
) -> None:
    world.create(TARGET_PROJECT, "tp", {"project": PROJECT})
    defaults = {"zone": ZONE, "targetProject": "tp", "vmName": "web-clone", "machineType": "n2-standard-2"}
    world.create(MIGRATING_VM, "gce", {"sourceVmId": "vm-7", "computeEngineTargetDefaults": defaults})
    world.set_status(
        MIGRATING_VM,
        "gce",
        {"lastSync": {"cycleNumber": 3, "snapshots": [{"disk": "d0", "computeEngineSnapshot": SNAPSHOT}]}},
    )
    fake = FakeCompute(op_delay=0.2, snapshots={SNAPSHOT})
    with fake.serving(), running_operator(kube, settings_for(namespace, poll_interval=0.2)) as operator:
        _to_the_fake(operator, fake)
        world.clone_job("refused", migrating_vm="gce")
        assert world.wait_state("refused", "FAILED")["error"]["code"] == 7
    assert ambient.asked == [] and fake.callers == []
    with (
        fake.serving(),
        running_operator(kube, settings_for(namespace, poll_interval=0.2, allow_ambient_credentials=True)) as operator,
    ):
        _to_the_fake(operator, fake)
        world.clone_job("lent", migrating_vm="gce")
        world.wait_state("lent", "SUCCEEDED", timeout=30)
    callers = {who for who, _ in fake.callers}
    assert callers == {OPERATOR} or (callers == {"ambient-token"} and ambient.asked), "lent only when told to"
