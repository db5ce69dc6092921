"""The fake itself, through the real google-cloud-compute client: request-ID deduplication, label
filters, and operations that finish later."""

from __future__ import annotations

import time

from google.auth.credentials import AnonymousCredentials
from google.cloud import compute_v1

from clonejob_operator.targets.computeengine.client import Compute
from tests.computeengine.fake import FakeCompute


def test_request_ids_deduplicate_and_filters_select_by_label() -> None:
    fake = FakeCompute(op_delay=0.2, snapshots={"projects/p/global/snapshots/s"})
    with fake.serving():
        compute = Compute.connect(AnonymousCredentials(), fake.url)  # type: ignore[no-untyped-call]
        disk = compute_v1.Disk(name="d", source_snapshot="projects/p/global/snapshots/s", labels={"clone-job-uid": "u"})
        request = compute_v1.InsertDiskRequest(project="p", zone="z", disk_resource=disk, request_id="r-1")
        first = compute.disks.insert_unary(request=request)
        again = compute.disks.insert_unary(request=request)
        assert first.name == again.name and len(fake.disks) == 1 and first.status != compute_v1.Operation.Status.DONE
        deadline = time.monotonic() + 5
        while (
            compute.operations.get(project="p", zone="z", operation=first.name).status
            != compute_v1.Operation.Status.DONE
        ):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert compute.disks.get(project="p", zone="z", disk="d").status == "READY"
        fake.add_disk("p", "z", "other", {"clone-job-uid": "v"})
        listed = compute.disks.list(
            request=compute_v1.ListDisksRequest(project="p", zone="z", filter='labels.clone-job-uid = "u"')
        )
        assert [d.name for d in listed] == ["d"]
