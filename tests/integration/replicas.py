"""``clonejob-operator run --leader-elect`` as its own process: its log read line by line as it comes."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from tests.integration.kit import wait_for
from tests.integration.sealing import seal_key_flag

LEASE_DURATION = 4
"""Short timings, so that a takeover takes seconds (the defaults are controller-runtime's 15/10/2)."""
FAST_LEASE = [
    "--leader-elect-lease-duration",
    f"{LEASE_DURATION}s",
    "--leader-elect-renew-deadline",
    "3s",
    "--leader-elect-retry-period",
    "1s",
]
LEADING = re.compile(r"leading as (\S+) \(Lease")
WAITING = re.compile(r"waiting to lead: Lease \S+, as (\S+)")
LOST = "lost the Lease"


def run_command(kubeconfig: str, namespace: str, *flags: str) -> list[str]:
    """``clonejob-operator run`` on the test's cluster and namespace, as users run it (the resync far away)."""
    cli = [sys.executable, "-m", "clonejob_operator.cli", "run", "--kubeconfig", kubeconfig, "-n", namespace]
    return [*cli, "--resync-interval", "60", *seal_key_flag(), *flags]


def terminate(process: subprocess.Popen[str]) -> None:
    """SIGTERM, as Kubernetes stops a pod; SIGKILL after 30 s without an exit."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


def child_env() -> dict[str, str]:
    """The test's environment without an ambient KUBECONFIG: the process uses only the cluster it is given."""
    return {k: v for k, v in os.environ.items() if k != "KUBECONFIG"}


class Replica:
    def __init__(self, kubeconfig: str, namespace: str, log: Path, *extra: str) -> None:
        election = ["--leader-elect", "--leader-elect-namespace", namespace, *FAST_LEASE]
        command = run_command(kubeconfig, namespace, *election, "--log-format", "plain", *extra)
        env = child_env()
        self.log = log
        self.lines: list[tuple[float, str]] = []
        """(time.monotonic() when the line came, the line)."""
        self.process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, text=True, bufsize=1
        )
        assert self.process.stdout is not None
        self._reader = threading.Thread(target=self._read, args=(self.process.stdout,), daemon=True)
        self._reader.start()

    def _read(self, stream: IO[str]) -> None:
        with open(self.log, "a") as out:
            for line in stream:
                self.lines.append((time.monotonic(), line.rstrip("\n")))
                out.write(line)
                out.flush()

    @property
    def identity(self) -> str:
        found = wait_for(lambda: self._first(WAITING), 30, f"{self.log.name} to name itself")
        return found[1]

    def _first(self, pattern: re.Pattern[str]) -> tuple[float, str] | None:
        for at, line in list(self.lines):
            match = pattern.search(line)
            if match:
                return at, match.group(1)
        return None

    def terms(self) -> list[float]:
        """When each of its terms as the leader began."""
        return [at for at, line in list(self.lines) if LEADING.search(line)]

    def leading(self) -> bool:
        """Whether its last word was that it leads."""
        said = [line for _, line in list(self.lines) if LEADING.search(line) or LOST in line]
        return bool(said) and LEADING.search(said[-1]) is not None

    def said(self, text: str) -> list[tuple[float, str]]:
        return [(at, line) for at, line in list(self.lines) if text in line]

    def text(self) -> str:
        return "\n".join(line for _, line in list(self.lines))

    def kill(self) -> float:
        """SIGKILL: no cleanup, no release of the Lease. Returns when it was sent."""
        at = time.monotonic()
        self.process.send_signal(signal.SIGKILL)
        assert self.process.wait(10) == -signal.SIGKILL
        return at

    def stop(self) -> None:
        terminate(self.process)
        self._reader.join(5)


def leader(replicas: list[Replica], timeout: float = 30) -> Replica:
    """The one replica that says it leads (and no other)."""

    def one() -> Replica | None:
        leading = [r for r in replicas if r.process.poll() is None and r.leading()]
        return leading[0] if len(leading) == 1 else None

    return wait_for(one, timeout, "exactly one replica to lead")


@contextmanager
def operator_process(kubeconfig: str, namespace: str, log: Path, *extra: str) -> Iterator[subprocess.Popen[bytes]]:
    """``clonejob-operator run`` as users run it, in its own process."""
    command = run_command(kubeconfig, namespace, "--standalone", *extra)
    env = child_env()
    with open(log, "ab") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(10)
