from __future__ import annotations

import re

from clonejob_operator import names

LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def test_short_names_are_kept() -> None:
    assert names.vm_name("web-1-test-3", None) == "web-1-test-3"
    assert names.disk_name("web-1-test-3", 0) == "web-1-test-3-disk-0"
    assert names.adaptation_job_name("web-1") == "web-1-adapt-os"


def test_requested_vm_name_wins() -> None:
    assert names.vm_name("cj", "clone") == "clone"


def test_long_and_dotted_names_become_stable_labels() -> None:
    long = "a" * 70 + ".example"
    first, second = names.disk_name(long, 12), names.disk_name(long, 12)
    assert first == second
    assert len(first) <= 63 and LABEL.match(first) and first.endswith("-disk-12")
    assert names.disk_name(long, 12) != names.disk_name(long + "x", 12)
    assert LABEL.match(names.vm_name("web.1", None))


def test_product_labels() -> None:
    labels = names.product_labels("cj", "uid-1", "web-1")
    assert labels == {
        "vmmigration.dev/clone-job": "cj",
        "vmmigration.dev/clone-job-uid": "uid-1",
        "vmmigration.dev/migrating-vm": "web-1",
        "app.kubernetes.io/managed-by": "clonejob-operator",
    }
    assert len(names.product_labels("x" * 200, "u", "y")["vmmigration.dev/clone-job"]) <= 63


def test_resource_name_is_as_the_vmmigration_api_writes_it() -> None:
    assert names.resource_name("ns", "web-1", "cj") == "namespaces/ns/migratingVms/web-1/cloneJobs/cj"


def test_the_readmes_rule_for_long_names_holds() -> None:
    """README: a kept name when it fits; else PREFIX-HASH(8 hex of sha256 of the name)-SUFFIX, 63 at most."""
    import hashlib
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "docs" / "targets.md").read_text()
    assert "the first 8 hex\ndigits of the SHA-256 of the name" in readme
    job = "a" * 70
    vm = names.vm_name(job, None)
    assert vm == "a" * 54 + "-" + hashlib.sha256(job.encode()).hexdigest()[:8] and len(vm) == 63
    disk = names.disk_name(vm, 0)
    assert disk == vm[:47] + "-" + hashlib.sha256(vm.encode()).hexdigest()[:8] + "-disk-0" and len(disk) == 63
    assert names.disk_name("web-1-test-3", 2) == "web-1-test-3-disk-2"
