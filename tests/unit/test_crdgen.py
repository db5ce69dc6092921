"""crds/ is generated from the models: stale files fail here; the schemas are structural."""

from __future__ import annotations

import io
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

import yaml

from clonejob_operator import cli, crdgen

CRDS = Path(__file__).resolve().parents[2] / "crds"


def test_crds_directory_matches_the_generator() -> None:
    expected = {name: crdgen.render(crd) for name, crd in crdgen.all_crds().items()}
    actual = {p.name: p.read_text() for p in CRDS.glob("*.yaml")}
    assert actual == expected, "crds/ is stale: run `clonejob-operator crds --output-dir crds`"


def test_cli_prints_the_same_crds() -> None:
    out = io.StringIO()
    with redirect_stdout(out):
        assert cli.main(["crds"]) == 0
    assert list(yaml.safe_load_all(out.getvalue())) == list(crdgen.all_crds().values())


def _walk(node: Any, path: str = "") -> list[str]:
    """Constructs that a structural schema forbids, or that our generator must never leave behind."""
    bad = []
    if isinstance(node, dict):
        for key in ("$ref", "anyOf", "oneOf", "allOf", "title", "$defs", "const"):
            if key in node:
                bad.append(f"{path}: {key}")
        if node.get("additionalProperties") in (True, False):
            bad.append(f"{path}: additionalProperties bool")
        if (
            node.get("type") == "object"
            and "properties" not in node
            and "additionalProperties" not in node
            and not node.get("x-kubernetes-preserve-unknown-fields")
        ):
            bad.append(f"{path}: object without properties")
        for key, value in node.items():
            bad.extend(_walk(value, f"{path}.{key}"))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            bad.extend(_walk(value, f"{path}[{index}]"))
    return bad


EMPTY_MESSAGES = {"metadata", "status", "adaptingOs", "preparingVmDisks", "instantiatingMigratedVm", "pod"}
EMPTY_MESSAGES |= {"disksTargetDefaults", "disksTargetDetails"}
"""Objects with no fields of their own (metadata, which the API server types, and the API's empty messages)."""


def test_schemas_are_structural() -> None:
    for crd in crdgen.all_crds().values():
        schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
        bare = [found for found in _walk(schema) if found.endswith(": object without properties")]
        assert {found.split(":")[0].rsplit(".", 1)[1] for found in bare} <= EMPTY_MESSAGES
        assert [found for found in _walk(schema) if found not in bare] == []
        assert all("type" in prop for prop in schema["properties"]["spec"]["properties"].values())


def test_no_schema_holds_an_empty_properties_which_the_api_server_would_drop() -> None:
    """The stored CRD must equal the applied one, or every server-side apply of it conflicts on .spec.versions."""
    for name, crd in crdgen.all_crds().items():
        assert "properties: {}" not in crdgen.render(crd), name


def test_clonejob_crd_names_and_columns() -> None:
    crd = crdgen.clonejob_crd()
    assert crd["spec"]["names"]["shortNames"] == ["cjob"]
    assert crd["spec"]["names"]["categories"] == ["vmmigration"]
    columns = crd["spec"]["versions"][0]["additionalPrinterColumns"]
    assert [c["name"] for c in columns if "priority" not in c] == [
        "State",
        "Step",
        "MigratingVm",
        "Age",
        "Ended",
        "Reason",
    ]
    assert [c["name"] for c in columns if c.get("priority") == 1] == ["Progress", "VM", "Message"]
    assert crd["spec"]["versions"][0]["subresources"] == {"status": {}}
    status = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["status"]["properties"]
    for api_field in (
        "name",
        "createTime",
        "stateTime",
        "endTime",
        "state",
        "error",
        "steps",
        "computeEngineTargetDetails",
        "computeEngineDisksTargetDetails",
        "targetDetails",
        "computeEngineVmDetails",
    ):
        assert api_field in status
    assert status["state"]["enum"][0] == "STATE_UNSPECIFIED"


def test_spec_rules() -> None:
    spec = crdgen.clonejob_crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    assert spec["required"] == ["migratingVm"]
    assert spec["properties"]["cancel"]["x-kubernetes-validations"][0]["rule"] == "self || !oldSelf"
    rules = [rule["rule"] for rule in spec["properties"]["migratingVm"]["x-kubernetes-validations"]]
    assert rules[0] == "!self.contains('/')" and rules[-1] == "self == oldSelf"
    assert "pattern" not in spec["properties"]["migratingVm"], "refused in words, not with a raw regular expression"


def test_cli_writes_files(tmp_path: Path) -> None:
    assert cli.main(["crds", "--output-dir", str(tmp_path)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(crdgen.all_crds())


def test_every_generated_field_has_a_description_and_the_apis_fields_have_the_apis_words() -> None:
    missing: list[str] = []

    def walk(node: dict[str, object], path: str) -> None:
        for name, prop in (node.get("properties") or {}).items():  # type: ignore[attr-defined]
            if not prop.get("description"):
                missing.append(f"{path}.{name}")
            walk(prop, f"{path}.{name}")
            if prop.get("type") == "array":
                walk(prop.get("items") or {}, f"{path}.{name}[]")

    for crd in crdgen.all_crds().values():
        walk(crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"], crd["spec"]["names"]["kind"])
    # The root metadata may carry nothing but its type (the API server refuses more); kubectl explains it.
    assert missing == [f"{kind}.metadata" for kind in ("AdaptationProfile", "TargetProject", "MigratingVm", "CloneJob")]
    status = crdgen.clonejob_crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["status"]
    fields = status["properties"]
    assert fields["name"]["description"].startswith("Output only. The name of the clone")
    assert (
        "ADAPTING_OS: OS adaptation is running as part of the clone job to generate license."
        in (fields["state"]["description"])
    )
    step = fields["steps"]["items"]["properties"]
    assert [step[m]["description"] for m in ("preparingVmDisks", "adaptingOs", "instantiatingMigratedVm")] == [
        "Preparing VM disks step.",
        "Adapting OS step.",
        "Instantiating migrated VM step.",
    ]
    assert fields["computeEngineDisksTargetDetails"]["description"] == (
        "Output only. Details of the target Persistent Disks in Compute Engine."
    )
