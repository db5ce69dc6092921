from __future__ import annotations

from typing import Any

import kopf
import kubernetes

from clonejob_operator import names
from clonejob_operator.cache import Cache
from clonejob_operator.controller import Controller
from clonejob_operator.kopfwiring import build_registry, connection_info, operator_settings
from clonejob_operator.kube import CLONE_JOB, MIGRATING_VM, Kube
from clonejob_operator.reconciler import Reconciler
from clonejob_operator.settings import Settings
from clonejob_operator.targets.kubevirt.kinds import DATA_VOLUME


def test_registry_only_watches_and_never_writes_through_kopf() -> None:
    configuration = kubernetes.client.Configuration()
    cache = Cache((CLONE_JOB, MIGRATING_VM, DATA_VOLUME))
    controller = Controller(Reconciler(Kube(configuration), Settings(), cache=cache))
    registry = build_registry(controller, configuration)
    handlers = [h for h in registry._indexing.get_all_handlers()]
    # CloneJobs are listed in full before any decision (kopf's barrier covers indexed kinds only); nothing
    # else is decided on an absence from a cache.
    assert sorted(str(h.id) for h in handlers) == ["cache/clonejobs"]

    def indexing(handler: Any) -> bool:
        return bool(handler.when is not None and handler.when())

    assert all(indexing(h) for h in handlers)  # indexed until the caches are complete
    controller.synced.set()
    assert not any(indexing(h) for h in handlers)  # then the event handlers alone keep them
    watchers = [h for h in registry._watching.get_all_handlers()]
    assert sorted(str(h.id) for h in watchers) == ["watch/clonejobs", "watch/datavolumes", "watch/migratingvms"]
    products = next(h for h in watchers if str(h.id) == "watch/datavolumes")
    assert products.labels == {names.LABEL_JOB_UID: kopf.PRESENT}  # only what a job made
    # No change handlers, timers or daemons: kopf adds no finalizer, annotation or progress record.
    assert not registry._changing.get_all_handlers() and not registry._spawning.get_all_handlers()


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
    assert settings.persistence.finalizer != names.FINALIZER  # ours is added and removed by the reconciler
    assert settings.watching.server_timeout and settings.watching.client_timeout
    assert settings.watching.connect_timeout and settings.networking.request_timeout
    assert not settings.posting.enabled
    assert settings.scanning.disabled  # exact namespaces: no Namespace listing needed
    assert not operator_settings(["team-*"]).scanning.disabled
    assert not operator_settings([]).scanning.disabled


def test_each_login_is_told_apart_so_kopf_takes_good_credentials_back_and_logins_are_paced() -> None:
    """kopf refuses credentials equal to ones it discarded (a 401 or a closed session while the API server
    restarts): identical ones would leave every watch waiting for ever."""
    from clonejob_operator.kopfwiring import PACE, Logins
    from tests.clocks import Clock

    clock = Clock(100.0)
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock.now += seconds

    logins = Logins(clock=clock, sleep=sleep)
    info = kopf.ConnectionInfo(server="https://api:6443", token="t", scheme="Bearer")
    first, second = logins.fresh(info), logins.fresh(info)
    assert first != second and first != info and {first.token, second.token} == {"t"}
    assert slept == [PACE], "the second login came at once: it waited a second"
    clock.now += 5
    logins.fresh(info)
    assert slept == [PACE]
