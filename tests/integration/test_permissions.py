"""permissions.py is exactly enough: with it the operator meets no 403 (the other suites run as that
identity); without any one of its rules, a job can no longer go through its life."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from clonejob_operator import permissions
from clonejob_operator.kube import CLONE_JOB, MIGRATING_VM, Kube
from clonejob_operator.sources.catalog import FEEDS
from clonejob_operator.targets.kubevirt.kinds import BATCH_JOB, DATA_VOLUME, VIRTUAL_MACHINE, VOLUME_SNAPSHOT
from tests.integration.conftest import _serves_core, chart_identity, product_crds
from tests.integration.kit import World, kubernetes_refusal, running_operator, settings_for, wait_for
from tests.integration.volsync import VolSync

FEEDS_RULES = [rule for feed in FEEDS for rule in feed.rules]
NEEDED_BY_A_KUBEVIRT_CLONE = [
    rule for rule in permissions.namespaced() if rule.resources != ("secrets",) and rule not in FEEDS_RULES
]
"""Every rule but the Secret read, which only a Compute Engine TargetProject's key needs (its need is shown
in test_target_project.py: the key read as this identity, and PERMISSION_DENIED without the rule), and the
feeds' rules, which only a fed MigratingVm needs (shown below, with VolSync played)."""


@pytest.mark.parametrize(
    ("line", "refusal"),
    [
        ('datavolumes is forbidden: User "op" cannot create', True),
        ("cannot post Events (API answered 403: no)", True),
        ("(403)\nReason: Forbidden", True),
        ("CloneJob cjt-33efe403/cj: created DataVolume cj-disk-0", False),
        ("CloneJob cjt-403abcde/cj: Succeeded", False),
        ("Compute Engine answered 403 on disks.insert", False),
    ],
)
def test_a_refusal_is_told_by_its_status_not_by_a_namespace_name(line: str, refusal: bool) -> None:
    assert kubernetes_refusal(line) is refusal


def _clone_with_adaptation(world: World, timeout: float) -> None:
    """A clone with every kind of product, played through as CDI, batch and KubeVirt would."""
    for act in _acts(world):
        wait_for(act, timeout, act.__doc__ or "the next product")
    world.wait_state("cj", "SUCCEEDED", timeout)


def _acts(world: World) -> list[Callable[[], bool]]:
    """The clone's milestones, each a probe that plays its controller once its product exists."""

    def data_volume() -> bool:
        """DataVolume cj-disk-0"""
        if world.get(DATA_VOLUME, "cj-disk-0") is None:
            return False
        world.set_status(DATA_VOLUME, "cj-disk-0", {"phase": "Succeeded", "progress": "100.0%"})
        return True

    def adaptation() -> bool:
        """Job cj-adapt-os"""
        if world.get(BATCH_JOB, "cj-adapt-os") is None:
            return False
        world.set_status(BATCH_JOB, "cj-adapt-os", {"conditions": [{"type": "Complete", "status": "True"}]})
        return True

    profile = world.profile("virt-v2v", {"image": "adapt:1"})
    world.migrating_vm("web-1", defaults={"osAdaptation": {"profile": profile}})
    world.clone_job("cj")
    return [data_volume, adaptation, _vm(world)]


def _vm(world: World) -> Callable[[], bool]:
    def vm() -> bool:
        """VirtualMachine cj"""
        if world.get(VIRTUAL_MACHINE, "cj") is None:
            return False
        world.set_status(VIRTUAL_MACHINE, "cj", {"created": True, "ready": True})
        return True

    return vm


def _names(rule: permissions.Rule) -> Callable[[str], bool]:
    """Whether a refusal is of this rule's resource (the API server names it, subresource included)."""
    return lambda line: any(f'resource "{resource}"' in line for resource in rule.resources)


def test_with_every_rule_the_clone_goes_through_without_a_refusal(kube: Kube, world: World, namespace: str) -> None:
    if not _serves_core(kube, namespace):
        pytest.skip("this API server has no RBAC (a CRD-only server)")
    identity = chart_identity(kube, namespace, permissions.namespaced())
    with running_operator(identity, settings_for(namespace)):  # fails on any 403 the operator meets
        _clone_with_adaptation(world, 20)


