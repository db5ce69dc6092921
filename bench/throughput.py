"""Throughput of clonejob-operator at N concurrent CloneJobs, against the raw API limit.

    python -m bench.throughput --jobs N [--kubeconfig PATH] [--output FILE.json] [--idle SECONDS]

1. N MigratingVms, each with one or two ready VolumeSnapshots (not timed).
2. The operator runs as a real process (``clonejob-operator run``), watching one namespace.
3. A fake infrastructure marks DataVolumes Succeeded and VirtualMachines ready through watches.
   With ``--volsync`` the MigratingVms are fed by (stand-in) VolSync ReplicationDestinations instead: the
   operator publishes their first cycles before the clock starts, and each job holds and lets go of its images.
4. N CloneJobs are created by 8 concurrent creators; the run ends when all are SUCCEEDED.

It reports wall time, jobs/s, latencies (create to SUCCEEDED, and each transition the operator
reacts to), the operator's API requests per job (the API server's own ``apiserver_request_total``,
less what the fake, the creators and the benchmark's watch sent), and the operator's peak RSS and CPU.
The baseline, in the same run: a bare client makes exactly the operator's writes per job, with the
same concurrency and the fake running. With ``--idle S``, N more jobs are left waiting (half of them
on a product that never becomes ready, half queued behind them) and the operator's CPU over S
seconds of nothing changing is measured.

Without ``--kubeconfig`` it starts a local control plane with the ``cluster`` script found beside the
checkout (``../shared/k8s/cluster``), or set ``CLONEJOB_BENCH_CLUSTER`` to such a script.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import kubernetes
from kubernetes.client.exceptions import ApiException

from bench.counting import CountingKube, Tally, minus, server_counts
from bench.fake import FakeInfrastructure
from bench.watching import Follower
from clonejob_demo import standins
from clonejob_operator import crdgen, names
from clonejob_operator.api.kubevirt import KubevirtTargetDetails
from clonejob_operator.kube import CLONE_JOB, MIGRATING_VM, Kube
from clonejob_operator.sources.volsync.kinds import REPLICATION_DESTINATION
from clonejob_operator.targets.kubevirt import manifests as build
from clonejob_operator.targets.kubevirt.kinds import DATA_VOLUME, VIRTUAL_MACHINE, VOLUME_SNAPSHOT

ROOT = Path(__file__).resolve().parent.parent
WRITES = ("POST", "PATCH", "PUT", "DELETE", "APPLY")
READS = ("GET", "LIST")
CREATORS = 8
REACTIONS_EXCLUDED = ("create -> SUCCEEDED", "create -> PENDING")


# --- the cluster ---------------------------------------------------------------------------------------
@contextmanager
def cluster(kubeconfig: str | None, full: bool = False) -> Iterator[str]:
    if kubeconfig:
        yield kubeconfig
        return
    script = Path(os.environ.get("CLONEJOB_BENCH_CLUSTER") or ROOT.parent / "shared" / "k8s" / "cluster")
    if not script.exists():
        sys.exit("no cluster: pass --kubeconfig, or set CLONEJOB_BENCH_CLUSTER to a control-plane script")
    where = Path(tempfile.mkdtemp(prefix="bench-cluster-"))
    out = subprocess.run(
        [sys.executable, str(script), "up", *(["--full"] if full else []), "--dir", str(where / "c")],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    path = next(line.split("=", 1)[1].strip().strip("'\"") for line in out.splitlines() if "KUBECONFIG=" in line)
    try:
        yield path
    finally:
        subprocess.run([sys.executable, str(script), "down", "--dir", str(where / "c")], check=False)


def install_crds(kube: Kube) -> None:
    api = kubernetes.client.ApiextensionsV1Api(kube.api_client)
    docs: list[Any] = [*crdgen.all_crds().values(), *standins.crds()]
    for doc in docs:
        try:
            current = api.read_custom_resource_definition(doc["metadata"]["name"])
        except ApiException as error:
            if error.status != 404:
                raise
            api.create_custom_resource_definition(doc)
            continue
        if not standins.is_stand_in(doc):
            doc["metadata"]["resourceVersion"] = current.metadata.resource_version  # type: ignore[union-attr]
            api.replace_custom_resource_definition(doc["metadata"]["name"], doc)
    for doc in docs:
        wait(lambda d=doc: _established(api, d["metadata"]["name"]), 60, f"CRD {doc['metadata']['name']}")  # type: ignore[misc]


def _established(api: Any, name: str) -> bool:
    crd = api.read_custom_resource_definition(name)
    return any(c.type == "Established" and c.status == "True" for c in crd.status.conditions or [])


def wait(probe: Callable[[], Any], timeout: float, what: str, every: float = 0.2) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = probe()
        if result:
            return result
        time.sleep(every)
    raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")


# --- the world: MigratingVms with ready snapshots ------------------------------------------------------
def disks_of(index: int) -> int:
    return 1 + index % 2


def set_up(kube: Kube, namespace: str, count: int, synced: bool = True, volsync: bool = False) -> None:
    """The namespace, and ``count`` MigratingVms mvm-I, each with one or two ready VolumeSnapshots (the same
    work per run). A server that serves no namespaces (a CRD-only one) refuses with 403 and needs none.
    With ``volsync``, each disk's snapshot is the latest image of a ReplicationDestination of its own, and the
    MigratingVm is fed by them (the operator keeps its status)."""
    try:
        kube.core.create_namespace(
            kubernetes.client.V1Namespace(metadata=kubernetes.client.V1ObjectMeta(name=namespace))
        )
    except ApiException as error:
        if error.status not in (403, 409):
            raise

    def one(index: int) -> None:
        name = f"mvm-{index}"
        snapshots, disks = [], []
        for disk in range(disks_of(index)):
            snap = f"{name}-d{disk}"
            owner = _destination(kube, namespace, snap, volsync)
            body = manifest(VOLUME_SNAPSHOT, namespace, snap, {"source": {}})
            body["metadata"]["ownerReferences"] = [owner] if owner else []
            kube.create(VOLUME_SNAPSHOT, namespace, body)
            kube.patch_status(VOLUME_SNAPSHOT, namespace, snap, {"status": {"readyToUse": True, "restoreSize": "1Gi"}})
            if owner:
                latest = {"apiGroup": VOLUME_SNAPSHOT.group, "kind": VOLUME_SNAPSHOT.kind, "name": snap}
                status = {"latestImage": latest, "lastSyncTime": "2026-11-26T10:00:00Z"}
                kube.patch_status(REPLICATION_DESTINATION, namespace, snap, {"status": status})
            snapshots.append({"disk": f"disk-{disk}", "volumeSnapshot": snap, "sizeBytes": 2**30})
            disks.append({"disk": f"disk-{disk}", "replicationDestination": snap})
        spec: dict[str, Any] = {"sourceVmId": f"vm-{index}", "kubevirtTargetDefaults": {}}
        if volsync:
            spec["replication"] = {"volSync": {"disks": disks}}
        kube.create(MIGRATING_VM, namespace, manifest(MIGRATING_VM, namespace, name, spec))
        if synced and not volsync:
            sync = {"lastSyncTime": "2026-11-26T10:00:00Z", "cycleNumber": 1, "snapshots": snapshots}
            kube.patch_status(MIGRATING_VM, namespace, name, {"status": {"state": "ACTIVE", "lastSync": sync}})

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(one, range(count)))


def _destination(kube: Kube, namespace: str, name: str, volsync: bool) -> dict[str, Any] | None:
    """With ``volsync``: a ReplicationDestination ``name``, as the owner reference its images carry."""
    if not volsync:
        return None
    spec = {"rsyncTLS": {"copyMethod": "Snapshot", "capacity": "1Gi", "accessModes": ["ReadWriteOnce"]}}
    made = kube.create(REPLICATION_DESTINATION, namespace, manifest(REPLICATION_DESTINATION, namespace, name, spec))
    return {"apiVersion": made["apiVersion"], "kind": made["kind"], "name": name, "uid": made["metadata"]["uid"]}


def fed(kube: Kube, namespace: str) -> int:
    """How many of the MigratingVms the operator has published a cycle of (a VolSync-fed run waits for all)."""
    return sum(1 for m in kube.list(MIGRATING_VM, namespace) if (m.get("status") or {}).get("lastSync"))


def manifest(kind: Any, namespace: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": kind.api_version,
        "kind": kind.kind,
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    }


def tear_down(kube: Kube, namespace: str) -> None:
    try:
        _tear_down_objects(kube, namespace)
    finally:
        with suppress(ApiException):  # a CRD-only server has no namespaces to delete
            kube.core.delete_namespace(namespace)


def _tear_down_objects(kube: Kube, namespace: str) -> None:
    for kind in (CLONE_JOB, VIRTUAL_MACHINE, DATA_VOLUME, MIGRATING_VM, VOLUME_SNAPSHOT, REPLICATION_DESTINATION):
        try:
            kube.custom.delete_collection_namespaced_custom_object(kind.group, kind.version, namespace, kind.plural)
        except ApiException as error:
            print(f"cleanup of {kind.plural} in {namespace}: {error.status}", file=sys.stderr)
        for item in kube.list(kind, namespace):  # those held by our finalizer
            if item["metadata"].get("finalizers"):
                with suppress(ApiException):
                    kube.patch(kind, namespace, item["metadata"]["name"], {"metadata": {"finalizers": None}})


# --- the operator, as a process ------------------------------------------------------------------------
@dataclass
class Usage:
    cpu_seconds: float = 0.0
    peak_rss_mib: float = 0.0


class OperatorProcess:
    def __init__(
        self,
        kubeconfig: str,
        namespace: str,
        source: str | None,
        extra: list[str],
        log: Path,
        profile: str | None,
        leader_elect: bool = False,
    ) -> None:
        self.port = _free_port()
        wrapper = (
            ["py-spy", "record", "--gil", "--format", "raw", "--rate", "100", "-o", profile, "--"] if profile else []
        )
        command = [
            *wrapper,
            sys.executable,
            "-m",
            "clonejob_operator.cli",
            "run",
            "--kubeconfig",
            kubeconfig,
            "-n",
            namespace,
            *(["--leader-elect", "--leader-elect-namespace", namespace] if leader_elect else ["--standalone"]),
            "--log-format",
            "plain",
            "--liveness",
            f"http://127.0.0.1:{self.port}/healthz",
            *extra,
        ]
        env = {k: v for k, v in os.environ.items() if k != "KUBECONFIG"}
        env.setdefault("XDG_CONFIG_HOME", str(log.parent))  # a sealing key of the run's own, not the user's
        if source:
            env["PYTHONPATH"] = str(Path(source) / "operator")
        self._log = open(log, "ab")  # noqa: SIM115 (kept open for the process's lifetime)
        self.process = subprocess.Popen(command, stdout=self._log, stderr=subprocess.STDOUT, env=env)
        self.pid = self.process.pid
        if profile:  # py-spy runs the operator as its child: measure the operator, not the profiler
            wait(lambda: _child(self.process.pid), 30, "the profiled operator to start")
            self.pid = _child(self.process.pid) or self.pid

    def wait_ready(self, timeout: float = 120) -> None:
        def up() -> bool:
            if self.process.poll() is not None:
                raise RuntimeError(f"the operator exited with {self.process.returncode}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=1) as answer:
                    said = json.loads(answer.read() or b"{}")
            except (OSError, ValueError):
                return False
            return bool(said.get("leading", True))  # with leader election: once it leads (older versions: up)

        wait(up, timeout, "the operator's liveness endpoint to say it acts")

    def cpu(self) -> float:
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def usage(self) -> Usage:
        status = Path(f"/proc/{self.pid}/status").read_text()
        hwm = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:"))
        return Usage(cpu_seconds=round(self.cpu(), 1), peak_rss_mib=round(hwm / 1024, 1))

    def stop(self) -> None:
        if self.process.poll() is None:
            os.kill(self.pid, signal.SIGTERM)  # the operator itself (a profiler then writes its samples)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self._log.close()


def _child(pid: int) -> int | None:
    children = Path(f"/proc/{pid}/task/{pid}/children")
    text = children.read_text().split() if children.exists() else []
    return int(text[0]) if text else None


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- watching the jobs --------------------------------------------------------------------------------
class JobWatcher:
    """When each CloneJob was first seen in each state (and its second step), from one watch."""

    def __init__(self, kube: Kube, namespace: str) -> None:
        self.seen: dict[str, dict[str, float]] = defaultdict(dict)
        self.succeeded = 0
        self.requests: Tally = Counter()
        self._lock = threading.Lock()
        self._follower = Follower(kube, CLONE_JOB, namespace, lambda type_, body: self._record(body), self.requests)

    def __enter__(self) -> JobWatcher:
        self._follower.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._follower.stop()

    def _record(self, body: dict[str, Any]) -> None:
        now = time.monotonic()
        name = body["metadata"]["name"]
        status = body.get("status") or {}
        marks = []
        if status.get("state"):
            marks.append(status["state"])
        if status.get("currentStep"):
            marks.append(f"step:{status['currentStep']}")
        with self._lock:
            seen = self.seen[name]
            for mark in marks:
                if mark not in seen:
                    seen[mark] = now
                    if mark == "SUCCEEDED":
                        self.succeeded += 1

    def count(self, state: str) -> int:
        with self._lock:
            return sum(1 for marks in self.seen.values() if state in marks)


def percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    ordered = sorted(values)

    def at(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 3)

    return {"p50": at(0.50), "p90": at(0.90), "p99": at(0.99), "max": round(ordered[-1], 3), "n": len(ordered)}


# --- one run of the operator -----------------------------------------------------------------------------
@dataclass
class Run:
    jobs: int
    finished: int = 0
    wall_s: float = 0.0
    jobs_per_s: float = 0.0
    latency_s: dict[str, dict[str, float]] = field(default_factory=dict)
    requests: dict[str, int] = field(default_factory=dict)
    writes_per_job: float = 0.0
    events_per_job: float = 0.0
    reads_per_job: float = 0.0
    lease_requests: int = 0
    """Leader election's own requests (GET and PUT of the Lease), kept out of the per-job figures."""
    usage: Usage = field(default_factory=Usage)


