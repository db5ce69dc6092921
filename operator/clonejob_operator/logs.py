"""The operator's log: its formats, and the levels of the libraries it runs on.

Every line about an object names it. The operator's own lines say ``CloneJob NS/NAME: ...`` themselves;
any other line that carries an object (kopf's per-object lines carry ``k8s_ref``) gets the same prefix
from ``Naming`` in the plain and full formats. The JSON format keeps the object as a field of its own.
"""

from __future__ import annotations

import logging
import threading

import kopf

from clonejob_operator import outages
from clonejob_operator.jobs import Job
from clonejob_operator.kube import CLONE_JOB

FULL_FORMAT = "[%(asctime)s] %(name)s [%(levelname)s] %(message)s"
"""kopf's full format, with logger names whole (kopf cuts them at 20 characters)."""
PLAIN_FORMAT = "%(message)s"
QUIET = {"kopf": logging.WARNING}
"""kopf's INFO lines (its start, "Activity ... succeeded", "Initial authentication ...", its stop): DEBUG's
business, the operator says what matters itself. Set on kopf's top logger: its modules' names are its own."""


def named(record: logging.LogRecord) -> str:
    """``Kind namespace/name: `` of the object a record is about, or "" for a record about none."""
    ref = getattr(record, "k8s_ref", None)
    if not isinstance(ref, dict) or not ref.get("name"):
        return ""
    where = f"{ref['namespace']}/{ref['name']}" if ref.get("namespace") else str(ref["name"])
    return f"{ref.get('kind') or 'object'} {where}: "


class Naming(logging.Formatter):
    """A text format whose lines about an object start by naming it (once: a line that does already is kept)."""

    def format(self, record: logging.LogRecord) -> str:
        prefix = named(record)
        if prefix and not record.getMessage().startswith(prefix):
            record = logging.makeLogRecord({**record.__dict__, "msg": prefix + record.getMessage(), "args": None})
        return super().format(record)


def configure_logging(log_format: str, verbose: bool) -> None:
    kopf.configure(verbose=verbose, log_format=kopf.LogFormat[log_format.upper()])
    if log_format in ("plain", "full"):
        for handler in logging.getLogger().handlers:
            handler.setFormatter(Naming(FULL_FORMAT if log_format == "full" else PLAIN_FORMAT))
    outages.install()  # kopf's retried requests: one WARNING per outage and 10 s, not a line per attempt
    logging.getLogger("clonejob_operator").setLevel(logging.DEBUG if verbose else logging.INFO)
    logging.getLogger("leaderelection").setLevel(logging.INFO if verbose else logging.WARNING)  # a line a retry
    logging.getLogger("urllib3").setLevel(logging.DEBUG if verbose else logging.ERROR)  # its retries: ours say it
    for name, level in QUIET.items():
        logging.getLogger(name).setLevel(logging.DEBUG if verbose else level)


def job_log(
    logger: logging.Logger,
    job: Job,
    level: int,
    message: str,
    *args: object,
    exc_info: BaseException | None = None,
    **fields: object,
) -> None:
    """A line about one CloneJob on ``logger``, naming it as namespace/name (the JSON format also keeps
    ``object``): how the operator's own lines name the job they are about."""
    ref = {
        "apiVersion": CLONE_JOB.api_version,
        "kind": CLONE_JOB.kind,
        "name": job.name,
        "namespace": job.namespace,
        "uid": job.uid,
    }
    where = f"CloneJob {job.namespace}/{job.name}: "
    logger.log(level, where + message, *args, exc_info=exc_info, extra={"k8s_ref": ref, **fields})


class Once:
    """What has been said, per key and words: a traceback or a refusal is logged once per job, not per look."""

    def __init__(self, limit: int = 4096) -> None:
        self._said: set[tuple[str, str]] = set()
        self._limit = limit
        self._lock = threading.Lock()

    def first(self, key: str, words: str) -> bool:
        """Whether these words are new for ``key`` (from now on they are not)."""
        with self._lock:
            if (key, words) in self._said:
                return False
            if len(self._said) >= self._limit:
                self._said.clear()
            self._said.add((key, words))
            return True
