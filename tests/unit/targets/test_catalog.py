"""The driver catalog: the Compute Engine library is loaded only when a Compute Engine job needs it."""

from __future__ import annotations

import subprocess
import sys
import time
from dataclasses import replace
from typing import Any

from clonejob_operator.api.clonejob import CloneJobStatus, ResourceRef
from clonejob_operator.machine.effects import DeleteProduct
from clonejob_operator.sources.catalog import FEEDS
from clonejob_operator.targets.base import CleanupReport, JobContext
from clonejob_operator.targets.catalog import Drivers


def test_an_operator_that_only_clones_onto_kubevirt_never_loads_the_compute_engine_library() -> None:
    script = (
        "import sys, kubernetes\n"
        "from clonejob_operator import cli, controller\n"
        "from clonejob_operator.api.clonejob import CloneJobStatus, ResourceRef\n"
        "from clonejob_operator.kube import Kube\n"
        "from clonejob_operator.targets.catalog import Drivers\n"
        "drivers = Drivers(Kube(kubernetes.client.Configuration()))\n"
        "dv = ResourceRef(api_version='cdi.kubevirt.io/v1beta1', kind='DataVolume', name='d', uid='u')\n"
        "assert drivers.for_cleanup(CloneJobStatus(created_resources=[dv])) == [drivers.by_name('kubevirt')]\n"
        "assert 'google.cloud.compute_v1' not in sys.modules\n"
        "disk = ResourceRef(api_version='compute.googleapis.com/v1', kind='Disk', name='d')\n"
        "lost = CloneJobStatus(created_resources=[disk])\n"  # details lost: KubeVirt's label survey costs nothing
        "assert drivers.for_cleanup(lost) == [drivers.by_name('kubevirt'), drivers.by_name('computeengine')]\n"
        "assert 'google.cloud.compute_v1' in sys.modules\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


def test_without_the_computeengine_extra_a_compute_engine_job_is_told_which_extra_to_install() -> None:
    script = (
        "import sys, kubernetes\n"
        "sys.modules['google.cloud.compute_v1'] = None\n"  # an installation without the extra
        "from clonejob_operator.codes import Code, JobError\n"
        "from clonejob_operator.kube import Kube\n"
        "from clonejob_operator.targets.catalog import Drivers\n"
        "try:\n"
        "    Drivers(Kube(kubernetes.client.Configuration())).by_name('computeengine')\n"
        "except JobError as error:\n"
        "    assert error.code is Code.FAILED_PRECONDITION, error.code\n"
        "    print(error.message)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "pip install 'clonejob-operator[computeengine]'" in result.stdout


def test_the_compute_engine_library_loads_in_the_background_and_jobs_wait_for_it_without_blocking() -> None:
    """A fresh interpreter, as after a start: the first look at a Compute Engine MigratingVm starts the load
    and is told to wait (no worker blocks for the seconds it takes); the load's end is announced; then the
    driver is there. A KubeVirt MigratingVm never starts it."""
    script = (
        "import sys, threading, time, kubernetes\n"
        "from clonejob_operator.api.migratingvm import MigratingVmSpec\n"
        "from clonejob_operator.kube import Kube\n"
        "from clonejob_operator.targets.catalog import Drivers, TargetLoading\n"
        "drivers = Drivers(Kube(kubernetes.client.Configuration()), load_in_background=True)\n"
        "done = threading.Event()\n"
        "drivers.loaded = done.set\n"
        "drivers.in_sight({'kubevirtTargetDefaults': {}})\n"
        "assert [t.name for t in threading.enumerate() if t.name == 'load-computeengine'] == []\n"
        "target = {'computeEngineTargetDefaults': {'zone': 'europe-west1-b'}}\n"
        "spec = MigratingVmSpec.model_validate({'sourceVmId': 'vm-1', **target})\n"
        "began = time.monotonic()\n"
        "try:\n"
        "    drivers.for_spec(spec)\n"
        "    raise SystemExit('the driver came at once: nothing was loading')\n"
        "except TargetLoading as loading:\n"
        "    assert 'loading the Compute Engine client library' in str(loading), loading\n"
        "assert time.monotonic() - began < 0.5, 'the caller was held while the library loaded'\n"
        "assert done.wait(120), 'the end of the load was never announced'\n"
        "assert 'google.cloud.compute_v1' in sys.modules\n"
        "assert drivers.for_spec(spec).name == 'computeengine'\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr


def test_a_migratingvm_of_compute_engine_in_sight_starts_the_load() -> None:
    script = (
        "import sys, threading, kubernetes\n"
        "from clonejob_operator.kube import Kube\n"
        "from clonejob_operator.targets.catalog import Drivers\n"
        "drivers = Drivers(Kube(kubernetes.client.Configuration()), load_in_background=True)\n"
        "done = threading.Event()\n"
        "drivers.loaded = done.set\n"
        "drivers.in_sight({'computeEngineDisksTargetDefaults': {'zone': 'europe-west1-b'}})\n"
        "assert done.wait(120) and 'google.cloud.compute_v1' in sys.modules\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr


def test_the_registry_raises_on_a_name_it_does_not_know_and_knows_each_targets_members() -> None:
    import pytest

    from clonejob_operator.api.migratingvm import TARGET_MEMBERS
    from clonejob_operator.targets.catalog import REGISTRY, UnknownTarget

    with pytest.raises(UnknownTarget, match="no clone target 'vsphere'; known: computeengine, kubevirt"):
        REGISTRY["vsphere"]
    assert sorted(m for t in REGISTRY for m in t.defaults) == sorted(TARGET_MEMBERS), "one target per member"
    assert REGISTRY.of_spec({"computeEngineDisksTargetDefaults": {}}) is REGISTRY["computeengine"]
    assert REGISTRY.of_spec({"kubevirtTargetDefaults": {}}) is REGISTRY["kubevirt"]
    assert REGISTRY.of_spec({"sourceVmId": "x"}) is None


def test_a_driver_is_built_by_its_registration_and_answers_to_its_name() -> None:
    from clonejob_operator.targets.catalog import REGISTRY, Drivers
    from tests.fakekube import FakeKube

    drivers = Drivers(FakeKube())
    for target in REGISTRY:
        assert drivers.by_name(target.name).name == target.name
        assert drivers.by_name(target.name) is drivers.by_name(target.name), "built once"


def test_what_the_operator_watches_and_may_do_comes_from_the_registrations() -> None:
    """A target's kinds, their role (made by it, or read by its jobs) and its RBAC rules are its own
    declaration: the watch list, the label filter, the wake-up routing and permissions.py gather them."""
    from clonejob_operator import permissions
    from clonejob_operator.kube import OWN_WATCHED, TARGET_PROJECT
    from clonejob_operator.machine.reasons import Trigger
    from clonejob_operator.targets.catalog import REGISTRY
    from clonejob_operator.targets.kubevirt.kinds import BATCH_JOB, DATA_VOLUME, VIRTUAL_MACHINE, VOLUME_SNAPSHOT

    assert REGISTRY.watched()[: len(OWN_WATCHED)] == OWN_WATCHED
    assert REGISTRY.products() == {DATA_VOLUME, VIRTUAL_MACHINE, BATCH_JOB}
    assert REGISTRY.inputs() == {VOLUME_SNAPSHOT, TARGET_PROJECT}
    reading = REGISTRY.input(VOLUME_SNAPSHOT)
    assert reading is not None and reading.reads is not None and reading.wakes is None
    preparing = {
        "state": "ACTIVE",
        "currentStep": "preparingVmDisks",
        "sourceSync": {"snapshots": [{"volumeSnapshot": "s0"}]},
    }
    assert REGISTRY.reads(preparing) == {("volumesnapshots", "s0")}
    assert REGISTRY.reads({**preparing, "currentStep": "instantiatingMigratedVm"}) == set(), "read while preparing"
    looked_up = REGISTRY.input(TARGET_PROJECT)
    assert looked_up is not None and looked_up.wakes is Trigger.TARGET_PROJECT and looked_up.reads is None
    rules = permissions.namespaced()
    assert rules[: len(permissions.CORE)] == permissions.CORE
    targets = tuple(r for t in REGISTRY for r in t.rules)
    assert rules[len(permissions.CORE) :] == targets + tuple(r for f in FEEDS for r in f.rules)
    assert {r.resources for r in REGISTRY["computeengine"].rules} == {("targetprojects",), ("secrets",)}
    assert permissions.cluster_scoped() == REGISTRY["kubevirt"].cluster_rules
    watched = {(w.kind.group, w.kind.plural) for t in REGISTRY for w in t.watches}
    granted = {(r.group, res) for t in REGISTRY for r in t.rules for res in r.resources if "watch" in r.verbs}
    assert watched <= granted, "every kind a target watches, its rules let it watch"


JOB = JobContext(namespace="ns", name="cj", uid="u", migrating_vm="web", status=CloneJobStatus())


class Driver:
    def __init__(self, name: str, report: CleanupReport) -> None:
        self.name, self.report, self.asked = name, report, 0

    def survey(self, job: JobContext) -> CleanupReport:
        self.asked += 1
        return self.report


class Catalog(Drivers):
    """Drivers whose cleanup is these."""

    def __init__(self, *drivers: Any) -> None:
        super().__init__(None)  # type: ignore[arg-type]
        self.drivers = drivers

    def for_cleanup(self, status: CloneJobStatus) -> list[Any]:
        return list(self.drivers)


def test_reports_are_joined() -> None:
    dv = ResourceRef(api_version="cdi.kubevirt.io/v1beta1", kind="DataVolume", name="d", namespace="ns")
    a = Driver("a", CleanupReport(remaining=("DataVolume/d",), deletable=(DeleteProduct("a", dv),)))
    b = Driver("b", CleanupReport(remaining=("Disk/x",), blocked="cannot list disks (403)"))
    report = Catalog(a, b).survey(JOB)
    assert report.remaining == ("DataVolume/d", "Disk/x") and report.blocked == "cannot list disks (403)"
    assert report.deletable == (DeleteProduct("a", dv),)
    assert a.asked == b.asked == 1
    assert Catalog().survey(JOB) == CleanupReport()


def test_a_job_whose_details_are_lost_is_cleaned_by_whoever_made_its_recorded_products() -> None:
    import kubernetes

    from clonejob_operator.kube import Kube

    drivers = Drivers(Kube(kubernetes.client.Configuration()))
    disk = ResourceRef(api_version="compute.googleapis.com/v1", kind="Disk", name="d", uri="https://x/disks/d")
    dv = ResourceRef(api_version="cdi.kubevirt.io/v1beta1", kind="DataVolume", name="d", namespace="ns", uid="1")
    assert drivers.for_cleanup(CloneJobStatus(created_resources=[dv])) == [drivers.by_name("kubevirt")]
    # With its details lost, a job is also surveyed by KubeVirt's label search, which costs nothing.
    assert drivers.for_cleanup(CloneJobStatus(created_resources=[disk])) == [
        drivers.by_name("kubevirt"),
        drivers.by_name("computeengine"),
    ]
    assert drivers.for_cleanup(CloneJobStatus()) == [drivers.by_name("kubevirt")]


def test_a_heavy_target_loading_never_holds_up_another_targets_first_use() -> None:
    import threading

    from clonejob_operator.targets.base import Driver as TargetDriver
    from clonejob_operator.targets.catalog import REGISTRY, Drivers, Registry

    building, release = threading.Event(), threading.Event()

    def slow(kube: Any, settings: Any) -> TargetDriver:
        building.set()
        release.wait(10)
        return REGISTRY["computeengine"].build(kube, settings)

    heavy = replace(REGISTRY["computeengine"], build=slow)
    drivers = Drivers(None, registry=Registry(REGISTRY["kubevirt"], heavy))  # type: ignore[arg-type]
    loader = threading.Thread(target=drivers.by_name, args=("computeengine",))
    loader.start()
    try:
        assert building.wait(10)
        started = time.monotonic()
        assert drivers.by_name("kubevirt").name == "kubevirt"
        assert time.monotonic() - started < 1.0, "KubeVirt's first use waited for Compute Engine's load"
    finally:
        release.set()
        loader.join(30)