def create_jobs(kube: CountingKube, namespace: str, count: int, created: dict[str, float]) -> None:
    def one(index: int) -> None:
        name = f"cj-{index}"
        created[name] = time.monotonic()
        kube.create(CLONE_JOB, namespace, manifest(CLONE_JOB, namespace, name, {"migratingVm": f"mvm-{index}"}))

    with ThreadPoolExecutor(CREATORS) as pool:
        list(pool.map(one, range(count)))


def operator_run(args: argparse.Namespace, kubeconfig: str, base: Kube, workdir: Path) -> tuple[Run, Tally]:
    namespace = f"bench-{uuid.uuid4().hex[:6]}"
    set_up(base, namespace, args.jobs, volsync=args.volsync)
    fake_kube, creators = CountingKube(base), CountingKube(base)
    run = Run(jobs=args.jobs)
    created: dict[str, float] = {}
    operator = OperatorProcess(
        kubeconfig,
        namespace,
        args.operator_source,
        args.operator_arg,
        workdir / "operator.log",
        args.profile,
        leader_elect=args.leader_elect,
    )
    try:
        with FakeInfrastructure(fake_kube, namespace) as fake, JobWatcher(base, namespace) as jobs:
            operator.wait_ready()
            if args.volsync:  # not timed: the operator holds and publishes each MigratingVm's first cycle
                wait(lambda: fed(base, namespace) >= args.jobs, args.timeout, "every first cycle", every=1)
            before = server_counts(base)
            started = time.monotonic()
            create_jobs(creators, namespace, args.jobs, created)
            with suppress(TimeoutError):
                wait(lambda: jobs.succeeded >= args.jobs, args.timeout, "every CloneJob to succeed", every=0.25)
            run.finished = jobs.succeeded
            ends = [marks["SUCCEEDED"] for marks in jobs.seen.values() if "SUCCEEDED" in marks]
            run.wall_s = round((max(ends) if ends else time.monotonic()) - started, 2)
            run.usage = operator.usage()
            after = server_counts(base)
            ready = dict(fake.ready_at)
        operator_tally = minus(after, before, fake_kube.tally, creators.tally, jobs.requests)
    finally:
        operator.stop()
        tear_down(base, namespace)
    run.jobs_per_s = round(run.finished / run.wall_s, 2) if run.wall_s else 0.0
    run.latency_s = _latencies(jobs.seen, created, ready)
    run.requests = {f"{verb} {resource}": n for (verb, resource), n in sorted(operator_tally.items())}
    writes = sum(
        n for (verb, resource), n in operator_tally.items() if verb in WRITES and resource not in ("events", "leases")
    )
    run.lease_requests = sum(n for (_, resource), n in operator_tally.items() if resource == "leases")
    run.writes_per_job = round(writes / args.jobs, 2)
    run.events_per_job = round(operator_tally[("POST", "events")] / args.jobs, 2)
    run.reads_per_job = round(sum(n for (verb, _), n in operator_tally.items() if verb in READS) / args.jobs, 2)
    return run, operator_tally