@pytest.mark.parametrize("missing", NEEDED_BY_A_KUBEVIRT_CLONE, ids=lambda rule: "/".join(rule.resources))
def test_without_any_one_rule_a_clone_cannot_go_through(
    kube: Kube, world: World, namespace: str, missing: permissions.Rule
) -> None:
    if not _serves_core(kube, namespace):
        pytest.skip("this API server has no RBAC (a CRD-only server)")
    granted = [rule for rule in permissions.namespaced() if rule != missing]
    identity = chart_identity(kube, namespace, granted)
    refused: list[str] = []
    with running_operator(identity, settings_for(namespace), refused=refused):
        acts = _acts(world)
        deadline = time.monotonic() + 20
        while not any(map(_names(missing), refused)) and time.monotonic() < deadline:
            acts = [act for act in acts if not act()] if acts else acts  # play what appears, in order
            time.sleep(0.2)
        assert [line for line in refused if _names(missing)(line)], f"no refusal of {missing.resources}: {refused}"
    assert world.state("cj") != "SUCCEEDED", "without the rule, the clone cannot have gone through"


def _fed_acts(world: World, volsync: VolSync) -> list[Callable[[], bool]]:
    """A clone of a VolSync-fed MigratingVm, with VolSync moving on while it restores: each feed rule is used."""
    disks = [{"disk": "boot", "replicationDestination": "web-1-boot"}]
    volsync.destination("web-1-boot")
    spec = {"sourceVmId": "vm-1", "kubevirtTargetDefaults": {}, "replication": {"volSync": {"disks": disks}}}
    world.create(MIGRATING_VM, "web-1", spec)
    volsync.sync("web-1-boot")

    def cycle() -> bool:
        """the first cycle held and published, then the clone"""
        body = world.get(MIGRATING_VM, "web-1") or {}
        if not (body.get("status") or {}).get("lastSync"):
            return False
        world.clone_job("cj")
        return True

    def data_volume() -> bool:
        """DataVolume cj-disk-0, then VolSync moves on (the job's image is relinquished)"""
        if world.get(DATA_VOLUME, "cj-disk-0") is None:
            return False
        volsync.sync("web-1-boot")
        world.set_status(DATA_VOLUME, "cj-disk-0", {"phase": "Succeeded", "progress": "100.0%"})
        return True

    return [cycle, data_volume, _vm(world)]


def _volsync(kube: Kube, namespace: str) -> VolSync:
    if not _serves_core(kube, namespace):
        pytest.skip("this API server has no RBAC (a CRD-only server)")
    if not product_crds():
        pytest.skip("VolSync's real CRD is not at hand (CLONEJOB_TEST_PRODUCT_CRDS)")
    return VolSync(kube, namespace)


def test_with_every_rule_a_fed_clone_goes_through_and_lets_go(kube: Kube, world: World, namespace: str) -> None:
    volsync = _volsync(kube, namespace)
    identity = chart_identity(kube, namespace, permissions.namespaced())
    with running_operator(identity, settings_for(namespace)):  # fails on any 403 the operator meets
        for act in _fed_acts(world, volsync):
            wait_for(act, 20, act.__doc__ or "the next step")
        world.wait_state("cj", "SUCCEEDED", 20)
        wait_for(lambda: world.get(VOLUME_SNAPSHOT, "volsync-web-1-boot-dst-1") is None, 20, "the image let go of")


@pytest.mark.parametrize("missing", FEEDS_RULES, ids=lambda rule: "/".join(rule.resources) + ":" + rule.verbs[0])
def test_without_any_one_feed_rule_a_fed_clone_cannot_go_through(
    kube: Kube, world: World, namespace: str, missing: permissions.Rule
) -> None:
    volsync = _volsync(kube, namespace)
    identity = chart_identity(kube, namespace, [rule for rule in permissions.namespaced() if rule != missing])
    refused: list[str] = []
    with running_operator(identity, settings_for(namespace), refused=refused):
        acts = _fed_acts(world, volsync)
        deadline = time.monotonic() + 20
        while not any(map(_names(missing), refused)) and time.monotonic() < deadline:
            acts = [act for act in acts if not act()] if acts else acts
            time.sleep(0.2)
        assert [line for line in refused if _names(missing)(line)], f"no refusal of {missing.resources}: {refused}"
    listing = kube.core.list_namespaced_event(namespace, field_selector="involvedObject.kind=MigratingVm")
    failing = [str(e.message) for e in listing.items if e.reason == "FeedFailing" and e.type == "Warning"]
    if "patch" in missing.verbs:  # refused to the feed itself (a watch refused is kopf's, and said in its log)
        assert failing and all(missing.resources[0] in message for message in failing), failing
        assert len(set(failing)) == len(failing), f"said once per cause on the MigratingVm: {failing}"
    assert world.get(CLONE_JOB, "cj") is None or world.state("cj") != "SUCCEEDED", "it cannot have gone through"
