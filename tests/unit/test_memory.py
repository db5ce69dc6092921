"""memory: read freely, written by the committer; a commit's fault lasts until the next commit."""

from __future__ import annotations

from datetime import timedelta

from clonejob_operator.api.clonejob import ResourceRef
from clonejob_operator.codes import Code
from clonejob_operator.faults import Fault, FaultKind
from clonejob_operator.memory import Memory
from tests.clocks import NOON

REFUSED = Fault(FaultKind.REFUSED, Code.PERMISSION_DENIED, "creating DataVolume: 403")


def test_reading_changes_nothing_and_the_next_commit_settles_the_fault() -> None:
    memory = Memory()
    memory.failed("u", REFUSED)
    assert memory.read("u").fault == REFUSED and memory.read("u").fault == REFUSED
    memory.looked("u", faulty=True, now=NOON)
    assert memory.read("u").fault is None and memory.read("u").fault_since == NOON


def test_a_run_of_faults_keeps_its_start_until_a_clean_look() -> None:
    memory = Memory()
    memory.looked("u", faulty=True, now=NOON)
    memory.looked("u", faulty=True, now=NOON + timedelta(seconds=30))
    assert memory.read("u").fault_since == NOON
    memory.looked("u", faulty=False, now=NOON + timedelta(seconds=40))
    memory.looked("u", faulty=True, now=NOON + timedelta(minutes=5))
    assert memory.read("u").fault_since == NOON + timedelta(minutes=5)


def test_refusals_count_in_the_same_words_and_only_for_the_version_refused() -> None:
    memory = Memory()
    memory.refused("u", "too long", "7")
    memory.refused("u", "too long", "7")
    assert memory.read("u").refusal("7") == ("too long", 2)
    assert memory.read("u").refusal("8") == (None, 0), "a change of the job is worth another try"
    memory.refused("u", "other words", "8")
    assert memory.read("u").refusal("8") == ("other words", 1)
    memory.wrote("u", NOON)
    assert memory.read("u").refusal("8") == (None, 0)


def test_a_written_status_that_records_a_product_makes_it_no_longer_news() -> None:
    memory = Memory()
    made = ResourceRef(api_version="cdi.kubevirt.io/v1beta1", kind="DataVolume", name="cj-disk-0", namespace="ns")
    memory.created("u", made)
    assert memory.read("u").created == (made,)
    memory.wrote("u", NOON, [made.model_copy(update={"uid": "x"})])
    assert memory.read("u").created == () and memory.read("u").last_write == NOON
    memory.forget("u")
    assert memory.read("u").last_write is None
