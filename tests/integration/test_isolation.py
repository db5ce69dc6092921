"""Isolation: namespaces with colliding names reach only their own objects, an operator limited by RBAC to a
namespace list touches nothing outside it, and no secret value shows in logs, Events or status."""

from __future__ import annotations

import base64
import json
import logging
import uuid
from typing import Any

import kubernetes
import pytest

from clonejob_operator import names, permissions
from clonejob_operator.api.clonejob import FINISHED
from clonejob_operator.kube import MIGRATING_VM, TARGET_PROJECT, Kube
from clonejob_operator.targets.computeengine.client import Compute
from clonejob_operator.targets.kubevirt.kinds import DATA_VOLUME, VIRTUAL_MACHINE
from tests.computeengine.fake import FakeCompute
from tests.computeengine.keys import service_account_key
from tests.integration.conftest import _serves_core, chart_identity
from tests.integration.kit import SOMEBODY_ELSES, World, running_operator, settings_for, wait_for

PROJECT = "my-proj-123"
SNAPSHOT = f"projects/{PROJECT}/global/snapshots/web-c3-d0"


def versions(world: World) -> dict[str, str]:
    return {
        f"{kind.kind}/{p['metadata']['name']}": p["metadata"]["resourceVersion"]
        for kind in (DATA_VOLUME, VIRTUAL_MACHINE)
        for p in world.products(kind)
    }


def test_isolation_colliding_names_in_two_namespaces(
    kube: Kube, world: World, namespace: str, other_namespace: str
) -> None:
    """Same MigratingVm, snapshot, job and product names in two namespaces, one operator watching both."""
    other = World(kube, other_namespace)
    for side in (world, other):
        side.migrating_vm("web-1", disks=2)
    settings = settings_for(namespace, namespaces=(namespace, other_namespace))
    with running_operator(kube, settings):
        jobs = {side.namespace: side.clone_job("cj")["metadata"]["uid"] for side in (world, other)}
        for side in (world, other):
            side.wait_object(DATA_VOLUME, "cj-disk-1")
        world.finish_disks("cj", disks=2)
        world.ready_vm("cj")
        world.wait_state("cj", "SUCCEEDED")
        kept = versions(world)
        other.cancel("cj")
        other.wait_state("cj", "CANCELLED")
        assert other.all_products() == []
        assert versions(world) == kept, "cancelling the namesake touched nothing here"
    for dv in world.products(DATA_VOLUME):
        assert dv["spec"]["source"]["snapshot"]["namespace"] == namespace
        assert dv["metadata"]["labels"][names.LABEL_JOB_UID] == jobs[namespace]
    (vm,) = world.products(VIRTUAL_MACHINE)
    volumes = vm["spec"]["template"]["spec"]["volumes"]
    assert sorted(v["dataVolume"]["name"] for v in volumes if "dataVolume" in v) == ["cj-disk-0", "cj-disk-1"]
    assert world.status("cj")["sourceSync"]["migratingVmUid"] == world.get(MIGRATING_VM, "web-1")["metadata"]["uid"]  # type: ignore[index]


def test_isolation_rbac_limited_to_a_namespace_list_touches_nothing_outside(
    kube: Kube, world: World, namespace: str, other_namespace: str
) -> None:
    if not _serves_core(kube, namespace):
        pytest.skip("this API server has no RBAC (a CRD-only server)")
    identity = chart_identity(kube, namespace, permissions.namespaced())  # a Role in `namespace` only
    world.migrating_vm("web-1")
    outside = World(kube, other_namespace)
    with running_operator(identity, settings_for(namespace)):
        uid = world.clone_job("cj")["metadata"]["uid"]
        world.wait_object(DATA_VOLUME, "cj-disk-0")
        # Look-alikes outside the list: the same names, and even the job's own uid label.
        labels = {names.LABEL_JOB_UID: uid}
        for kind, name in ((DATA_VOLUME, "cj-disk-0"), (VIRTUAL_MACHINE, "cj")):
            outside.create(kind, name, SOMEBODY_ELSES[kind], labels=labels)
        before = versions(outside)
        world.cancel("cj")
        world.wait_state("cj", "CANCELLED")
        assert world.all_products() == []
    assert versions(outside) == before, "nothing outside the namespace list was touched"
    # running_operator fails the test on any 403 the operator met: it never even tried.


def test_isolation_no_secret_value_in_logs_events_or_status(
    kube: Kube, world: World, namespace: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A Compute Engine clone with a TargetProject's key: the real client signs with it (its requests go to
    the local fake instead of Google), and no part of the key shows anywhere the operator writes."""
    if not _serves_core(kube, namespace):
        pytest.skip("this API server serves no Secrets (a CRD-only server)")
    caplog.set_level(logging.DEBUG)
    key_id = f"kid-{uuid.uuid4().hex}"
    document, pem = service_account_key(key_id)
    data = {"key.json": base64.b64encode(document).decode()}
    meta = kubernetes.client.V1ObjectMeta(name="sa", labels=dict([names.SECRET_OPT_IN]))
    kube.core.create_namespaced_secret(namespace, kubernetes.client.V1Secret(metadata=meta, data=data))
    keyed = {"project": PROJECT, "credentialsSecretRef": {"name": "sa", "key": "key.json"}}
    world.create(TARGET_PROJECT, "tp", keyed)
    defaults = {"zone": "europe-west1-b", "targetProject": "tp", "vmName": "web-clone", "machineType": "n2-standard-2"}
    world.create(MIGRATING_VM, "gce", {"sourceVmId": "vm-7", "computeEngineTargetDefaults": defaults})
    snapshots = [{"disk": "disk-0", "computeEngineSnapshot": SNAPSHOT}]
    world.set_status(MIGRATING_VM, "gce", {"lastSync": {"cycleNumber": 3, "snapshots": snapshots}})
    fake = FakeCompute(op_delay=0.1, snapshots={SNAPSHOT})
    signed: list[str] = []
    with fake.serving(), running_operator(kube, settings_for(namespace, poll_interval=0.2)) as operator:
        driver = operator.reconciler.drivers.by_name("computeengine")

        def to_the_fake(credentials: Any, endpoint: str | None) -> Compute:
            signed.append(type(credentials).__name__)
            return Compute.connect(credentials, fake.url)  # the key's own credentials, sent to the fake

        driver.projects.connect = to_the_fake  # type: ignore[attr-defined]
        world.clone_job("cj", migrating_vm="gce")
        wait_for(lambda: world.state("cj") in FINISHED, 60, "the job to end")
    assert world.state("cj") == "SUCCEEDED", world.status("cj")
    assert signed == ["Credentials"], "the Secret's service-account key was used"
    secrets = [key_id, data["key.json"], *(line for line in pem.splitlines() if len(line) > 40)]
    events = kube.core.list_namespaced_event(namespace).items
    places = {
        "logs": caplog.text,
        "Events": " ".join(f"{e.reason} {e.message}" for e in events),
        "status": json.dumps(world.job("cj")) + json.dumps(world.get(MIGRATING_VM, "gce")),
        "TargetProject": json.dumps(world.get(TARGET_PROJECT, "tp")),
    }
    leaks = [(where, secret[:12]) for where, text in places.items() for secret in secrets if secret in text]
    assert leaks == []
    assert events and caplog.text, "Events were posted and lines logged (and searched)"
