"""Fuzz: CloneJob, MigratingVm and TargetProject manifests made by hypothesis from the CRDs' own schemas,
one field bent at a time, sent to the real API server. Every refusal names the field. Accepted inputs go
through the whole reconcile: an accepted KubeVirt MigratingVm is stored, synced and cloned, and an accepted
CloneJob gets its MigratingVm, so that the builders and the drivers see the fuzzed values and make products
(the controllers played); every such job ends, the others wait with a stated reason, and the operator never
meets a bug. Also: objects written
under a looser CRD, then read under the real one. Quick in CI; ``--long`` for 5,000 inputs."""

from __future__ import annotations

import functools
import json
import logging
import re
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import kubernetes
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kubernetes.client.exceptions import ApiException

from clonejob_demo.standins import Stagehand
from clonejob_operator import crdgen
from clonejob_operator.api.clonejob import FINISHED
from clonejob_operator.kube import CLONE_JOB, MIGRATING_VM, TARGET_PROJECT, Kind, Kube
from tests.integration.kit import World, manifest, running_operator, settings_for, wait_for
from tests.integration.sealing import SEALER

Node = dict[str, Any]
BASES: dict[Kind, Node] = {
    TARGET_PROJECT: {"project": "my-proj-123"},
    MIGRATING_VM: {"sourceVmId": "vm-1", "kubevirtTargetDefaults": {}},
    CLONE_JOB: {"migratingVm": "web-1"},
}
TARGETS = ("kubevirtTargetDefaults", "computeEngineTargetDefaults", "computeEngineDisksTargetDefaults")


@functools.cache
def spec_schema(kind: Kind) -> Node:
    for crd in crdgen.all_crds().values():
        if crd["spec"]["names"]["plural"] == kind.plural:
            (version,) = crd["spec"]["versions"]
            return dict(version["schema"]["openAPIV3Schema"]["properties"]["spec"])
    raise KeyError(kind.plural)


def leaves(node: Node, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Node]]:
    """Every field under ``node`` that a value can be put in (objects' properties, down through lists' items)."""
    for key, child in (node.get("properties") or {}).items():
        here = (*path, key)
        yield here, child
        target = child.get("items") if child.get("type") == "array" else child
        if isinstance(target, dict) and target.get("properties"):
            yield from leaves(target, (*here, "[]") if child.get("type") == "array" else here)


def value_for(node: Node) -> st.SearchStrategy[Any]:
    """Values for one field: some that fit its schema, many that bend it (length, type, enum, range)."""
    kind = node.get("type")
    wrong_type = st.sampled_from([12, True, "text", ["a"], {"a": 1}, None])
    if "enum" in node:
        return st.one_of(st.sampled_from(node["enum"]), st.text(max_size=20), wrong_type)
    if kind == "string":
        most = int(node.get("maxLength", 64))
        return st.one_of(
            st.text(min_size=0, max_size=min(most, 40)),
            st.from_regex(r"[a-z][a-z0-9-]{0,20}", fullmatch=True),
            st.just("x" * (most + 1)),
            wrong_type,
        )
    if kind == "integer":
        low, high = node.get("minimum", -(2**31)), node.get("maximum", 2**31)
        return st.one_of(st.integers(int(low), int(high)), st.integers(int(high) + 1, int(high) + 100), wrong_type)
    if kind == "boolean":
        return st.one_of(st.booleans(), wrong_type)
    if kind == "array":
        most = int(node.get("maxItems", 8))
        return st.one_of(st.just([]), st.just(["item"] * (most + 1)), wrong_type)
    return st.one_of(st.just({}), st.just({"unknownField": 1}), wrong_type)


def minimal(node: Node) -> Any:
    """The smallest value that fits ``node``: what a bent field's surroundings are filled with."""
    if "enum" in node:
        return node["enum"][0]
    kind = node.get("type")
    if kind == "string":
        return "a1" if "pattern" not in node else "my-proj-123"
    if kind == "integer":
        return int(node.get("minimum", 1))
    if kind == "boolean":
        return False
    if kind == "array":
        return []
    return {key: minimal(node["properties"][key]) for key in node.get("required") or []}


