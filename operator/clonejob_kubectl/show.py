"""How `kubectl clonejob` shows CloneJobs: a step timeline, a table, a progress bar, kubectl's names."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import yaml

from clonejob_operator.jobs import read_job
from clonejob_operator.kube import CLONE_JOB, Body
from clonejob_operator.timestamps import format_duration, parse_time

BAR = 20


def bar(percent: int | None, width: int = BAR) -> str:
    value = max(0, min(100, percent or 0))
    filled = round(width * value / 100)
    return "[" + "#" * filled + "-" * (width - filled) + f"] {value:3d}%"


def _ago(stamp: str | None, moment: datetime) -> str:
    return format_duration(moment - parse_time(stamp)) if stamp else "-"


def timeline(body: Body, moment: datetime) -> str:
    """A CloneJob as `kubectl clonejob get` shows it."""
    job = read_job(body)
    status = job.status
    lines = [
        f"CloneJob {job.namespace}/{job.name}  (MigratingVm {job.migrating_vm})",
        f"State:    {status.current.value} for {_ago(status.state_time, moment)}"
        + (f", ended {_ago(status.end_time, moment)} ago" if status.end_time else ""),
        f"Progress: {bar(status.progress_percent)}",
    ]
    if status.steps:
        lines.append("Steps:")
    for step in status.steps or []:
        start, end = step.start_time, step.end_time
        took = (
            (parse_time(end) - parse_time(start)) if start and end else (moment - parse_time(start)) if start else None
        )
        how = ("took " if end else "running ") + (format_duration(took) if took is not None else "-")
        lines.append(f"  {step.kind.value:<25} {start or '-':<28} {how:<16} {bar(step.progress_percent)}")
    if job.doing:
        lines.append(f"Now:      {job.doing}")
    if status.error is not None:
        lines.append(f"Error:    {status.error.message or ''} (code {status.error.code})")
    return "\n".join(lines)


def table(items: Sequence[Body], moment: datetime, namespaces: bool = True) -> str:
    """The list as kubectl prints one: a NAMESPACE column only across namespaces."""
    rows: list[tuple[str, ...]] = [("NAMESPACE", "NAME", "STATE", "STEP", "PROGRESS", "MIGRATINGVM", "AGE")]
    for item in items:
        job = read_job(item)
        rows.append(
            (
                job.namespace,
                job.name,
                job.status.state or "",
                job.status.current_step.value if job.status.current_step else "",
                f"{job.status.progress_percent or 0}%",
                job.migrating_vm if job.spec else "",
                _ago(item["metadata"].get("creationTimestamp"), moment),
            )
        )
    if not namespaces:
        rows = [row[1:] for row in rows]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "   ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows
    )


def kubectl_name(name: str) -> str:
    """A CloneJob as kubectl names it in its output: ``clonejob.vmmigration.dev/NAME``."""
    return f"{CLONE_JOB.kind.lower()}.{CLONE_JOB.group}/{name}"


def without_managed_fields(body: Body) -> Body:
    """The object as kubectl prints it by default: ``metadata.managedFields`` left out."""
    metadata = {k: v for k, v in (body.get("metadata") or {}).items() if k != "managedFields"}
    return {**body, "metadata": metadata}


def dump(document: Any, output: str) -> str:
    text = json.dumps(document, indent=2) if output == "json" else yaml.safe_dump(document, sort_keys=False)
    return text.rstrip()


def live(body: Body) -> str:
    job = read_job(body)
    return f"{job.status.state or ''} {bar(job.status.progress_percent)} {job.doing}".rstrip()
