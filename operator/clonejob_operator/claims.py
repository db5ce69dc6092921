"""``status.recentCloneJobs`` of a MigratingVm: the running CloneJob and the last finished one.

The running entry doubles as a claim: a job starts only after writing itself there under the
MigratingVm's resourceVersion, so two jobs of one MigratingVm can never run at once, even across
operator restarts. Entries are matched by the CloneJob's uid, so a stale entry or a later namesake
never holds the MigratingVm.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from kubernetes.client.exceptions import ApiException

from clonejob_operator.api.clonejob import State
from clonejob_operator.api.migratingvm import CloneJobSummary
from clonejob_operator.kube import MIGRATING_VM, Body, KubeClient, status_of

log = logging.getLogger(__name__)
Holds = Callable[[str, str | None], bool]
"""(CloneJob name, uid or None) -> whether that job really has started: whether its entry is a live claim."""


def clone_job_name(entry: CloneJobSummary) -> str:
    return entry.name.rsplit("/", 1)[-1]


def finished(entry: CloneJobSummary) -> bool:
    return entry.state in {s.value for s in State if s.terminal}


def _same(entry: CloneJobSummary, mine: CloneJobSummary) -> bool:
    return entry.uid == mine.uid if entry.uid and mine.uid else entry.name == mine.name


def merged(entries: list[CloneJobSummary], mine: CloneJobSummary) -> list[CloneJobSummary]:
    """The running job first (if any), then the last finished one."""
    others = [entry for entry in entries if not _same(entry, mine)]
    if finished(mine):
        return [*[entry for entry in others if not finished(entry)][:1], mine]
    last = sorted((e for e in others if finished(e)), key=lambda e: e.end_time or "")[-1:]
    return [mine, *last]


def _entries(body: Body) -> list[CloneJobSummary]:
    raw = (body.get("status") or {}).get("recentCloneJobs") or []
    out = []
    for item in raw:
        try:
            out.append(CloneJobSummary.model_validate(item))
        except ValueError:
            meta = body.get("metadata") or {}
            log.warning(
                "MigratingVm %s/%s: ignoring an unreadable status.recentCloneJobs entry: %r",
                meta.get("namespace", ""),
                meta.get("name", ""),
                item,
            )
    return out


def running_elsewhere(body: Body, mine: CloneJobSummary, holds: Holds) -> str | None:
    """The name of another CloneJob holding the MigratingVm's running slot, if one really does."""
    for entry in _entries(body):
        if not _same(entry, mine) and not finished(entry) and holds(clone_job_name(entry), entry.uid):
            return clone_job_name(entry)
    return None


def claim(kube: KubeClient, namespace: str, body: Body, mine: CloneJobSummary, holds: Holds) -> bool:
    """Take the running slot; False when another job holds it or the MigratingVm changed meanwhile."""
    if running_elsewhere(body, mine, holds):
        return False
    keep = [e for e in _entries(body) if finished(e)]
    return _write(kube, namespace, body, merged(keep, mine))


def record(kube: KubeClient, namespace: str, migrating_vm: str, mine: CloneJobSummary, attempts: int = 3) -> None:
    """Best effort: put the job's latest summary into its MigratingVm's recentCloneJobs."""
    read = kube.get  # the first try from what the client knows, later ones from the API server itself
    for _ in range(attempts):
        try:
            body = read(MIGRATING_VM, namespace, migrating_vm)
        except ApiException as error:
            log.warning("cannot read MigratingVm %s/%s: %s", namespace, migrating_vm, error.status)
            return
        if body is None or _write(kube, namespace, body, merged(_entries(body), mine)):
            return
        read = kube.refresh
    log.warning(
        "MigratingVm %s/%s changed %d times while recording CloneJob %s (%s) in status.recentCloneJobs; "
        "its entry there may be stale until the next change of the job",
        namespace,
        migrating_vm,
        attempts,
        clone_job_name(mine),
        mine.state,
    )


def _write(kube: KubeClient, namespace: str, body: Body, entries: list[CloneJobSummary]) -> bool:
    patch = {
        "metadata": {"resourceVersion": body["metadata"]["resourceVersion"]},
        "status": {"recentCloneJobs": [entry.wire() for entry in entries]},
    }
    try:
        kube.patch_status(MIGRATING_VM, namespace, body["metadata"]["name"], patch)
        return True
    except ApiException as error:
        if status_of(error) in (404, 409):
            return False
        raise
