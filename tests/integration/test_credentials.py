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

from clonejob_operator.kube import CLONE_JOB, MIGRATING_VM, TARGET_PROJECT, Kube
from clonejob_operator.names import SECRET_OPT_IN
from clonejob_operator.targets.computeengine.client import Compute
from tests.computeengine.fake import FakeCompute, TokenEndpoint
from tests.computeengine.keys import service_account_key
from tests.integration.kit import World, manifest, running_operator, settings_for, wait_for
from tests.integration.tenants import CARELESS, chart_objects, full_server, refused, tenant

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
    _migrating_vm(world)


def _migrating_vm(world: World, writer: Kube | None = None, name: str = "gce", target_project: str = "tp") -> None:
    """A MigratingVm (written by ``writer``, or the test) cloned onto Compute Engine, its one snapshot synced."""
    defaults = {"zone": ZONE, "targetProject": target_project, "vmName": "web-clone", "machineType": "n2-standard-2"}
    spec = {"sourceVmId": "vm-7", "computeEngineTargetDefaults": defaults}
    (writer or world.kube).create(MIGRATING_VM, world.namespace, manifest(MIGRATING_VM, world.namespace, name, spec))
    snapshots = [{"disk": "d0", "computeEngineSnapshot": SNAPSHOT}]
    world.set_status(MIGRATING_VM, name, {"lastSync": {"cycleNumber": 3, "snapshots": snapshots}})


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
    kube: Kube,
    operator_kube: Kube,
    world: World,
    namespace: str,
    ambient: TokenEndpoint,
    allowed: bool,
    change: dict[str, Any],
) -> None:
    """A tenant with the built-in edit role rewrites the TargetProject while the job runs."""
    full_server(kube, namespace)
    _world(kube, world, namespace)
    fake = FakeCompute(op_delay=30.0, snapshots={SNAPSHOT})  # the disk stays in the making: the job waits
    settings = settings_for(namespace, poll_interval=0.2, allow_ambient_credentials=allowed)
    with chart_objects(kube, "tenant-roles.yaml", namespace), fake.serving():
        editor = tenant(kube, namespace, role="edit")
        with running_operator(operator_kube, settings) as operator:
            _to_the_fake(operator, fake)
            world.clone_job("cj", migrating_vm="gce")
            wait_for(lambda: fake.inserts("disks"), 20, "the disk insert")
            editor.patch(TARGET_PROJECT, namespace, "tp", {"spec": change})
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
    _migrating_vm(world)
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


def test_a_tenant_without_secret_rights_cannot_use_a_secret_nor_learn_of_it(
    kube: Kube, operator_kube: Kube, world: World, namespace: str
) -> None:
    """A role that may write TargetProjects but not read Secrets names a Secret holding a valid key: the operator
    uses none that did not opt in, and says the same of a Secret that exists as of one that does not."""
    full_server(kube, namespace)
    meta = kubernetes.client.V1ObjectMeta(name="someone-elses")  # a valid key, not labelled for the operator
    data = {"key.json": base64.b64encode(service_account_key("k9")[0]).decode()}
    kube.core.create_namespaced_secret(namespace, kubernetes.client.V1Secret(metadata=meta, data=data))
    writer = tenant(kube, namespace, rules=CARELESS)
    assert refused(lambda: writer.core.read_namespaced_secret("someone-elses", namespace)).status == 403
    said = {}
    fake = FakeCompute(op_delay=0.2, snapshots={SNAPSHOT})
    with fake.serving(), running_operator(operator_kube, settings_for(namespace, poll_interval=0.2)) as operator:
        _to_the_fake(operator, fake)
        for secret in ("someone-elses", "nobody"):
            ref = {"name": secret, "key": "key.json"}
            writer.create(
                TARGET_PROJECT,
                namespace,
                manifest(TARGET_PROJECT, namespace, secret, {"project": PROJECT, "credentialsSecretRef": ref}),
            )
            _migrating_vm(world, writer, name=secret, target_project=secret)
            writer.create(CLONE_JOB, namespace, manifest(CLONE_JOB, namespace, secret, {"migratingVm": secret}))
            said[secret] = wait_for(lambda s=secret: _waiting(world, s), 30, f"{secret}: the Secret to be waited for")  # type: ignore[misc]
    assert fake.callers == [], "no call to Google with a key the tenant could not read"
    assert [world.state(name) for name in said] == ["PENDING", "PENDING"]
    messages = [message.replace(name, "NAME") for name, message in said.items()]
    assert messages[0] == messages[1], "whether the Secret exists is not said"
    assert "key.json" not in str(said) and "labelled vmmigration.dev/credentials=true" in messages[0]


def _waiting(world: World, name: str) -> str | None:
    """The message of a job that waits for its credentials Secret."""
    ready = [c for c in world.status(name).get("conditions") or [] if c["type"] == "Ready"]
    return ready[0]["message"] if ready and ready[0]["reason"] == "CredentialsSecretUnusable" else None
