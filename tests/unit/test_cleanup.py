"""Cleanup picks the drivers and joins their reports; it knows no target's kinds."""

from __future__ import annotations

from typing import Any

from clonejob_operator.api.clonejob import CloneJobStatus, ResourceRef
from clonejob_operator.cleanup import Sweeper
from clonejob_operator.machine.effects import DeleteProduct
from clonejob_operator.targets.base import CleanupReport, JobContext

JOB = JobContext(namespace="ns", name="cj", uid="u", migrating_vm="web", status=CloneJobStatus())


class Driver:
    def __init__(self, name: str, report: CleanupReport) -> None:
        self.name, self.report, self.asked = name, report, 0

    def survey(self, job: JobContext) -> CleanupReport:
        self.asked += 1
        return self.report


class Catalog:
    def __init__(self, *drivers: Any) -> None:
        self.drivers = drivers

    def for_cleanup(self, status: CloneJobStatus) -> list[Any]:
        return list(self.drivers)


def test_reports_are_joined() -> None:
    dv = ResourceRef(api_version="cdi.kubevirt.io/v1beta1", kind="DataVolume", name="d", namespace="ns")
    a = Driver("a", CleanupReport(remaining=("DataVolume/d",), deletable=(DeleteProduct("a", dv),)))
    b = Driver("b", CleanupReport(remaining=("Disk/x",), blocked="cannot list disks (403)"))
    report = Sweeper(Catalog(a, b)).survey(JOB)  # type: ignore[arg-type]
    assert report.remaining == ("DataVolume/d", "Disk/x") and report.blocked == "cannot list disks (403)"
    assert report.deletable == (DeleteProduct("a", dv),)
    assert a.asked == b.asked == 1
    assert Sweeper(Catalog()).survey(JOB) == CleanupReport()  # type: ignore[arg-type]


def test_a_job_whose_details_are_lost_is_cleaned_by_whoever_made_its_recorded_products() -> None:
    import kubernetes

    from clonejob_operator.kube import Kube
    from clonejob_operator.targets.catalog import Drivers

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
