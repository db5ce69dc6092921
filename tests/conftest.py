"""Test settings. Cluster tests use only the cluster named for them, never an ambient KUBECONFIG.

    CLONEJOB_TEST_KUBECONFIG=/path/to/kubeconfig pytest      (or: pytest --cluster-kubeconfig=PATH)

Without it, cluster tests skip and say why. CLONEJOB_TEST_REQUIRE_CLUSTER=1 turns that skip into a failure
(CI sets it, so that the integration tests can never silently not run).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile

# Google's client libraries must never look for a metadata server (an address off this machine) in tests.
os.environ.setdefault("NO_GCE_CHECK", "true")
# An operator run outside a pod keeps its sealing key in the user's config folder: the tests' own, removed after.
os.environ["XDG_CONFIG_HOME"] = tempfile.mkdtemp(prefix="clonejob-tests-config-")

import pytest


def pytest_unconfigure(config: pytest.Config) -> None:
    shutil.rmtree(os.environ["XDG_CONFIG_HOME"], ignore_errors=True)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--cluster-kubeconfig", default=None, help="kubeconfig of the cluster the tests may use")
    parser.addoption(
        "--long",
        action="store_true",
        help="the long chaos, fuzz and outage runs (also CLONEJOB_TEST_LONG=1); CI runs the quick ones",
    )


@pytest.fixture(scope="session")
def long_run(request: pytest.FixtureRequest) -> bool:
    """Whether the suites run their long versions (hundreds of kills, thousands of inputs)."""
    return bool(request.config.getoption("--long")) or os.environ.get("CLONEJOB_TEST_LONG") == "1"


@pytest.fixture(scope="session")
def cluster_kubeconfig(request: pytest.FixtureRequest) -> str:
    path = request.config.getoption("--cluster-kubeconfig") or os.environ.get("CLONEJOB_TEST_KUBECONFIG")
    required = os.environ.get("CLONEJOB_TEST_REQUIRE_CLUSTER") == "1"
    if not path:
        reason = "no test cluster named: set CLONEJOB_TEST_KUBECONFIG or --cluster-kubeconfig"
        if required:
            pytest.fail(reason)
        pytest.skip(reason)
    return str(path)


class Outage:
    """Stops and starts the test cluster's API server, by the commands named for it (etcd and data stay)."""

    def __init__(self, stop: str, start: str) -> None:
        self._stop, self._start = stop, start

    def stop(self) -> None:
        subprocess.run(self._stop, shell=True, check=True, capture_output=True, timeout=60)

    def start(self) -> None:
        subprocess.run(self._start, shell=True, check=True, capture_output=True, timeout=120)


@pytest.fixture(scope="session")
def outage(cluster_kubeconfig: str) -> Outage:
    """CLONEJOB_TEST_STOP_APISERVER and CLONEJOB_TEST_START_APISERVER: shell commands that stop and start the
    test cluster's API server (on kind, say, pausing and unpausing the control-plane container). Without them
    outage tests skip; CLONEJOB_TEST_REQUIRE_OUTAGE=1 makes that a failure."""
    stop, start = os.environ.get("CLONEJOB_TEST_STOP_APISERVER"), os.environ.get("CLONEJOB_TEST_START_APISERVER")
    if not stop or not start:
        reason = "no outage commands: set CLONEJOB_TEST_STOP_APISERVER and CLONEJOB_TEST_START_APISERVER"
        if os.environ.get("CLONEJOB_TEST_REQUIRE_OUTAGE") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    return Outage(stop, start)
