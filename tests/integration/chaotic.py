"""What chaos runs against: CDI and KubeVirt played with random delays and failures, an operator process
that is killed and started again, and a cluster with a history of other jobs' products."""

from __future__ import annotations

import functools
import random
import signal
import subprocess
import threading
import time
from collections import Counter
from pathlib import Path
from typing import IO, Any

from bench.watching import Follower
from kubernetes.client.exceptions import ApiException

from clonejob_operator import names
from clonejob_operator.kube import Kind, Kube
from clonejob_operator.targets.kubevirt.kinds import DATA_VOLUME, VIRTUAL_MACHINE
from tests.integration.kit import SOMEBODY_ELSES, World
from tests.integration.replicas import child_env, run_command, terminate

NOISE_PREFIX = "noise-"


class ChaosInfrastructure:
    """Marks each product of a job ready after a random delay, and fails some DataVolumes instead."""

    def __init__(self, kube: Kube, namespace: str, rng: random.Random, fail_rate: float, most_delay: float) -> None:
        self.kube, self.namespace, self.rng = kube, namespace, rng
        self.fail_rate, self.most_delay = fail_rate, most_delay
        self.failed = 0
        self._scheduled: set[str] = set()
        self._lock = threading.Lock()
        self._timers: list[threading.Timer] = []
        self._followers = [
            Follower(kube, kind, namespace, functools.partial(self._seen, kind), Counter())
            for kind in (DATA_VOLUME, VIRTUAL_MACHINE)
        ]

    def _seen(self, kind: Kind, type_: str, body: dict[str, Any]) -> None:
        meta = body["metadata"]
        if type_ == "DELETED" or meta.get("deletionTimestamp") or meta["name"].startswith(NOISE_PREFIX):
            return
        if names.LABEL_JOB_UID not in (meta.get("labels") or {}) or body.get("status"):
            return
        with self._lock:
            if meta["uid"] in self._scheduled:
                return
            self._scheduled.add(meta["uid"])
            delay = self.rng.uniform(0, self.most_delay)
            fail = kind is DATA_VOLUME and self.rng.random() < self.fail_rate
        timer = threading.Timer(delay, self._mark, args=(kind, meta["name"], meta["uid"], fail))
        timer.daemon = True
        self._timers.append(timer)
        timer.start()

    def _mark(self, kind: Kind, name: str, uid: str, fail: bool) -> None:
        if kind is DATA_VOLUME:
            phase = "Failed" if fail else "Succeeded"
            status: dict[str, Any] = {"phase": phase, "progress": "100.0%" if not fail else "N/A"}
            if fail:
                status["conditions"] = [{"type": "Ready", "status": "False", "message": "chaos: the import failed"}]
                self.failed += 1
        else:
            status = {"created": True, "ready": True, "printableStatus": "Running"}
        current = self.kube.get(kind, self.namespace, name)
        if current is None or current["metadata"]["uid"] != uid:
            return  # deleted, or made again meanwhile (then its own event schedules it)
        try:
            self.kube.patch_status(kind, self.namespace, name, {"status": status})
        except ApiException as error:
            if error.status != 404:
                raise

    def __enter__(self) -> ChaosInfrastructure:
        for follower in self._followers:
            follower.start()
        return self

    def __exit__(self, *_: object) -> None:
        for follower in self._followers:
            follower.stop()
        for timer in self._timers:
            timer.cancel()


def leftovers(world: World, count: int, rng: random.Random) -> dict[str, str]:
    """Products of jobs long gone (a cluster with a history of clones): name -> resourceVersion."""
    out = {}
    for index in range(count):
        labels = {names.LABEL_JOB_UID: f"gone-{rng.getrandbits(64):016x}", names.LABEL_MIGRATING_VM: "mvm-0"}
        kind = DATA_VOLUME if index % 2 == 0 else VIRTUAL_MACHINE
        made = world.create(kind, f"{NOISE_PREFIX}{index}", SOMEBODY_ELSES[kind], labels=labels)
        out[f"{kind.kind}/{made['metadata']['name']}"] = made["metadata"]["resourceVersion"]
    return out


class KilledOperator:
    """``clonejob-operator run --standalone`` in its own process: SIGKILLed (no cleanup) and started again."""

    def __init__(self, kubeconfig: str, namespace: str, log: Path, *flags: str) -> None:
        self.command = run_command(kubeconfig, namespace, "--standalone", "--log-format", "plain", *flags)
        self.log = log
        self.kills = 0
        self.lines: list[tuple[float, str]] = []
        self.process: subprocess.Popen[str] | None = None
        self._readers: list[threading.Thread] = []

    def start(self) -> None:
        self.process = subprocess.Popen(
            self.command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=child_env(), text=True, bufsize=1
        )
        assert self.process.stdout is not None
        reader = threading.Thread(target=self._read, args=(self.process.stdout,), daemon=True)
        reader.start()
        self._readers.append(reader)

    def _read(self, stream: IO[str]) -> None:
        with open(self.log, "a") as out:
            for line in stream:
                self.lines.append((time.monotonic(), line.rstrip("\n")))
                out.write(line)

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)
        self.kills += 1

    def stop(self) -> None:
        if self.process is not None:
            terminate(self.process)
        for reader in self._readers:
            reader.join(5)

    def __enter__(self) -> KilledOperator:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()
