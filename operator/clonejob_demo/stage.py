"""The demo's stage: the CRDs, namespace and objects it installs (and removes), the operator it starts."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Literal, TextIO

import kubernetes
from kubernetes.client.exceptions import ApiException

from clonejob_demo import standins
from clonejob_operator import crdgen, names
from clonejob_operator.kube import CLONE_JOB, MIGRATING_VM, Body, Kind, Kube, status_of
from clonejob_operator.targets.kubevirt.kinds import VOLUME_SNAPSHOT
from clonejob_operator.timestamps import format_time, now

MANAGER = "clonejob-operator-demo"
"""The field manager of what the demo applies, and the value of its ``managed-by`` label."""
DEMO_LABELS = {names.MANAGED_BY[0]: MANAGER}
"""What the demo makes carries this label: the manager is the demo."""
MIGRATING_VM_NAME = "web-1"
SNAPSHOT = "web-1-c3-d0"


class DemoError(Exception):
    """The demo cannot go on; the message says why and what to do."""


@dataclass
class Stage:
    """Where the demo plays: what it installs and removes, the operator it starts, and its voice."""

    kube: Kube
    namespace: str
    out: TextIO
    operator_args: Sequence[str] = ()
    """How the operator process reaches the cluster (``--kubeconfig``, ``--context``)."""
    start_operator: bool = True
    keep: bool = False
    operator_log: Path | None = None
    """Where the started operator's log goes, kept; by default a temporary file removed when the demo passes."""
    play_controllers: bool = False
    """Play the controllers even over the products' real CRDs (which are then left as they are)."""
    timeout: float = 60.0
    """How long one CloneJob may take to reach the state the demo waits for."""
    _started: float = field(default_factory=time.monotonic)
    _made_crds: list[str] = field(default_factory=list)
    _made_namespace: bool = False
    _made: list[tuple[Kind, str]] = field(default_factory=list)
    """What this run created in the namespace (besides CloneJobs and their products), to remove it."""
    _operator: subprocess.Popen[bytes] | None = None
    _log: Path | None = None

    def install(self) -> None:
        self.install_crds()
        self.make_namespace()
        self._create(
            VOLUME_SNAPSHOT,
            {
                "apiVersion": VOLUME_SNAPSHOT.api_version,
                "kind": VOLUME_SNAPSHOT.kind,
                "metadata": {"name": SNAPSHOT, "namespace": self.namespace, "labels": DEMO_LABELS},
                "spec": {"source": {"persistentVolumeClaimName": "web-1-disk-0"}},
            },
        )
        standins.Stagehand(self.kube, self.namespace).act()  # the snapshot controller: readyToUse
        self._create(
            MIGRATING_VM,
            {
                "apiVersion": MIGRATING_VM.api_version,
                "kind": MIGRATING_VM.kind,
                "metadata": {"name": MIGRATING_VM_NAME, "namespace": self.namespace, "labels": DEMO_LABELS},
                "spec": {"sourceVmId": "vm-1042", "kubevirtTargetDefaults": {"cpu": {"cores": 2}, "memory": "4Gi"}},
            },
        )
        synced = format_time(now())
        self.kube.patch_status(  # what a replication tool writes: the latest cycle and its snapshots
            MIGRATING_VM,
            self.namespace,
            MIGRATING_VM_NAME,
            {
                "status": {
                    "state": "ACTIVE",
                    "stateTime": synced,
                    "lastSync": {
                        "lastSyncTime": synced,
                        "cycleNumber": 3,
                        "snapshots": [{"disk": "disk-0", "volumeSnapshot": SNAPSHOT, "sizeBytes": 10 * 2**30}],
                    },
                }
            },
        )
        self.say(f"MigratingVm {MIGRATING_VM_NAME}: cycle 3 synced, VolumeSnapshot {SNAPSHOT} readyToUse")

    def _create(self, kind: Kind, body: Body) -> None:
        self.kube.create(kind, self.namespace, body)
        self._made.append((kind, body["metadata"]["name"]))

    # --- steps ------------------------------------------------------------------------------------------
    def install_crds(self) -> None:
        api = kubernetes.client.ApiextensionsV1Api(self.kube.api_client)
        ours = list(crdgen.all_crds().values())
        listed = self.kube.call(api.list_custom_resource_definition).items
        present: dict[str, Body] = {
            crd.metadata.name: {"metadata": {"name": crd.metadata.name, "labels": crd.metadata.labels or {}}}
            for crd in listed
        }
        for crd in standins.crds():
            found = present.get(crd["metadata"]["name"])
            if found is not None and not standins.is_stand_in(found) and not self.play_controllers:
                raise DemoError(
                    f"{crd['metadata']['name']} is installed and is not a stand-in: this cluster seems to run the "
                    "real controller, which the demo would fight. Run the demo on a cluster without KubeVirt, CDI, "
                    "a snapshot controller and VolSync (kind, say), or, where the CRDs are installed but nothing runs "
                    "them, pass --play-controllers"
                )
        for crd in [*ours, *standins.crds()]:
            name = crd["metadata"]["name"]
            if name in present:
                continue
            self.kube.call(
                api.patch_custom_resource_definition,
                name,
                crd,
                field_manager=MANAGER,
                _content_type="application/apply-patch+yaml",
                write=True,
            )  # server-side apply, as the README's kubectl apply --server-side
            self._made_crds.append(name)
        if self._made_crds:
            self.kube.await_served([CLONE_JOB, MIGRATING_VM, *standins.KINDS], timeout=60)
        there = sorted(set(present) & {c["metadata"]["name"] for c in [*ours, *standins.crds()]})
        self.say(
            "CRDs: installed "
            + (", ".join(self._made_crds) or "none")
            + ("; already there: " + ", ".join(there) if there else "")
        )

    def make_namespace(self) -> None:
        """The demo's namespace: made anew, or one an earlier demo left empty; never one with objects in it."""
        found = self._create_namespace()
        if found == "made":
            return
        left = [k.kind for k in (CLONE_JOB, MIGRATING_VM, VOLUME_SNAPSHOT) if self.kube.fresh_list(k, self.namespace)]
        if left:
            raise DemoError(
                f"namespace {self.namespace} still holds an earlier demo's objects ({', '.join(left)}; kept with "
                f"--keep?): delete them (kubectl delete namespace {self.namespace}), or pick another namespace "
                "with --namespace"
            )
        self._made_namespace = found == "ours"  # an earlier demo's, empty: removed at the end like a new one

    def _create_namespace(self) -> Literal["made", "ours", "given"]:
        """Made now; an earlier demo's, there already; or given (namespaces cannot be made here)."""
        try:
            self.kube.call(self.kube.core.create_namespace, _namespace(self.namespace), write=True)
        except ApiException as error:
            if status_of(error) in (403, 404):
                self.say(f"namespaces cannot be created here (API answered {error.status}): using {self.namespace}")
                return "given"
            if status_of(error) != 409:
                raise
            found = self.kube.call(self.kube.core.read_namespace, self.namespace)
            if (found.metadata.labels or {}).get("app.kubernetes.io/managed-by") != MANAGER:
                raise DemoError(
                    f"namespace {self.namespace} exists and is not the demo's: pick another with --namespace"
                ) from None
            if found.metadata.deletion_timestamp:
                if not self._gone_in_time():
                    raise DemoError(
                        f"namespace {self.namespace} is still being deleted (an earlier demo): "
                        "wait for it, or pick another with --namespace"
                    ) from None
                self.kube.call(self.kube.core.create_namespace, _namespace(self.namespace), write=True)
            else:
                self.say(f"namespace {self.namespace} (left by an earlier demo) reused")
                return "ours"
        self._made_namespace = True
        self.say(f"namespace {self.namespace} created")
        return "made"

    def _gone_in_time(self, seconds: float = 30.0) -> bool:
        """Whether the namespace an earlier demo deleted goes within ``seconds``."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                self.kube.call(self.kube.core.read_namespace, self.namespace)
            except ApiException as error:
                if status_of(error) == 404:
                    return True
                raise
            time.sleep(1)
        return False

    @contextmanager
    def operator(self) -> Iterator[None]:
        if not self.start_operator:
            self.say("using the operator that already runs")
            yield
            return
        scratch = Path(tempfile.mkdtemp(prefix="clonejob-demo-"))
        self._log = self.operator_log or scratch / "operator.log"
        command = [sys.executable, "-m", "clonejob_operator.cli", "run", "-n", self.namespace, "--standalone"]
        key = f"file:{scratch / 'seal-key'}"  # the demo's own sealing key: it leaves with the demo's jobs
        command += ["--message-interval", "1s", "--log-format", "plain", "--seal-key", key, *self.operator_args]
        with self._log.open("wb") as log:
            self._operator = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        self.say(f"operator started (pid {self._operator.pid}), its log: {self._log}")
        passed = False
        try:
            yield
            passed = True
        finally:
            self._operator.terminate()
            try:
                self._operator.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._operator.kill()
                self._operator.wait()
            kept = self.keep or not passed  # kept jobs keep their key; a failure keeps what to look into
            if not kept:
                shutil.rmtree(scratch, ignore_errors=True)
            self.say(
                f"operator stopped; its log is kept: {self._log}" if kept or self.operator_log else "operator stopped"
            )

    def check_operator(self) -> None:
        if self._operator is not None and self._operator.poll() is not None:
            tail = self._log.read_text(errors="replace").splitlines()[-20:] if self._log else []
            raise DemoError(f"the operator exited ({self._operator.returncode}); its log ends:\n" + "\n".join(tail))

    def remove(self) -> None:
        """Best effort, every part tried: what was made in the namespace, the namespace, then the CRDs."""
        gone: list[str] = []
        for kind, name in reversed(self._made):
            if self._attempt(f"delete {kind.kind} {name}", partial(self.kube.delete, kind, self.namespace, name)):
                gone.append(f"{kind.kind} {name}")
        if self._made_namespace and self._attempt(
            f"delete namespace {self.namespace}",
            lambda: self.kube.call(self.kube.core.delete_namespace, self.namespace, write=True),
        ):
            gone.append(f"namespace {self.namespace}")
        api = kubernetes.client.ApiextensionsV1Api(self.kube.api_client)
        for name in self._made_crds:
            if self._attempt(
                f"delete CRD {name}", partial(self.kube.call, api.delete_custom_resource_definition, name, write=True)
            ):
                gone.append(f"CRD {name}")
        self.say(f"deleted {', '.join(gone) or 'nothing'}")

    def _attempt(self, what: str, action: Callable[[], object]) -> bool:
        try:
            action()
            return True
        except ApiException as error:
            if status_of(error) == 404:
                return True
            self.say(f"could not {what}: API answered {error.status} {error.reason}")
        except Exception as error:  # cleanup goes on whatever one part met
            self.say(f"could not {what}: {error}")
        return False

    def wait(self, done: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + self.timeout
        while not done():
            self.check_operator()
            if time.monotonic() > deadline:
                raise DemoError(f"gave up waiting for {what} after {self.timeout:.0f}s")
            time.sleep(0.3)

    # --- printing ---------------------------------------------------------------------------------------
    def heading(self, title: str, name: str) -> str:
        print(f"\n== {title}" + (f": CloneJob {name}" if name else ""), file=self.out, flush=True)
        return name

    def say(self, text: str, indent: bool = False) -> None:
        stamp = f"[{time.monotonic() - self._started:6.1f}s] "
        for index, line in enumerate(text.splitlines() or [""]):
            prefix = stamp if index == 0 and not indent else " " * len(stamp)
            print(prefix + line, file=self.out, flush=True)


def _namespace(name: str) -> Any:
    return kubernetes.client.V1Namespace(metadata=kubernetes.client.V1ObjectMeta(name=name, labels=DEMO_LABELS))