def put(body: Node, schema: Node, path: tuple[str, ...], value: Any) -> None:
    """Set the field at ``path`` (a ``[]`` after a list's name: its first item); what leads to it is made
    with its required fields, so that the bent field is the only thing wrong."""
    here, node, index = body, schema, 0
    while index < len(path) - 1:
        key = path[index]
        node = node["properties"][key]
        if path[index + 1] == "[]":
            node = node["items"]
            items = here.get(key)
            if not isinstance(items, list) or not items or not isinstance(items[0], dict):
                items = here[key] = [minimal(node)]
            here, index = items[0], index + 2
        else:
            child = here.get(key)
            if not isinstance(child, dict):
                child = here[key] = minimal(node)
            here, index = child, index + 1
    here[path[-1]] = value


@st.composite
def bent(draw: st.DrawFn, kind: Kind) -> tuple[Node, tuple[str, ...]]:
    """A manifest's spec, valid but for (at most) the one field bent; and that field's path."""
    spec = json.loads(json.dumps(BASES[kind]))
    schema = spec_schema(kind)
    if kind is MIGRATING_VM:
        target = draw(st.sampled_from(TARGETS))
        spec = {"sourceVmId": "vm-1", target: {}}
        fields = [(p, n) for p, n in leaves(schema) if p[0] not in TARGETS or p[0] == target]
    else:
        fields = list(leaves(schema))
    path, node = draw(st.sampled_from(fields))
    put(spec, schema, path, draw(value_for(node)))
    return spec, path


FIELD = re.compile(r'\bspec(\.[A-Za-z0-9]+(\[\d+\])?)*(: |")')
"""A field's path as the API server names it: ``spec.a.b[0].c: Invalid value`` or ``unknown field "spec.a.b"``."""


def names_the_field(message: str, path: tuple[str, ...]) -> bool:
    """The refusal names the bent field, or the object that holds it (a rule over several of its fields)."""
    named = [p for p in path if p != "[]"]
    return bool(FIELD.search(message)) and any(part in message for part in ["spec", *named][-3:])


def create(kube: Kube, kind: Kind, namespace: str, name: str, spec: Node, dry_run: bool) -> ApiException | None:
    body = manifest(kind, namespace, name, spec)
    try:
        kube.custom.create_namespaced_custom_object(
            kind.group,
            kind.version,
            namespace,
            kind.plural,
            body,
            dry_run="All" if dry_run else None,
            field_validation="Strict",
        )
    except ApiException as error:
        if error.status in (400, 422):
            return error
        raise
    return None


class Tally:
    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.unnamed: list[str] = []
        self.accepted_jobs: list[str] = []
        self.cloneable: set[str] = set()
        """Accepted jobs whose MigratingVm exists, with a KubeVirt target and a ready snapshot: they must end."""
        self.sources: set[str] = {"web-1"}
        """The KubeVirt MigratingVms made for CloneJobs, by name."""


def _kubevirt_source(world: World, name: str, spec: Node) -> bool:
    """Store MigratingVm ``name`` as accepted (``spec``), synced with a ready snapshot; False when the API
    server refuses it (a name too long for its snapshot's, say)."""
    try:
        world.create(MIGRATING_VM, name, spec)
        world.sync(name)
    except ApiException as error:
        if error.status in (400, 409, 422):
            return False
        raise
    return True


