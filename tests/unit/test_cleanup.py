"""Cleanup picks the drivers and joins their reports; it knows no target's kinds."""

from __future__ import annotations

from typing import Any

from clonejob_operator.api.clonejob import CloneJobStatus, ResourceRef
from clonejob_operator.cleanup import Sweeper
from clonejob_operator.machine import CleanupReport


class Driver:
    def __init__(self, name: str, report: CleanupReport) -> None:
        self.name, self.report, self.asked = name, report, 0

    def clean_up(self, namespace: str, uid: str, status: CloneJobStatus) -> CleanupReport:
        self.asked += 1
        return self.report


class Catalog:
    def __init__(self, *drivers: Any) -> None:
        self.drivers = drivers

    def for_cleanup(self, status: CloneJobStatus) -> list[Any]:
        return list(self.drivers)


def test_reports_are_joined() -> None:
    a = Driver("a", CleanupReport(remaining=("DataVolume/d",)))
    b = Driver("b", CleanupReport(remaining=("Disk/x",), blocked="cannot list disks (403)"))
    report = Sweeper(Catalog(a, b)).sweep("ns", "u", CloneJobStatus())  # type: ignore[arg-type]
    assert report.remaining == ("DataVolume/d", "Disk/x") and report.blocked == "cannot list disks (403)"
    assert a.asked == b.asked == 1
    assert Sweeper(Catalog()).sweep("ns", "u", CloneJobStatus()) == CleanupReport()  # type: ignore[arg-type]


def test_a_job_whose_details_are_lost_is_cleaned_by_whoever_made_its_recorded_products() -> None:
    import kubernetes

    from clonejob_operator.kube import Kube
    from clonejob_operator.targets.catalog import Drivers

    drivers = Drivers(Kube(kubernetes.client.Configuration()))
    disk = ResourceRef(api_version="compute.googleapis.com/v1", kind="Disk", name="d", uri="https://x/disks/d")
    dv = ResourceRef(api_version="cdi.kubevirt.io/v1beta1", kind="DataVolume", name="d", namespace="ns", uid="1")
    assert drivers.for_cleanup(CloneJobStatus(created_resources=[dv])) == [drivers.kubevirt]
    assert drivers.for_cleanup(CloneJobStatus(created_resources=[disk])) == [drivers.compute_engine]
    assert drivers.for_cleanup(CloneJobStatus()) == []
