"""The image recipe and the lock it installs: checked without a container engine."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement

from clonejob_operator import flags

ROOT = Path(__file__).resolve().parents[1]


def locked() -> dict[str, str]:
    pins = re.findall(r"^([A-Za-z0-9_.-]+)==([^\s\\]+)", (ROOT / "requirements.lock").read_text(), re.M)
    return {name.lower().replace("_", "-"): version for name, version in pins}


def test_lock_satisfies_every_runtime_dependency_with_hashes() -> None:
    pins = locked()
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    image = [*project["dependencies"], *project["optional-dependencies"]["computeengine"]]  # the image keeps it
    for spec in image:
        requirement = Requirement(spec)
        name = requirement.name.lower().replace("_", "-")
        assert name in pins, f"{name} is not in requirements.lock"
        assert requirement.specifier.contains(pins[name]), f"{name}=={pins[name]} does not satisfy {spec}"
    assert (ROOT / "requirements.lock").read_text().count("--hash=sha256:") >= len(pins)
    assert "file://" not in (ROOT / "requirements.lock").read_text()


def test_dockerfile_is_multi_stage_slim_non_root_exec_form() -> None:
    text = (ROOT / "Dockerfile").read_text()
    stages = re.findall(r"^FROM (\S+)", text, re.M)
    assert len(stages) == 2 and all("-slim" in stage for stage in stages)
    assert "--require-hashes -r requirements.lock" in text
    (user,) = re.findall(r"^USER (\S+)", text, re.M)
    uid = user.split(":")[0]
    assert uid.isdigit() and int(uid) > 0
    (entrypoint,) = re.findall(r"^ENTRYPOINT (.+)$", text, re.M)
    assert json.loads(entrypoint) == ["clonejob-operator", "run"]
    (command,) = re.findall(r"^CMD (.+)$", text, re.M)
    flags.parser().parse_args(["run", *json.loads(command)])  # the default arguments are valid


def test_compute_engine_is_an_extra_that_the_test_extra_and_the_image_carry() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    google = {Requirement(spec).name for spec in project["optional-dependencies"]["computeengine"]}
    assert google == {"google-cloud-compute", "google-auth"}
    assert not google & {Requirement(spec).name for spec in project["dependencies"]}, "KubeVirt-only users skip them"
    assert google <= {Requirement(spec).name for spec in project["optional-dependencies"]["test"]}
