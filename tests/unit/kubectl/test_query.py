"""Names, pages and the server's words."""

from __future__ import annotations

import json
from typing import Any

import pytest

from clonejob_kubectl.query import ORDERED_TOKEN, PluginError, resource_name, server_message


def test_the_apis_resource_name_is_accepted_by_get() -> None:
    import pytest

    assert resource_name("cj", "ns") == ("ns", "cj", None)
    assert resource_name("namespaces/team-a/migratingVms/web-1/cloneJobs/cj", "ns") == ("team-a", "cj", "web-1")
    with pytest.raises(PluginError):
        resource_name("projects/p/cloneJobs/cj", "ns")


def test_server_refusals_keep_the_servers_words() -> None:

    from kubernetes.client.exceptions import ApiException

    error = ApiException(status=422, reason="Unprocessable Entity")
    error.body = json.dumps(
        {
            "message": 'CloneJob.vmmigration.dev "web-1-test-3" is invalid: spec: Invalid value: exactly one of a, b '
            "must be set"
        }
    )
    assert server_message(error) == "spec: exactly one of a, b must be set"
    bare = ApiException(status=409, reason="Conflict")
    assert server_message(bare) == "the API server answered 409 Conflict"


def test_ordered_pages_cut_the_ordered_matches_and_say_where_the_next_begins() -> None:
    from clonejob_kubectl.query import page as _page

    items: list[dict[str, Any]] = [{"n": i} for i in range(5)]
    first, token = _page(items, 2, None)
    assert first == items[:2] and token == f"{ORDERED_TOKEN}2"
    last, token = _page(items, 4, token)
    assert last == items[2:] and token == ""
    assert _page(items, 0, None) == (items, "")
    for wrong in ("eyJ2IjoibWV0YS", f"{ORDERED_TOKEN}x"):
        with pytest.raises(PluginError, match="without --order-by"):
            _page(items, 2, wrong)
