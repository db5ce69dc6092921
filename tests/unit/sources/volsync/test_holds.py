"""Holding VolSync images: by its do-not-delete label and a record of who holds it; the last to let go
unlabels a latest image and deletes a relinquished one; somebody else's pin is never undone."""

from __future__ import annotations

from typing import Any

from clonejob_operator.sources.volsync.holds import (
    DO_NOT_DELETE,
    HELD_BY,
    PINNED,
    Delete,
    Holding,
    hold,
    holder,
    release,
)

MVM, JOB = holder("MigratingVm", "m-1"), holder("CloneJob", "j-1")


def image(labels: dict[str, str] | None = None, annotations: dict[str, str] | None = None) -> dict[str, Any]:
    meta = {"name": "boot-1", "uid": "u-1", "resourceVersion": "7", "labels": labels, "annotations": annotations}
    return {"metadata": {k: v for k, v in meta.items() if v is not None}}


def applied(body: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """``patch`` merged into ``body`` (RFC 7386, as the API server does): what the image looks like after."""
    meta = dict(body["metadata"])
    for key in ("labels", "annotations"):
        merged = {**(meta.get(key) or {}), **patch["metadata"].get(key, {})}
        meta[key] = {k: v for k, v in merged.items() if v is not None}
    return {"metadata": meta}


def test_holders_add_up_and_the_last_to_let_go_of_the_latest_image_unlabels_it() -> None:
    fresh = image()
    patch = hold(fresh, MVM)
    assert patch == {
        "metadata": {"resourceVersion": "7", "labels": {DO_NOT_DELETE: "true"}, "annotations": {HELD_BY: MVM}}
    }
    held = applied(fresh, patch)
    assert hold(held, MVM) is None, "held already: nothing to write"
    both = applied(held, hold(held, JOB) or {})
    assert Holding.of(both) == Holding((JOB, MVM), labelled=True, pinned=False)
    first = release(both, MVM, latest=frozenset({"boot-1"}))
    assert first == {"metadata": {"resourceVersion": "7", "annotations": {HELD_BY: JOB}}}, "one holder left"
    assert isinstance(first, dict)
    last_one = applied(both, first)
    last = release(last_one, JOB, latest=frozenset({"boot-1"}))
    assert isinstance(last, dict)
    assert last["metadata"]["labels"] == {DO_NOT_DELETE: None}, "VolSync's to rotate again"
    assert Holding.of(applied(last_one, last)) == Holding((), labelled=False, pinned=False)


def test_the_last_to_let_go_of_a_relinquished_image_deletes_it_under_its_version() -> None:
    held = applied(image(), hold(image(), JOB) or {})
    assert release(held, JOB, latest=frozenset({"boot-2"})) == Delete("boot-1", "u-1", "7")
    assert release(held, MVM, latest=frozenset()) is None, "one that never held it lets go of nothing"


def test_somebody_elses_pin_is_kept_and_never_deleted() -> None:
    pinned = image(labels={DO_NOT_DELETE: "ramen"})
    patch = hold(pinned, JOB)
    assert patch is not None and patch["metadata"]["annotations"] == {HELD_BY: JOB, PINNED: "true"}
    assert "labels" not in patch["metadata"], "their label is left as they wrote it"
    held = applied(pinned, patch)
    assert Holding.of(held).pinned
    also = applied(held, hold(held, MVM) or {})
    assert Holding.of(also).pinned, "still theirs after a second holder"
    step = release(also, MVM, frozenset())
    assert isinstance(step, dict), "another holder remains: a patch"
    let_go = release(applied(also, step), JOB, latest=frozenset())
    assert isinstance(let_go, dict), "not deleted, although relinquished"
    after = applied(also, let_go)
    assert after["metadata"]["labels"] == {DO_NOT_DELETE: "ramen"}, "their label stays"
    assert after["metadata"]["annotations"] == {}


def test_a_label_removed_under_a_holder_is_put_back() -> None:
    held = applied(image(), hold(image(), JOB) or {})
    unlabelled = {"metadata": {**held["metadata"], "labels": {}}}
    patch = hold(unlabelled, JOB)
    assert patch is not None and patch["metadata"]["labels"] == {DO_NOT_DELETE: "true"}
    assert PINNED not in patch["metadata"]["annotations"]
