"""Helpers for cluster tests: waiting for conditions, and playing the CDI, KubeVirt and snapshot controllers."""

from __future__ import annotations

import asyncio
import logging
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, TypeVar

from bench.watching import Follower
from kubernetes.client.exceptions import ApiException

from clonejob_operator.api.clonejob import StepKind
from clonejob_operator.controller import Controller
from clonejob_operator.kube import ADAPTATION_PROFILE, CLONE_JOB, MIGRATING_VM, Body, Kind, Kube
from clonejob_operator.metrics import Metrics
from clonejob_operator.reconciler import Reconciler
from clonejob_operator.runtime import Launch, Process
from clonejob_operator.seal import Sealer
from clonejob_operator.settings import Settings
from clonejob_operator.targets.kubevirt.kinds import DATA_VOLUME, VIRTUAL_MACHINE, VOLUME_SNAPSHOT
from tests.integration.sealing import SEALER, merged

T = TypeVar("T")
TERMINAL = ("SUCCEEDED", "FAILED", "CANCELLED")


def manifest(kind: Kind, namespace: str, name: str, spec: dict[str, Any], labels: dict[str, str] | None = None) -> Body:
    """A custom object as a user would write it."""
    meta: dict[str, Any] = {"name": name, "namespace": namespace, **({"labels": labels} if labels else {})}
    return {"apiVersion": kind.api_version, "kind": kind.kind, "metadata": meta, "spec": spec}


def wait_for(probe: Callable[[], T | None], timeout: float = 30.0, what: str = "condition") -> T:
    """Poll ``probe`` until it returns something truthy; fail with ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


CLEANUPS: dict[str, list[Callable[[], object]]] = {}
"""What a test made outside its namespace (cluster-scoped objects), removed with its namespace."""


def after(namespace: str, cleanup: Callable[[], object]) -> None:
    CLEANUPS.setdefault(namespace, []).append(cleanup)


def clean_up(namespace: str) -> None:
    for cleanup in reversed(CLEANUPS.pop(namespace, [])):
        cleanup()


def settings_for(namespace: str, **overrides: Any) -> Settings:
    base: dict[str, Any] = {
        "sealer": SEALER,
        "pending_deadline": timedelta(minutes=5),
        "resync_interval": 60.0,  # watch events and deadlines must drive everything; the resync is a backstop
        "namespaces": (namespace,),
        "step_timeouts": {kind: timedelta(minutes=5) for kind in StepKind},
    }
    base.update(overrides)
    return Settings(**base)


@dataclass
class OperatorThread:
    """The operator, in-process: the runtime's own process (its terms, kopf, the controller), standalone,
    watching the test's namespaces only, on an event loop of its own thread."""

    kube: Kube
    settings: Settings
    metrics: Metrics = field(default_factory=Metrics)
    thread: threading.Thread | None = None
    error: BaseException | None = None

    def start(self) -> OperatorThread:
        self.process = Process(self.kube, Launch(self.settings), self.metrics)

        def main() -> None:
            try:
                asyncio.run(self.process.run())
            except BaseException as error:  # surfaced by stop()
                self.error = error

        self.thread = threading.Thread(target=main, name="operator", daemon=True)
        self.thread.start()
        if not self.process.serving.wait(30):
            raise AssertionError(f"the operator did not start: {self.error!r}")
        return self

    @property
    def controller(self) -> Controller:
        controller = self.process.controller
        assert controller is not None, "no term is running"
        return controller

    @property
    def reconciler(self) -> Reconciler:
        return self.controller.reconciler

    def stop(self) -> None:
        self.process.stop()
        if self.thread:
            self.thread.join(30)
            assert not self.thread.is_alive(), "the operator did not stop"
        assert self.error is None, f"the operator's process failed: {self.error!r}"


CHART_IDENTITIES: set[int] = set()
"""Clients that speak as the chart's ServiceAccount (``operator_kube``): an operator running as one must
never meet a 403, so that permissions.py is shown to be enough."""


_REFUSAL = re.compile(r"(?<![\w-])403(?![\w-])|orbidden")


def kubernetes_refusal(line: str) -> bool:
    """Whether a log line tells of a Kubernetes 403. The status code as a word of its own: a generated
    namespace such as ``cjt-33efe403`` is not one (that match once failed CI at random)."""
    return bool(_REFUSAL.search(line.replace("Compute Engine answered 403", "")))


class _Refusals(logging.Handler):
    def __init__(self, seen: list[str]) -> None:
        super().__init__(logging.WARNING)
        self.seen = seen

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if kubernetes_refusal(text):
            self.seen.append(f"{record.name}: {text[:600]}")


@contextmanager
def running_operator(kube: Kube, settings: Settings, refused: list[str] | None = None) -> Iterator[OperatorThread]:
    """The operator in this process. As a chart identity, any Kubernetes refusal it meets fails the test,
    unless ``refused`` is given: then the refusals are gathered there, for the test to check."""
    refusals = _Refusals(refused if refused is not None else [])
    watching = id(kube) in CHART_IDENTITIES or refused is not None
    if watching:
        logging.getLogger().addHandler(refusals)
    operator = OperatorThread(kube, settings).start()
    try:
        yield operator
    finally:
        operator.stop()
        logging.getLogger().removeHandler(refusals)
    if refused is None:
        assert not refusals.seen, f"the operator, as the chart's ServiceAccount, was refused: {refusals.seen}"