def _latencies(
    seen: dict[str, dict[str, float]], created: dict[str, float], ready: dict[tuple[str, str], float]
) -> dict[str, dict[str, float]]:
    spans: dict[str, list[float]] = defaultdict(list)
    for name, marks in seen.items():
        if name not in created:
            continue
        index = int(name.rsplit("-", 1)[1])
        disks = [ready.get(("datavolumes", f"{name}-disk-{d}"), float("inf")) for d in range(disks_of(index))]
        vm = ready.get(("virtualmachines", name), float("inf"))
        for label, start, end in (
            ("create -> SUCCEEDED", created[name], marks.get("SUCCEEDED")),
            ("create -> PENDING", created[name], marks.get("PENDING")),
            ("PENDING -> ACTIVE", marks.get("PENDING"), marks.get("ACTIVE")),
            ("disks ready -> instantiatingMigratedVm", max(disks), marks.get("step:instantiatingMigratedVm")),
            ("VM ready -> SUCCEEDED", vm, marks.get("SUCCEEDED")),
        ):
            if start is not None and end is not None and start != float("inf"):
                spans[label].append(max(0.0, end - start))
    out = {label: percentiles(values) for label, values in spans.items()}
    transitions = [v for label, values in spans.items() if label != "create -> SUCCEEDED" for v in values]
    out["any transition"] = percentiles(transitions)
    # Reactions to a change of the world (a product ready, a slot free), as opposed to the first look at a
    # new job, which waits behind every job created before it when they come in a burst.
    reactions = [v for label, values in spans.items() if label not in REACTIONS_EXCLUDED for v in values]
    out["reaction to a change"] = percentiles(reactions)
    return out