def _sent(world: World, tally: Tally, kind: Kind, spec: Node, path: tuple[str, ...]) -> None:
    """One example sent: refused (the refusal must name the field), or accepted. An accepted KubeVirt
    MigratingVm is stored, synced and cloned; an accepted CloneJob gets its MigratingVm, so that accepted
    inputs go through the whole reconcile, products and all."""
    tally.counts["tried"] += 1
    name = f"f{tally.counts['tried']}"
    refused = create(world.kube, kind, world.namespace, name, spec, dry_run=kind is not CLONE_JOB)
    if refused is not None:
        tally.counts["rejected"] += 1
        message = json.loads(refused.body or "{}").get("message", "")
        if not names_the_field(message, path):
            tally.unnamed.append(f"{kind.kind} {'.'.join(path)}: {message[:200]}")
        return
    tally.counts["accepted"] += 1
    if kind is MIGRATING_VM and "kubevirtTargetDefaults" in spec and _kubevirt_source(world, f"m{name}", spec):
        world.clone_job(name, migrating_vm=f"m{name}")
        tally.accepted_jobs.append(name)
        tally.cloneable.add(name)
    elif kind is CLONE_JOB:
        tally.accepted_jobs.append(name)
        mvm = spec.get("migratingVm")
        if isinstance(mvm, str) and (mvm in tally.sources or _kubevirt_source(world, mvm, BASES[MIGRATING_VM])):
            tally.sources.add(mvm)
            tally.cloneable.add(name)


def test_fuzz_manifests_on_the_real_api_server(
    kube: Kube, world: World, namespace: str, long_run: bool, caplog: pytest.LogCaptureFixture
) -> None:
    examples = 5000 if long_run else 500
    tally = Tally()
    world.migrating_vm("web-1")  # the CloneJobs' default MigratingVm exists, with a ready snapshot

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(data=st.data())
    def one(data: st.DataObject) -> None:
        kind = data.draw(st.sampled_from([CLONE_JOB, MIGRATING_VM, TARGET_PROJECT]))
        spec, path = data.draw(bent(kind))
        _sent(world, tally, kind, spec, path)

    caplog.set_level(logging.WARNING)
    one()  # every example drawn and sent first: no operator thread touches the global random while hypothesis draws
    hand = Stagehand(kube, namespace)
    with running_operator(kube, settings_for(namespace)) as operator:

        def settled() -> Counter[str] | None:
            hand.act()  # the snapshot, CDI and KubeVirt controllers, played
            return _outcomes(world, tally.accepted_jobs, tally.cloneable)

        outcomes = wait_for(settled, 240 if long_run else 120, "every accepted CloneJob to settle")
        failures = sum(
            sample.value
            for metric in operator.reconciler.metrics.registry.collect()
            if metric.name == "clonejob_failures"
            for sample in metric.samples
            if sample.name == "clonejob_failures_total"
        )
    tally.counts.update(outcomes)
    made = sum(1 for name in tally.cloneable if (world.status(name).get("createdResources")))
    print(f"fuzz: {dict(tally.counts)}; {len(tally.cloneable)} cloneable, {made} made products")
    assert tally.counts["tried"] >= examples and tally.counts["rejected"] and tally.counts["accepted"]
    assert tally.unnamed == [], tally.unnamed[:5]
    assert made >= len(tally.cloneable) // 2 > 0, "accepted inputs reach the builders and make products"
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert [m for m in errors if "a bug" in m or "Traceback" in m] == [], errors[:3]
    assert failures == outcomes["ended FAILED"], "the metrics count the failures the statuses show"


def _outcomes(world: World, jobs: list[str], cloneable: set[str]) -> Counter[str] | None:
    """Each job finished; or, when it cannot go through (its MigratingVm is missing, or has another target),
    waiting with a reason the status states for its current generation."""
    out: Counter[str] = Counter()
    for name in jobs:
        body = world.get(CLONE_JOB, name)
        if body is None:
            return None
        status = body.get("status") or {}
        if status.get("state") in FINISHED:
            out[f"ended {status['state']}"] += 1
            continue
        if name in cloneable:
            return None
        conditions = {c["type"]: c for c in status.get("conditions") or []}
        reconciling = conditions.get("Reconciling") or conditions.get("Stalled")
        if status.get("observedGeneration") != body["metadata"]["generation"] or not reconciling:
            return None
        if not reconciling.get("reason"):
            return None
        out[f"waiting {reconciling['reason']}"] += 1
    return out


