"""Tests against kmock, a Kubernetes API mock server: for what the CRD-only test cluster refuses (core, batch)."""

from __future__ import annotations

import kmock
import kubernetes
import pytest

from clonejob_operator.kube import Kube


@pytest.fixture
def mock_kube(kmock: kmock.KubernetesEmulator) -> Kube:
    configuration = kubernetes.client.Configuration()
    configuration.host = str(kmock.url).rstrip("/")
    return Kube(configuration)
