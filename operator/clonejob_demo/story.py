"""``clonejob-operator demo``: the whole thing working, in one command, on a cluster without KubeVirt, CDI,
a snapshot controller or VolSync: four CloneJobs (a success, a cancel, a failure, and a clone of a MigratingVm
fed by VolSync while VolSync moves on) played on the stage that ``stage.Stage`` sets, with
``standins.Stagehand`` and ``volsync.VolSync`` playing the controllers. What it shows, in the words of
``clonejob-operator demo --help``: ``clonejob_operator.flags.DEMO``.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from kubernetes.client.exceptions import ApiException

from clonejob_demo import standins
from clonejob_demo.stage import DEMO_LABELS, MIGRATING_VM_NAME, DemoError, Stage
from clonejob_demo.volsync import VolSync
from clonejob_kubectl.show import table, timeline
from clonejob_operator.api.states import FINISHED, State
from clonejob_operator.jobs import Job, read_job
from clonejob_operator.kube import (
    CLONE_JOB,
    KUBECONFIG_ERRORS,
    MIGRATING_VM,
    VOLUME_SNAPSHOT,
    Body,
    Kind,
    Kube,
    kubeconfig_problem,
)
from clonejob_operator.names import LABEL_JOB_UID
from clonejob_operator.targets.kubevirt.kinds import DATA_VOLUME, VIRTUAL_MACHINE
from clonejob_operator.timestamps import now

FED_VM, FED_JOB = "web-2", "web-2-test-1"
FED_DISKS = ("boot", "data")


@dataclass
class Demo(Stage):
    """The three stories, played on the stage."""

    _jobs: list[str] = field(default_factory=list)
    _volsync: VolSync | None = None

    # --- the story --------------------------------------------------------------------------------------
    def run(self) -> int:
        self.say(f"clonejob-operator demo: API server {self.kube.configuration.host}, namespace {self.namespace}")
        try:
            self.install()
            with self.operator():
                hand = standins.Stagehand(self.kube, self.namespace)
                try:
                    self.succeed(hand)
                    self.cancel(hand)
                    self.fail(hand)
                    self.fed(hand)
                    self.heading(f"$ kubectl clonejob -n {self.namespace} list", "")
                    jobs = [self.kube.get(CLONE_JOB, self.namespace, name) for name in self._jobs]
                    self.say(table([j for j in jobs if j is not None], now(), namespaces=False), indent=True)
                finally:
                    if not self.keep:  # while the operator runs: it lets the jobs go (and cancels any unfinished)
                        self.remove_jobs()
        finally:
            if not self.keep:
                self.remove()
        self.say(f"done in {time.monotonic() - self._started:.1f}s")
        return 0

    def succeed(self, hand: standins.Stagehand) -> None:
        name = self.heading("1. a clone that succeeds", "web-1-test-1")
        self.create_job(name)
        body = self.follow(name, hand, lambda job: job.status.current == State.SUCCEEDED)
        self.say(timeline(body, now()), indent=True)
        self.events(name)
        uid = body["metadata"]["uid"]
        kept = [f"{k.kind} {p['metadata']['name']}" for k in (DATA_VOLUME, VIRTUAL_MACHINE) for p in self.made(k, uid)]
        self.say(f"the clone: {', '.join(kept)} (from now on the operator never touches them)")

    def cancel(self, hand: standins.Stagehand) -> None:
        name = self.heading("2. a cancel while its disk is being prepared", "web-1-test-2")
        hand.holding.add(name)
        body = self.create_job(name)
        self.follow(name, hand, lambda job: bool(self.made(DATA_VOLUME, body["metadata"]["uid"])) and job.doing != "")
        self.kube.patch(CLONE_JOB, self.namespace, name, {"spec": {"cancel": True}})
        self.say(f'$ kubectl -n {self.namespace} patch cjob {name} --type merge -p \'{{"spec":{{"cancel":true}}}}\'')
        body = self.follow(name, hand, lambda job: job.status.current == State.CANCELLED)
        self.events(name)
        self.left(body)

    def fail(self, hand: standins.Stagehand) -> None:
        name = self.heading("3. a clone whose disk fails", "web-1-test-3")
        hand.failing.add(name)
        self.create_job(name)
        body = self.follow(name, hand, lambda job: job.status.current == State.FAILED)
        error = read_job(body).status.error
        self.say(f"its error: {error.message if error else ''} (code {error.code if error else '?'})")
        self.events(name)
        self.left(body)

    def fed(self, hand: standins.Stagehand) -> None:
        name = self.heading("4. a clone of a MigratingVm fed by VolSync, while VolSync moves on", FED_JOB)
        volsync = self._volsync = VolSync(self.kube, self.namespace, labels=DEMO_LABELS)
        self._fed_migrating_vm(volsync)
        first = self._sync(volsync, 1)
        self.say(f"MigratingVm {FED_VM}: cycle 1 complete, its images held (volsync.backube/do-not-delete)")
        hand.holding.add(name)
        uid = self.create_job(name, FED_VM)["metadata"]["uid"]
        self.follow(name, hand, lambda job: len(self.made(DATA_VOLUME, uid)) == len(FED_DISKS) and job.doing != "")
        self._sync(volsync, 2)
        self.say(f"VolSync moved on; {name} restores from cycle 1 still (VolSync relinquished the images it holds)")
        hand.holding.discard(name)
        self.follow(name, hand, lambda job: job.status.current == State.SUCCEEDED)
        self.wait(lambda: all(self.kube.get(VOLUME_SNAPSHOT, self.namespace, i) is None for i in first), "cycle 1")
        self.say(f"its disks done, {name} let go of {', '.join(first)}: held by nobody any more, they were deleted")

    def _fed_migrating_vm(self, volsync: VolSync) -> None:
        for disk in FED_DISKS:
            volsync.destination(f"{FED_VM}-{disk}")
        disks = [{"disk": disk, "replicationDestination": f"{FED_VM}-{disk}"} for disk in FED_DISKS]
        spec = {"sourceVmId": "vm-2042", "kubevirtTargetDefaults": {}, "replication": {"volSync": {"disks": disks}}}
        meta = {"name": FED_VM, "namespace": self.namespace, "labels": DEMO_LABELS}
        body = {"apiVersion": MIGRATING_VM.api_version, "kind": MIGRATING_VM.kind, "metadata": meta, "spec": spec}
        self.kube.create(MIGRATING_VM, self.namespace, body)
        named = ", ".join(str(d["replicationDestination"]) for d in disks)
        self.say(f"MigratingVm {FED_VM}: spec.replication.volSync names ReplicationDestinations {named}")

    def _sync(self, volsync: VolSync, cycle: int) -> list[str]:
        """Each disk synced once (VolSync played); the cycle's images once the MigratingVm's status names them."""
        images = [volsync.sync(f"{FED_VM}-{disk}") for disk in FED_DISKS]
        self.say(f"  (stand-in VolSync) synced {', '.join(images)}")
        self.wait(lambda: self._last_sync(FED_VM).get("cycleNumber") == cycle, f"cycle {cycle}")
        return images

    def _last_sync(self, name: str) -> Body:
        body = self.kube.get(MIGRATING_VM, self.namespace, name) or {}
        return dict((body.get("status") or {}).get("lastSync") or {})

    def create_job(self, name: str, migrating_vm: str = MIGRATING_VM_NAME) -> Body:
        self._jobs.append(name)
        self.say(f"$ kubectl clonejob -n {self.namespace} create {migrating_vm} --name {name}")
        return self.kube.create(
            CLONE_JOB,
            self.namespace,
            {
                "apiVersion": CLONE_JOB.api_version,
                "kind": CLONE_JOB.kind,
                "metadata": {"name": name, "namespace": self.namespace, "labels": DEMO_LABELS},
                "spec": {"migratingVm": migrating_vm},
            },
        )

    def follow(self, name: str, hand: standins.Stagehand, until: Callable[[Any], bool]) -> Body:
        """Play the controllers and print each change of the job, until ``until(job)``; the last body."""
        deadline, shown = time.monotonic() + self.timeout, ""
        while True:
            self.check_operator()
            body = self.kube.get(CLONE_JOB, self.namespace, name)
            if body is None:
                raise DemoError(f"CloneJob {name} disappeared")
            job = read_job(body)
            line = _progress_line(job)
            if line != shown:
                self.say(line.rstrip())
                shown = line
            if until(job):
                return body
            if job.status.current in FINISHED:
                raise DemoError(f"CloneJob {name} ended {job.status.current.value}: {timeline(body, now())}")
            if time.monotonic() > deadline:
                raise DemoError(f"CloneJob {name} is still {job.status.current.value} after {self.timeout:.0f}s")
            for done in hand.act():
                self.say(f"  (stand-in controller) {done}")
            time.sleep(0.3)

    def events(self, name: str) -> None:
        """The job's Events, as `kubectl events --for cjob/NAME` lists them (where Events can be read)."""
        selector = f"involvedObject.name={name},involvedObject.kind={CLONE_JOB.kind}"
        try:
            listing = self.kube.call(self.kube.core.list_namespaced_event, self.namespace, field_selector=selector)
        except ApiException as error:
            self.say(f"(its Events cannot be read here: API answered {error.status})")
            return
        lines = [f"{e.type:<8} {e.reason:<24} {e.message}" for e in sorted(listing.items, key=_event_order)]
        self.say("\n".join(["Events:", *lines]), indent=True)

    def made(self, kind: Kind, uid: str) -> list[Body]:
        return self.kube.fresh_list(kind, self.namespace, f"{LABEL_JOB_UID}={uid}")

    def left(self, body: Body) -> None:
        uid = body["metadata"]["uid"]
        left = [p["metadata"]["name"] for kind in (DATA_VOLUME, VIRTUAL_MACHINE) for p in self.made(kind, uid)]
        removed = [r.get("name", "") for r in (body.get("status") or {}).get("createdResources") or []]
        if left:
            raise DemoError(f"CloneJob {body['metadata']['name']} left {', '.join(left)} behind")
        self.say(f"cleaned up: {', '.join(removed) or 'nothing was made'} removed, nothing left behind")

    # --- removing what the demo made --------------------------------------------------------------------
    def remove_jobs(self) -> None:
        """Delete the CloneJobs while the operator runs (it lets finished ones go at once), then the clone."""
        self.heading("removing what the demo made", "")
        uids = []
        for name in self._jobs:
            body = self.kube.get(CLONE_JOB, self.namespace, name)
            if body is not None:
                uids.append(body["metadata"]["uid"])
                self.kube.delete(CLONE_JOB, self.namespace, name)
        self.wait(lambda: not self.kube.fresh_list(CLONE_JOB, self.namespace), "the CloneJobs to go")
        for uid in uids:  # the successful clone: the operator leaves it to its owner, here the demo
            for kind in (VIRTUAL_MACHINE, DATA_VOLUME):
                for product in self.made(kind, uid):
                    self.kube.delete(kind, self.namespace, product["metadata"]["name"])
        self.say(f"deleted CloneJobs {', '.join(self._jobs)}, and the clones' VirtualMachines and DataVolumes")
        if self._volsync is not None:  # the operator lets go of what the MigratingVm holds, then it goes
            self.kube.delete(MIGRATING_VM, self.namespace, FED_VM)
            self.wait(lambda: self.kube.get(MIGRATING_VM, self.namespace, FED_VM) is None, f"MigratingVm {FED_VM}")
            self.say(
                f"deleted MigratingVm {FED_VM} (it let go of its images first), and {', '.join(self._volsync.remove())}"
            )