# --- the bare client: the operator's writes, and nothing else -----------------------------------------
def bare_run(args: argparse.Namespace, base: Kube, operator_tally: Tally) -> float:
    """Wall time for a bare client making the operator's writes per job, 8 at a time, with the fake running."""
    namespace = f"bench-bare-{uuid.uuid4().hex[:6]}"
    set_up(base, namespace, args.jobs)
    per_job = {
        key: max(0, round(n / args.jobs))
        for key, n in operator_tally.items()
        if key[0] in WRITES and key[1] not in ("events", "datavolumes", "virtualmachines")
    }
    vms = round(operator_tally[("POST", "virtualmachines")] / args.jobs)
    details = KubevirtTargetDetails(vm_name="x")
    kube = CountingKube(base)
    try:
        with FakeInfrastructure(CountingKube(base), namespace):
            started = time.monotonic()
            with ThreadPoolExecutor(CREATORS) as pool:
                list(pool.map(lambda i: _bare_job(kube, namespace, i, per_job, vms, details), range(args.jobs)))
            return round(time.monotonic() - started, 2)
    finally:
        tear_down(base, namespace)


def _bare_job(
    kube: Kube, namespace: str, index: int, per_job: dict[tuple[str, str], int], vms: int, details: Any
) -> None:
    name, mvm = f"cj-{index}", f"mvm-{index}"
    body = kube.create(CLONE_JOB, namespace, manifest(CLONE_JOB, namespace, name, {"migratingVm": mvm}))
    uid = body["metadata"]["uid"]
    labels = names.product_labels(name, uid, mvm)
    stamp = "2026-11-26T10:00:00Z"
    for step in range(per_job.get(("PATCH", "clonejobs"), 0)):
        kube.patch(CLONE_JOB, namespace, name, {"metadata": {"annotations": {"bench/step": str(step)}}})
    states = ["PENDING", "ACTIVE", "ACTIVE", "SUCCEEDED"]
    for step in range(per_job.get(("PATCH", "clonejobs/status"), 0)):
        state = states[min(step, len(states) - 1)]
        kube.patch_status(CLONE_JOB, namespace, name, {"status": {"state": state, "stateTime": stamp}})
    entry = {"name": names.resource_name(namespace, mvm, name), "uid": uid, "state": "ACTIVE"}
    for _ in range(per_job.get(("PATCH", "migratingvms/status"), 0)):
        kube.patch_status(MIGRATING_VM, namespace, mvm, {"status": {"recentCloneJobs": [entry]}})
    disks = [build.Disk(d, f"{name}-disk-{d}", f"{mvm}-d{d}", "1Gi") for d in range(disks_of(index))]
    for disk in disks:
        kube.create(DATA_VOLUME, namespace, build.data_volume(details, namespace, disk, labels))
    for step in range(per_job.get(("PATCH", "volumesnapshots"), 0)):  # a VolSync-fed job's holds and releases
        held = {"metadata": {"annotations": {"bench/held": str(step)}}}
        kube.patch(VOLUME_SNAPSHOT, namespace, f"{mvm}-d{step % disks_of(index)}", held)
    for _ in range(vms):
        vm = KubevirtTargetDetails(vm_name=name, memory="2Gi", run_strategy="Always", disk_bus="virtio")
        kube.create(VIRTUAL_MACHINE, namespace, build.virtual_machine(vm, namespace, disks, labels))