@contextmanager
def looser_clone_job_crd(kube: Kube) -> Iterator[None]:
    """The CloneJob CRD with no schema but 'anything goes', for as long as the block runs; then the real one."""
    api = kubernetes.client.ApiextensionsV1Api(kube.api_client)
    name = f"{CLONE_JOB.plural}.{CLONE_JOB.group}"
    real = next(c for c in crdgen.all_crds().values() if c["metadata"]["name"] == name)
    loose = json.loads(json.dumps(real))
    (version,) = loose["spec"]["versions"]
    version["schema"] = {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}
    version.pop("additionalPrinterColumns", None)
    version.pop("selectableFields", None)

    def replace(doc: Node) -> None:
        current: Any = api.read_custom_resource_definition(name)
        doc = {**doc, "metadata": {**doc["metadata"], "resourceVersion": current.metadata.resource_version}}
        api.replace_custom_resource_definition(name, doc)  # type: ignore[arg-type]  # a manifest, as kubectl sends

    replace(loose)
    try:
        yield
    finally:
        replace(real)


GARBAGE: list[tuple[str, Node, Node | None, str]] = [
    # (what, spec, status, how it must end: FAILED with INVALID_ARGUMENT, or Unwritable when the API server
    # refuses every write of it, its failure included, which a Warning Event then says once)
    ("a number for the MigratingVm", {"migratingVm": 12}, None, "Unwritable"),
    ("no MigratingVm at all", {"cancel": True}, None, "FAILED"),
    ("a state nobody knows", {"migratingVm": "web-1"}, {"state": "BOGUS"}, "FAILED"),
    ("steps that are not a list", {"migratingVm": "web-1"}, {"state": "ACTIVE", "steps": "x"}, "FAILED"),
    ("a time that is no time", {"migratingVm": "web-1"}, {"state": "ACTIVE", "stateTime": "yesterday"}, "FAILED"),
]


def test_fuzz_objects_written_under_a_looser_crd_fail_with_invalid_argument(
    kube: Kube, world: World, namespace: str, caplog: pytest.LogCaptureFixture
) -> None:
    world.migrating_vm("web-1")
    with looser_clone_job_crd(kube):
        for index, (_, spec, status, _) in enumerate(GARBAGE):
            loose = functools.partial(_create_loose, kube, namespace, f"g{index}", spec, status)
            wait_for(loose, 30, "the looser CRD to be served")
    with running_operator(kube, settings_for(namespace)):
        for index, (what, _, _, end) in enumerate(GARBAGE):
            name = f"g{index}"
            if end == "FAILED":
                ended = world.wait_state(name, "FAILED", timeout=30)
                assert ended["error"]["code"] == 3, (what, ended["error"])  # INVALID_ARGUMENT, naming the field
                assert any(word in ended["error"]["message"] for word in ("spec", "status")), (what, ended["error"])
            else:
                event = wait_for(lambda n=name: _warning(kube, namespace, n), 30, f"{what}: a Warning Event")  # type: ignore[misc]
                assert "spec.migratingVm" in event.message, event.message
        unwritable = [r for r in caplog.records if "its status cannot be written" in r.getMessage()]
    assert len(unwritable) == 1, "said once, not in a loop"


def _warning(kube: Kube, namespace: str, name: str) -> Any:
    events = kube.core.list_namespaced_event(namespace, field_selector=f"involvedObject.name={name}").items
    return next((e for e in events if e.reason == "Unwritable"), None)


def _create_loose(kube: Kube, namespace: str, name: str, spec: Node, status: Node | None) -> bool:
    try:
        created = kube.create(CLONE_JOB, namespace, manifest(CLONE_JOB, namespace, name, spec))
        if status is not None:  # stored by an operator of the time, with its seal
            sealed = SEALER.sealed(created["metadata"]["uid"], status) if isinstance(status, dict) else status
            kube.patch_status(CLONE_JOB, namespace, name, {"status": sealed})
    except ApiException as error:
        if error.status in (404, 409, 422):  # the looser schema is not served yet
            kube.delete(CLONE_JOB, namespace, name)
            return False
        raise
    return True