def _progress_line(job: Job) -> str:
    """One line of a job's progress; "created" until the operator has written its first status."""
    if not job.status.state:
        return "created     (the operator has not looked at it yet)"
    step = job.status.current_step.value if job.status.current_step else ""
    return f"{job.status.current.value:<11} {step:<24} {job.status.progress_percent or 0:3d}%  {job.doing}".rstrip()


def _event_order(event: Any) -> tuple[str, str]:
    moment = event.event_time or event.last_timestamp or event.first_timestamp or event.metadata.creation_timestamp
    return (moment.isoformat() if moment else "", event.metadata.name)


def run(
    kubeconfig: str | None,
    context: str | None,
    namespace: str,
    start_operator: bool,
    keep: bool,
    out: TextIO | None = None,
    operator_log: str | None = None,
    play_controllers: bool = False,
) -> int:
    """The ``demo`` command: 0 when all three stories ended as they should and the cleanup is done."""
    stream = out or sys.stdout
    try:
        kube = Kube.from_kubeconfig(kubeconfig, context)
    except KUBECONFIG_ERRORS as error:
        print(f"error: {kubeconfig_problem(kubeconfig, error)}", file=sys.stderr)
        return 1
    args = [*(["--kubeconfig", kubeconfig] if kubeconfig else []), *(["--context", context] if context else [])]
    log = Path(operator_log).resolve() if operator_log else None
    demo = Demo(
        kube,
        namespace,
        stream,
        args,
        start_operator=start_operator,
        keep=keep,
        operator_log=log,
        play_controllers=play_controllers,
    )
    try:
        return demo.run()
    except DemoError as error:
        print(f"error: {error}", file=sys.stderr)
    except ApiException as error:
        print(f"error: the API server answered {error.status} {error.reason}: {error.body}", file=sys.stderr)
    with suppress(Exception):
        stream.flush()
    return 1
