from __future__ import annotations

import kubernetes

from clonejob_operator import names
from clonejob_operator.handlers import connection_info, needs_attention, operator_settings


def test_timers_run_for_unfinished_jobs_and_stale_generations() -> None:
    assert needs_attention(spec={}, status={}, meta={"generation": 1})  # type: ignore[arg-type]
    assert needs_attention(spec={}, status={"state": "ACTIVE"}, meta={"generation": 1})  # type: ignore[arg-type]
    done = {"state": "SUCCEEDED", "observedGeneration": 1}
    assert not needs_attention(spec={}, status=done, meta={"generation": 1})  # type: ignore[arg-type]
    assert needs_attention(spec={}, status=done, meta={"generation": 2})  # type: ignore[arg-type]


def test_connection_info_comes_from_the_given_configuration() -> None:
    configuration = kubernetes.client.Configuration()
    configuration.host = "https://127.0.0.1:6443"
    configuration.api_key = {"authorization": "Bearer s3cret"}
    configuration.ssl_ca_cert = "/tmp/ca.crt"
    info = connection_info(configuration)
    assert (info.server, info.scheme, info.token, info.ca_path) == (
        "https://127.0.0.1:6443",
        "Bearer",
        "s3cret",
        "/tmp/ca.crt",
    )


def test_settings_use_our_finalizer_prefix_and_watch_timeouts() -> None:
    settings = operator_settings(["team-a"])
    assert settings.persistence.finalizer == names.FINALIZER
    assert settings.watching.server_timeout and settings.watching.client_timeout
    assert settings.watching.connect_timeout and settings.networking.request_timeout
    assert not settings.posting.enabled
    assert settings.scanning.disabled  # exact namespaces: no Namespace listing needed
    assert not operator_settings(["team-*"]).scanning.disabled
    assert not operator_settings([]).scanning.disabled
