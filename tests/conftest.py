"""Test settings. Cluster tests use only the cluster named for them, never an ambient KUBECONFIG.

    CLONEJOB_TEST_KUBECONFIG=/path/to/kubeconfig pytest      (or: pytest --cluster-kubeconfig=PATH)

Without it, cluster tests skip and say why. CLONEJOB_TEST_REQUIRE_CLUSTER=1 turns that skip into a failure
(CI sets it, so that the integration tests can never silently not run).
"""

from __future__ import annotations

import os

# Google's client libraries must never look for a metadata server (an address off this machine) in tests.
os.environ.setdefault("NO_GCE_CHECK", "true")

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--cluster-kubeconfig", default=None, help="kubeconfig of the cluster the tests may use")


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
