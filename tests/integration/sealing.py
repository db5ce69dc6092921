"""The operator's sealing key as tests hold it: one for every operator a test starts, in process or not."""

from __future__ import annotations

import base64
import os
import tempfile
from pathlib import Path
from typing import Any

from clonejob_operator.seal import Sealer

SEALER = Sealer.random()
"""The sealing key of every operator a test starts, as one Secret gives every replica and restart theirs."""


def seal_key_flag() -> list[str]:
    """``--seal-key`` for an operator process: ``SEALER``'s key, in a file of the tests' config folder."""
    path = Path(os.environ.get("XDG_CONFIG_HOME") or tempfile.gettempdir()) / "tests-seal-key"
    if not path.exists():
        path.write_text(base64.b64encode(SEALER.key).decode())
    return ["--seal-key", f"file:{path}"]


def merged(old: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """``patch`` applied to ``old`` as a JSON merge patch applies it (RFC 7386)."""
    out = dict(old)
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merged(out[key], value)
        else:
            out[key] = value
    return out
