"""The vmmigration API's list: the AIP-160 subset, what goes to the API server, and ordering."""

from __future__ import annotations

from typing import Any

import pytest

from clonejob_kubectl.listing import FilterError, Order, field_selector, order_key, parse_filter
from tests.builders import clone_job


def job(name: str, state: str | None, created: str, ended: str | None = None, mvm: str = "web-1") -> dict[str, Any]:
    status: dict[str, Any] = {"createTime": created}
    if state:
        status["state"] = state
    if ended:
        status["endTime"] = ended
    return clone_job(name, migrating_vm=mvm, status=status, creationTimestamp=created)


JOBS = [
    job("a", "FAILED", "2026-10-30T00:00:00Z", "2026-10-30T01:00:00Z"),
    job("b", "FAILED", "2026-11-02T00:00:00Z", "2026-11-02T01:00:00Z", mvm="web-2"),
    job("c", "SUCCEEDED", "2026-11-03T00:00:00Z", "2026-11-03T02:00:00Z"),
    job("d", None, "2026-11-04T00:00:00Z"),
]


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ('state = FAILED AND createTime > "2026-11-01T00:00:00Z"', ["b"]),
        ("state = FAILED OR state = SUCCEEDED AND migratingVm = web-1", ["a", "b", "c"]),
        ("(state = FAILED OR state = SUCCEEDED) AND migratingVm = web-1", ["a", "c"]),
        ("NOT state = FAILED", ["c", "d"]),
        ("-migratingVm = web-1", ["b"]),
        ("state = STATE_UNSPECIFIED", ["d"]),
        ('endTime <= "2026-11-02T01:00:00Z"', ["a", "b"]),
        ('name != "c"', ["a", "b", "d"]),
    ],
)
def test_filters(text: str, names: list[str]) -> None:
    flt = parse_filter(text)
    assert [j["metadata"]["name"] for j in JOBS if flt.test(j)] == names


@pytest.mark.parametrize(
    ("text", "words", "column"),
    [
        ("size > 3", "unknown field 'size'", 1),
        ("state > FAILED", "state takes = or !=", 7),
        ("state = DONE", "no state 'DONE'", 9),
        ('createTime > "yesterday"', "RFC 3339", 14),
        ("createTime > yesterday", "not 'yesterday'", 14),
        ("state = FAILED AND", "the filter ends early: expected '(' or - or NOT or a field", 19),
        ("state : FAILED", "unexpected ':': expected a comparator", 7),
        ("state FAILED", "unexpected 'FAILED': expected a comparator", 7),
        ("(state = FAILED", "this '(' is never closed", 1),
        ("name = a AND (state = FAILED OR (name = b)", "this '(' is never closed", 14),
        ("state = FAILED)", "this ')' closes no '('", 15),
        ('state = "abc', "this quote is never closed", 9),
        ("state = ", "the filter ends early: expected a value", 9),
    ],
)
def test_unsupported_filters_point_at_the_token(text: str, words: str, column: int) -> None:
    with pytest.raises(FilterError) as raised:
        parse_filter(text)
    message = str(raised.value)
    assert words in message
    assert message.splitlines()[-1] == "  " + " " * (column - 1) + "^", message


def test_only_a_conjunction_of_equalities_goes_to_the_api_server() -> None:
    assert [c.field for c in parse_filter("state = FAILED AND migratingVm = web-1").server] == ["state", "migratingVm"]
    assert parse_filter("state = FAILED OR migratingVm = web-1").server == ()
    assert parse_filter("NOT state = FAILED").server == ()
    pushed = parse_filter("migratingVm = web-2 AND state = FAILED").server
    assert field_selector("web-1", [], pushed) == "spec.migratingVm=web-1,spec.migratingVm=web-2,status.state=FAILED"


def test_field_selectors_for_states() -> None:
    assert field_selector(None, ["FAILED"], ()) == "status.state=FAILED"
    several = field_selector(None, ["FAILED", "CANCELLED"], ())
    assert "status.state!=SUCCEEDED" in several and "status.state!=FAILED" not in several
    assert field_selector(None, ["STATE_UNSPECIFIED"], ()) == ""  # nothing stored to select on: done here


def test_order_by_puts_missing_values_last() -> None:
    by_end = sorted(JOBS, key=order_key(Order.endTime))
    assert [j["metadata"]["name"] for j in by_end] == ["a", "b", "c", "d"]
    by_state = sorted(
        JOBS, key=order_key(Order.state)
    )  # by the vmmigration API's enum numbers: unspecified 0, failed 3
    assert [j["metadata"]["name"] for j in by_state] == ["d", "a", "b", "c"]
