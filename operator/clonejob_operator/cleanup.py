"""Removal of everything a CloneJob created, by the target that created it.

Cleanup only ever runs for a job that was cancelled or failed, and it waits for the products to be
really gone. Each target's driver finds its products (by the job's uid label and by
``status.createdResources``, read fresh) and deletes nothing that does not carry the job's uid; this
module only picks the drivers and joins their reports.
"""

from __future__ import annotations

from clonejob_operator.targets.base import CleanupReport, JobContext
from clonejob_operator.targets.catalog import Drivers


class Sweeper:
    def __init__(self, drivers: Drivers) -> None:
        self.drivers = drivers

    def survey(self, job: JobContext) -> CleanupReport:
        """What still exists (deleting products count until they are gone) and what to delete now."""
        reports = [driver.survey(job) for driver in self.drivers.for_cleanup(job.status)]
        blocked = [report.blocked for report in reports if report.blocked]
        return CleanupReport(
            remaining=tuple(item for report in reports for item in report.remaining),
            blocked="; ".join(blocked) or None,
            deletable=tuple(item for report in reports for item in report.deletable),
        )
