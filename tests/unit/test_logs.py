from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from clonejob_operator import logs

REF = {"apiVersion": "vmmigration.dev/v1", "kind": "CloneJob", "name": "web-1-test-3", "namespace": "migration"}


@pytest.fixture
def configured() -> Iterator[None]:
    root = logging.getLogger()
    saved = (list(root.handlers), root.level, {n: logging.getLogger(n).level for n in logs.QUIET})
    try:
        yield
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
        for name, level in saved[2].items():
            logging.getLogger(name).setLevel(level)


def formatted(record: logging.LogRecord) -> str:
    (text,) = {handler.format(record) for handler in logging.getLogger().handlers}
    return text


def record(name: str, message: str, *args: object, ref: dict[str, str] | None = None) -> logging.LogRecord:
    made = logging.LogRecord(name, logging.WARNING, __file__, 1, message, args, None)
    if ref is not None:
        made.k8s_ref = ref
    return made


@pytest.mark.usefixtures("configured")
def test_the_full_format_names_loggers_whole_and_kopfs_start_is_quiet() -> None:
    logs.configure_logging("full", verbose=False)
    assert "clonejob_operator.leadership [WARNING] hello" in formatted(record("clonejob_operator.leadership", "hello"))
    assert not logging.getLogger("kopf.activities.startup").isEnabledFor(logging.INFO)
    assert not logging.getLogger("kopf.any.module.of.its.own").isEnabledFor(logging.INFO)
    assert logging.getLogger("kopf.any.module.of.its.own").isEnabledFor(logging.WARNING)


@pytest.mark.usefixtures("configured")
@pytest.mark.parametrize("log_format", ["plain", "full"])
def test_every_line_about_an_object_names_it_once(log_format: str) -> None:
    logs.configure_logging(log_format, verbose=False)
    kopfs = formatted(record("kopf.objects", "Handler %r failed temporarily: %s", "watch", "boom", ref=REF))
    assert kopfs.endswith("CloneJob migration/web-1-test-3: Handler 'watch' failed temporarily: boom")
    ours = formatted(record("clonejob_operator.commit", "CloneJob migration/web-1-test-3: Started", ref=REF))
    assert ours.endswith("CloneJob migration/web-1-test-3: Started") and ours.count("web-1-test-3") == 1
    assert formatted(record("kopf", "Stop-flag is set")).endswith("Stop-flag is set")


@pytest.mark.usefixtures("configured")
def test_a_line_of_a_real_kopf_object_logger_names_its_object() -> None:
    import kopf

    logs.configure_logging("plain", verbose=False)
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.getLogger().handlers[0].formatter)
    logger = logging.getLogger("kopf.objects")
    logger.addHandler(handler)
    try:
        raw: Any = {"apiVersion": "vmmigration.dev/v1", "kind": "CloneJob", "metadata": REF}
        body = kopf.Body(raw)
        kopf.ObjectLogger(body=body, settings=kopf.OperatorSettings()).warning("Patching failed")
    finally:
        logger.removeHandler(handler)
    assert stream.getvalue() == "CloneJob migration/web-1-test-3: Patching failed\n"


def test_once_says_each_words_once_per_key_and_forgets_all_past_its_limit() -> None:
    once = logs.Once(limit=2)
    assert once.first("job-a", "boom") and not once.first("job-a", "boom")
    assert once.first("job-b", "boom"), "another job's same error is news"
    assert once.first("job-a", "bang"), "past the limit everything is forgotten, then kept again"
    assert once.first("job-a", "boom")