# --- jobs that wait --------------------------------------------------------------------------------------
def idle_run(args: argparse.Namespace, kubeconfig: str, base: Kube, workdir: Path) -> dict[str, Any]:
    """N jobs that wait with nothing changing: half on a DataVolume that never gets ready, half queued."""
    namespace = f"bench-idle-{uuid.uuid4().hex[:6]}"
    pairs = max(1, args.jobs // 2)
    set_up(base, namespace, pairs)
    operator = OperatorProcess(
        kubeconfig, namespace, args.operator_source, args.operator_arg, workdir / "idle.log", None
    )
    try:
        with JobWatcher(base, namespace) as jobs:
            operator.wait_ready()
            creators = CountingKube(base)

            def two(index: int) -> None:
                for suffix in ("a", "b"):
                    body = manifest(CLONE_JOB, namespace, f"cj-{index}{suffix}", {"migratingVm": f"mvm-{index}"})
                    creators.create(CLONE_JOB, namespace, body)

            with ThreadPoolExecutor(CREATORS) as pool:
                list(pool.map(two, range(pairs)))
            wait(lambda: jobs.count("ACTIVE") >= pairs, args.timeout, "the first job of each pair to start")
            wait(lambda: jobs.count("PENDING") >= 2 * pairs, args.timeout, "every job to be recorded")
            time.sleep(5)  # let the last writes settle before measuring (measured, not waited on)
            cpu_before, before = operator.cpu(), server_counts(base)
            time.sleep(args.idle)
            cpu, after = operator.cpu() - cpu_before, server_counts(base)
            moved = minus(after, before, jobs.requests)
    finally:
        operator.stop()
        tear_down(base, namespace)
    return {
        "waiting_jobs": 2 * pairs,
        "seconds": args.idle,
        "cpu_seconds": round(cpu, 2),
        "core_percent": round(100 * cpu / args.idle, 2),
        "requests": {f"{verb} {resource}": n for (verb, resource), n in sorted(moved.items())},
    }


# --- report ---------------------------------------------------------------------------------------------
def table(run: Run, bare_s: float | None, idle: dict[str, Any] | None) -> str:
    ratio = f"{run.wall_s / bare_s:.2f}" if bare_s else "-"
    lines = [
        f"jobs {run.jobs} (finished {run.finished})",
        "| operator wall | bare client | ratio | jobs/s | p99 create->SUCCEEDED | p99 transition (reaction) "
        "| writes/job (+Events) | GET+LIST/job | peak RSS | CPU |",
        "|---|---|---|---|---|---|---|---|---|---|",
        f"| {run.wall_s} s | {bare_s if bare_s is not None else '-'} s | {ratio} | {run.jobs_per_s} "
        f"| {run.latency_s.get('create -> SUCCEEDED', {}).get('p99', '-')} s "
        f"| {run.latency_s.get('any transition', {}).get('p99', '-')} s "
        f"({run.latency_s.get('reaction to a change', {}).get('p99', '-')} s) "
        f"| {run.writes_per_job} (+{run.events_per_job}) | {run.reads_per_job} "
        f"| {run.usage.peak_rss_mib} MiB | {run.usage.cpu_seconds} s |",
        "",
        "latency (s)        " + "  ".join(f"{k}: {v}" for k, v in run.latency_s.items()),
        "operator requests  " + ", ".join(f"{k}: {v}" for k, v in run.requests.items()),
    ]
    if run.lease_requests:
        lines.append(f"leader election: {run.lease_requests} Lease requests (not in the per-job figures)")
    if idle:
        lines.append(
            f"idle: {idle['waiting_jobs']} waiting jobs, {idle['core_percent']}% of a core over {idle['seconds']} s; "
            f"requests {idle['requests']}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.throughput", description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, required=True)
    parser.add_argument("--kubeconfig", help="a cluster to use (default: start a local control plane)")
    parser.add_argument("--output", help="write the results as JSON here")
    parser.add_argument("--timeout", type=float, default=900, help="give up waiting after this many seconds")
    parser.add_argument("--no-baseline", action="store_true", help="skip the bare-client run")
    parser.add_argument("--idle", type=float, default=0, metavar="SECONDS", help="also measure N waiting jobs")
    parser.add_argument("--operator-source", help="run the operator from this checkout (to compare versions)")
    parser.add_argument("--operator-arg", action="append", default=[], help="an extra flag for the operator")
    parser.add_argument(
        "--leader-elect",
        action="store_true",
        help="run the operator with --leader-elect (one replica): the Lease's cost",
    )
    parser.add_argument(
        "--full-server", action="store_true", help="start a full API server (core, RBAC, Leases), not CRDs only"
    )
    parser.add_argument("--profile", metavar="FILE", help="sample the operator with py-spy into FILE (raw format)")
    parser.add_argument(
        "--volsync",
        action="store_true",
        help="MigratingVms fed by VolSync (stand-in ReplicationDestinations): the jobs hold and let go of images",
    )
    args = parser.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="bench-"))
    with cluster(args.kubeconfig, full=args.full_server or args.leader_elect) as kubeconfig:
        base = Kube.from_kubeconfig(kubeconfig)
        install_crds(base)
        run, tally = operator_run(args, kubeconfig, base, workdir)
        bare = None if args.no_baseline or not run.finished else bare_run(args, base, tally)
        idle = idle_run(args, kubeconfig, base, workdir) if args.idle else None
    print(table(run, bare, idle))
    result = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "command": " ".join(["python -m bench.throughput", *(argv if argv is not None else sys.argv[1:])]),
        "operator": asdict(run),
        "bare_wall_s": bare,
        "ratio": round(run.wall_s / bare, 2) if bare else None,
        "idle": idle,
        "operator_log": str(workdir / "operator.log"),
    }
    if args.output:
        Path(args.output).write_text(json.dumps(result, indent=2) + "\n")
    return 0 if run.finished == run.jobs else 1


if __name__ == "__main__":
    sys.exit(main())