SOMEBODY_ELSES: dict[Kind, dict[str, Any]] = {
    DATA_VOLUME: {"source": {"blank": {}}, "storage": {"resources": {"requests": {"storage": "1Gi"}}}},
    VIRTUAL_MACHINE: {"runStrategy": "Halted", "template": {"spec": {"domain": {"devices": {}}}}},
}
"""Specs of products that are not the operator's (a namesake, a gone job's leftover) that the real schemas take."""


@dataclass
class World:
    """One test namespace, with the controllers that this cluster lacks played by hand."""

    kube: Kube
    namespace: str

    # --- objects users create -------------------------------------------------------------------------
    def migrating_vm(
        self,
        name: str = "web-1",
        disks: int = 1,
        defaults: Body | None = None,
        synced: bool = True,
        ready_snapshots: bool = True,
    ) -> Body:
        created = self.create(
            MIGRATING_VM, name, {"sourceVmId": f"vm-{name}", "kubevirtTargetDefaults": defaults or {}}
        )
        if synced:
            self.sync(name, disks, ready=ready_snapshots)
        return created

    def compute_engine_vm(self, name: str, defaults: dict[str, Any], snapshots: int = 1) -> Body:
        """A MigratingVm with a Compute Engine VM target whose last sync has Compute Engine snapshots."""
        created = self.create(MIGRATING_VM, name, {"sourceVmId": f"vm-{name}", "computeEngineTargetDefaults": defaults})
        disks = [
            {"disk": f"d{i}", "computeEngineSnapshot": f"projects/p/global/snapshots/s{i}"} for i in range(snapshots)
        ]
        self.set_status(MIGRATING_VM, name, {"lastSync": {"cycleNumber": 3, "snapshots": disks}})
        return created

    def sync(self, name: str, disks: int = 1, cycle: int = 3, ready: bool = True) -> None:
        """Play the replication tool: snapshots exist, and the MigratingVm's lastSync names them."""
        snapshots = []
        for index in range(disks):
            snapshot = f"{name}-c{cycle}-d{index}"
            self.snapshot(snapshot, ready=ready)
            snapshots.append({"disk": f"disk-{index}", "volumeSnapshot": snapshot, "sizeBytes": (index + 1) * 2**30})
        self.kube.patch_status(
            MIGRATING_VM,
            self.namespace,
            name,
            {
                "status": {
                    "state": "ACTIVE",
                    "stateTime": "2026-11-26T10:00:00Z",
                    "lastSync": {
                        "lastSyncTime": "2026-11-26T10:00:00.123456789Z",
                        "cycleNumber": cycle,
                        "snapshots": snapshots,
                    },
                }
            },
        )

    def snapshot(self, name: str, ready: bool = True) -> None:
        self.create(VOLUME_SNAPSHOT, name, {"source": {"persistentVolumeClaimName": f"src-{name}"}})
        if ready:
            self.kube.patch_status(
                VOLUME_SNAPSHOT, self.namespace, name, {"status": {"readyToUse": True, "restoreSize": "1Gi"}}
            )

    def create(self, kind: Kind, name: str, spec: dict[str, Any], labels: dict[str, str] | None = None) -> Body:
        return self.kube.create(kind, self.namespace, manifest(kind, self.namespace, name, spec, labels))

    def clone_job(self, name: str, migrating_vm: str = "web-1") -> Body:
        return self.create(CLONE_JOB, name, {"migratingVm": migrating_vm})

    def cancel(self, name: str) -> None:
        self.kube.patch(CLONE_JOB, self.namespace, name, {"spec": {"cancel": True}})

    def delete(self, kind: Kind, name: str) -> None:
        self.kube.delete(kind, self.namespace, name)

    # --- reading ---------------------------------------------------------------------------------------
    def get(self, kind: Kind, name: str) -> Body | None:
        return self.kube.get(kind, self.namespace, name)

    def job(self, name: str) -> Body:
        body = self.get(CLONE_JOB, name)
        assert body is not None, f"CloneJob {name} is gone"
        return body

    def status(self, name: str) -> dict[str, Any]:
        return dict(self.job(name).get("status") or {})

    def state(self, name: str) -> str | None:
        body = self.get(CLONE_JOB, name)
        return None if body is None else (body.get("status") or {}).get("state")

    def products(self, kind: Kind) -> list[Body]:
        return self.kube.list(kind, self.namespace)

    def all_products(self) -> list[str]:
        return [
            f"{kind.kind}/{item['metadata']['name']}"
            for kind in (DATA_VOLUME, VIRTUAL_MACHINE)
            for item in self.products(kind)
        ]

    def wait_state(self, name: str, state: str, timeout: float = 30.0) -> dict[str, Any]:
        wait_for(lambda: self.state(name) == state, timeout, f"CloneJob {name} to reach {state}")
        return self.status(name)

    def wait_step(self, name: str, step: str, timeout: float = 30.0) -> dict[str, Any]:
        wait_for(
            lambda: (self.get(CLONE_JOB, name) or {}).get("status", {}).get("currentStep") == step,
            timeout,
            f"CloneJob {name} to run {step}",
        )
        return self.status(name)

    def wait_reason(self, name: str, reason: str, timeout: float = 30.0) -> dict[str, Any]:
        """Until a condition of CloneJob ``name`` gives ``reason``."""
        wait_for(
            lambda: any(c.get("reason") == reason for c in self.status(name).get("conditions", [])),
            timeout,
            f"CloneJob {name} to say {reason}",
        )
        return self.status(name)

    def wait_gone(self, kind: Kind, name: str, timeout: float = 30.0) -> None:
        wait_for(lambda: self.get(kind, name) is None, timeout, f"{kind.kind} {name} to disappear")

    def wait_object(self, kind: Kind, name: str, timeout: float = 30.0) -> Body:
        return wait_for(lambda: self.get(kind, name), timeout, f"{kind.kind} {name} to exist")

    # --- playing CDI and KubeVirt --------------------------------------------------------------------
    def profile(self, name: str, spec: dict[str, Any]) -> str:
        """A cluster-scoped AdaptationProfile named for this test (removed with its namespace); its name."""
        kind, full = ADAPTATION_PROFILE, f"{self.namespace}-{name}"
        body = {"apiVersion": kind.api_version, "kind": kind.kind, "metadata": {"name": full}, "spec": spec}
        self.kube.custom.create_cluster_custom_object(kind.group, kind.version, kind.plural, body)
        after(
            self.namespace,
            lambda: self.kube.custom.delete_cluster_custom_object(kind.group, kind.version, kind.plural, full),
        )
        return full

    def set_status(self, kind: Kind, name: str, status: dict[str, Any]) -> None:
        self.kube.patch_status(kind, self.namespace, name, {"status": status})

    def write_as_operator(self, name: str, status: dict[str, Any], sealer: Sealer = SEALER) -> None:
        """Merge ``status`` into CloneJob ``name``'s status as the operator would write it: sealed with its key
        (what an older operator version stored, or what survives a bug, rather than a tenant's forgery)."""

        def write() -> bool:
            body = self.job(name)
            combined = merged(body.get("status") or {}, status)
            patch = {"metadata": {"resourceVersion": body["metadata"]["resourceVersion"]}}
            patch["status"] = sealer.sealed(body["metadata"]["uid"], combined)
            try:
                self.kube.patch_status(CLONE_JOB, self.namespace, name, patch)
            except ApiException as error:
                if error.status != 409:
                    raise
                return False  # the operator wrote meanwhile: merge into what it wrote
            return True

        wait_for(write, 10, f"CloneJob {name}'s status to be written")

    def finish_disks(self, vm: str, disks: int = 1, phase: str = "Succeeded") -> None:
        for index in range(disks):
            name = f"{vm}-disk-{index}"
            self.wait_object(DATA_VOLUME, name)
            self.set_status(
                DATA_VOLUME,
                name,
                {
                    "phase": phase,
                    "progress": "100.0%" if phase == "Succeeded" else "N/A",
                    "conditions": [{"type": "Ready", "status": str(phase == "Succeeded"), "message": f"phase {phase}"}],
                },
            )

    def clone_to_success(self, name: str, disks: int = 1) -> dict[str, Any]:
        """Create CloneJob ``name``, play CDI and KubeVirt until it SUCCEEDED; its status."""
        self.clone_job(name)
        self.finish_disks(name, disks)
        self.ready_vm(name)
        return self.wait_state(name, "SUCCEEDED")

    def ready_vm(self, vm: str) -> None:
        self.wait_object(VIRTUAL_MACHINE, vm)
        self.set_status(VIRTUAL_MACHINE, vm, {"created": True, "ready": True, "printableStatus": "Running"})


class StateRecorder:
    """Every state a CloneJob's status goes through, in order, from a watch (which sees every write)."""

    def __init__(self, kube: Kube, namespace: str, name: str) -> None:
        self.name = name
        self.states: list[str] = []
        self._follower = Follower(
            kube, CLONE_JOB, namespace, self._seen, Counter(), field_selector=f"metadata.name={name}"
        )

    @property
    def error(self) -> Exception | None:
        return self._follower.error

    def _seen(self, type_: str, body: Body) -> None:
        state = (body.get("status") or {}).get("state")
        if state and (not self.states or self.states[-1] != state):
            self.states.append(state)

    def __enter__(self) -> StateRecorder:
        self._follower.start(replay=False)  # changes from now on: the job is created inside the block
        return self

    def __exit__(self, *_: object) -> None:
        self._follower.stop()

    def wait_for(self, last: str, timeout: float = 30.0) -> list[str]:
        def reached() -> bool:
            assert self.error is None, f"the watch failed: {self.error!r}"
            return bool(self.states) and self.states[-1] == last

        wait_for(reached, timeout, f"{self.name} to reach {last} (seen: {self.states})")
        return list(self.states)
