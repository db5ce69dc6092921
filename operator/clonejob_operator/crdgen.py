"""CustomResourceDefinitions generated from the pydantic models: ``crds/`` is this module's output."""

from __future__ import annotations

import copy
import re
from typing import Any

import yaml
from pydantic import BaseModel

from clonejob_operator import GROUP, VERSION
from clonejob_operator.api import docs
from clonejob_operator.api.adaptation import AdaptationProfileSpec, AdaptationProfileStatus
from clonejob_operator.api.clonejob import FINISHED, CloneJobSpec, CloneJobStatus
from clonejob_operator.api.migratingvm import MigratingVmSpec, MigratingVmStatus
from clonejob_operator.api.targetproject import TargetProjectSpec, TargetProjectStatus
from clonejob_operator.machine.conditions import READY

Schema = dict[str, Any]
_DROP = {"title", "discriminator"}


def _resolve(node: Any, defs: dict[str, Schema], model: str | None = None) -> Any:
    """Inline ``$ref``s, fold ``Optional`` unions, drop what a structural schema does not allow, and
    give every property its description (``api.docs``). ``model`` names the model whose properties these are."""
    if isinstance(node, list):
        return [_resolve(item, defs, model) for item in node]
    if not isinstance(node, dict):
        return node
    node = dict(node)
    if "$ref" in node:
        name = node.pop("$ref").rsplit("/", 1)[-1]
        target = copy.deepcopy(defs[name])
        target.update(node)  # sibling keys (description, validations) win over the definition's own
        return _resolve(target, defs, name)
    for combinator in ("anyOf", "oneOf"):
        if combinator in node:
            options = [opt for opt in node.pop(combinator) if opt != {"type": "null"}]
            if len(options) != 1:
                raise ValueError(f"cannot express a union in a structural schema: {options}")
            merged = dict(options[0])
            merged.update(node)
            return _resolve(merged, defs, model)
    if "allOf" in node and len(node["allOf"]) == 1:
        merged = dict(node.pop("allOf")[0])
        merged.update(node)
        return _resolve(merged, defs, model)
    if "const" in node:
        node["enum"] = [node.pop("const")]
    if node.get("default", 0) is None:
        del node["default"]
    if node.get("additionalProperties") is False or node.get("additionalProperties") is True:
        del node["additionalProperties"]
    # An empty message (the vmmigration API's step bodies) stays a bare object: the API server drops an empty
    # ``properties``, and a schema that differs from what it stores conflicts at every server-side apply.
    out: Schema = {}
    for key, value in node.items():
        if key in _DROP or key == "$defs" or (key == "properties" and not value):
            continue
        if key == "properties":
            out[key] = {name: _described(model, name, _resolve(prop, defs)) for name, prop in value.items()}
        else:
            out[key] = _resolve(value, defs, model)
    return out


def _described(model: str | None, name: str, prop: Schema) -> Schema:
    text = docs.describe(model, name, prop.get("description"))
    return {**prop, "description": plain(text)} if text else prop


def plain(text: str) -> str:
    """A description as kubectl explain shows it: plain text (a docstring's ``code`` marks are dropped)."""
    return re.sub(r"``([^`]*)``", r"\1", text)


def schema_of(model: type[BaseModel]) -> Schema:
    raw = model.model_json_schema(by_alias=True, mode="validation")
    return dict(_plain(_resolve(raw, raw.get("$defs", {}), model.__name__)))


def _plain(node: Any) -> Any:
    """Every description of a schema as plain text (a model's docstring becomes its description)."""
    if isinstance(node, list):
        return [_plain(item) for item in node]
    if not isinstance(node, dict):
        return node
    return {k: plain(v) if k == "description" and isinstance(v, str) else _plain(v) for k, v in node.items()}


def _root(spec: type[BaseModel], status: type[BaseModel], description: str) -> Schema:
    return {
        "type": "object",
        "description": description,
        "required": ["spec"],
        "properties": {
            "apiVersion": {"type": "string", "description": docs.BY_NAME["apiVersion"]},
            "kind": {"type": "string", "description": docs.BY_NAME["kind"]},
            "metadata": {"type": "object"},  # the API server allows nothing more here, a description included
            "spec": {**schema_of(spec), "description": docs.BY_NAME["spec"]},
            "status": {**schema_of(status), "description": docs.BY_NAME["status"]},
        },
    }


FINISHED_CEL = ", ".join(f"'{state.value}'" for state in sorted(FINISHED))
CANCEL_OF_A_FINISHED_JOB = {
    # The vmmigration API's cancel answers a finished job with FAILED_PRECONDITION; here the API server refuses it.
    "rule": (
        "!(has(self.spec.cancel) && self.spec.cancel && !(has(oldSelf.spec.cancel) && oldSelf.spec.cancel))"
        f" || !has(oldSelf.status) || !has(oldSelf.status.state) || !(oldSelf.status.state in [{FINISHED_CEL}])"
    ),
    "messageExpression": (
        "'the CloneJob has finished (status.state ' + oldSelf.status.state + '): there is nothing to cancel'"
    ),
    "reason": "FieldValueForbidden",
    "fieldPath": ".spec.cancel",
}


def _crd(
    *,
    kind: str,
    plural: str,
    short: str,
    schema: Schema,
    columns: list[dict[str, Any]],
    selectable: tuple[str, ...] = (),
    scope: str = "Namespaced",
) -> dict[str, Any]:
    version: dict[str, Any] = {
        "name": VERSION,
        "served": True,
        "storage": True,
        "subresources": {"status": {}},
        "additionalPrinterColumns": columns,
        "schema": {"openAPIV3Schema": schema},
    }
    if selectable:  # kubectl get --field-selector on these (Kubernetes 1.31+; 1.30 with its beta gate)
        version["selectableFields"] = [{"jsonPath": path} for path in selectable]
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": f"{plural}.{GROUP}",
            "labels": {"app.kubernetes.io/name": "clonejob-operator", "app.kubernetes.io/part-of": "clonejob-operator"},
        },
        "spec": {
            "group": GROUP,
            "scope": scope,
            "names": {
                "kind": kind,
                "listKind": f"{kind}List",
                "plural": plural,
                "singular": kind.lower(),
                "shortNames": [short],
                "categories": ["vmmigration"],
            },
            "versions": [version],
        },
    }


READY_PATH = f'.status.conditions[?(@.type=="{READY}")]'
"""Ready's reason and message say what a job waits for or how it ended (machine/conditions.py sets them so)."""


def _column(name: str, path: str, kind: str = "string", priority: int = 0, description: str = "") -> dict[str, Any]:
    column: dict[str, Any] = {"name": name, "type": kind, "jsonPath": path}
    if priority:
        column["priority"] = priority
    if description:
        column["description"] = description
    return column


def clonejob_crd() -> dict[str, Any]:
    schema = _root(CloneJobSpec, CloneJobStatus, "A test clone of a MigratingVm, made from its latest snapshots.")
    schema["x-kubernetes-validations"] = [CANCEL_OF_A_FINISHED_JOB]
    return _crd(
        kind="CloneJob",
        plural="clonejobs",
        short="cjob",
        schema=schema,
        selectable=(".spec.migratingVm", ".status.state"),
        columns=[
            _column("State", ".status.state"),
            _column("Step", ".status.currentStep"),
            _column("MigratingVm", ".spec.migratingVm"),
            _column("Age", ".metadata.creationTimestamp", "date"),
            _column("Ended", ".status.endTime", "date"),
            _column(
                "Reason",
                READY_PATH + ".reason",
                description="Why it is in its state: what it waits for, or how it ended.",
            ),
            _column("Progress", ".status.progressPercent", "integer", 1, "Whole-job progress, percent."),
            _column(
                "VM",
                '.status.createdResources[?(@.kind=="VirtualMachine")].name',
                priority=1,
                description="The VirtualMachine the job made; empty until it makes one "
                "(a FAILED or CANCELLED job removed it).",
            ),
            _column("Message", READY_PATH + ".message", priority=1, description="The Ready condition's message."),
        ],
    )


def migratingvm_crd() -> dict[str, Any]:
    return _crd(
        kind="MigratingVm",
        plural="migratingvms",
        short="mvm",
        schema=_root(MigratingVmSpec, MigratingVmStatus, "A VM being replicated; the parent of CloneJobs."),
        columns=[
            _column("Source VM", ".spec.sourceVmId"),
            _column("State", ".status.state"),
            _column("Cycle", ".status.lastSync.cycleNumber", "integer"),
            _column("Last Sync", ".status.lastSync.lastSyncTime", "date"),
            _column("Age", ".metadata.creationTimestamp", "date"),
            _column("Display Name", ".spec.displayName", priority=1),
            _column(
                "Cycle Progress",
                ".status.lastReplicationCycle.progressPercent",
                "integer",
                1,
                "The replication cycle under way, percent.",
            ),
            _column("Error", ".status.error.message", priority=1, description="Why it is in the ERROR state."),
        ],
    )


def targetproject_crd() -> dict[str, Any]:
    return _crd(
        kind="TargetProject",
        plural="targetprojects",
        short="tp",
        schema=_root(
            TargetProjectSpec,
            TargetProjectStatus,
            "A Google Cloud project that Compute Engine clones of this namespace may be made in.",
        ),
        columns=[
            _column("Project", ".spec.project"),
            _column("Credentials", ".spec.credentialsSecretRef.name"),
            _column("Age", ".metadata.creationTimestamp", "date"),
        ],
    )


def adaptationprofile_crd() -> dict[str, Any]:
    return _crd(
        kind="AdaptationProfile",
        plural="adaptationprofiles",
        short="adprofile",
        scope="Cluster",
        schema=_root(
            AdaptationProfileSpec,
            AdaptationProfileStatus,
            "What an adaptingOs step runs, and as whom: chosen by a cluster admin, named by MigratingVms.",
        ),
        columns=[
            _column("Image", ".spec.image"),
            _column("ServiceAccount", ".spec.serviceAccountName"),
            _column("Age", ".metadata.creationTimestamp", "date"),
        ],
    )


def all_crds() -> dict[str, dict[str, Any]]:
    """File name -> CRD, in the order they are applied."""
    return {
        f"{GROUP}_adaptationprofiles.yaml": adaptationprofile_crd(),
        f"{GROUP}_targetprojects.yaml": targetproject_crd(),
        f"{GROUP}_migratingvms.yaml": migratingvm_crd(),
        f"{GROUP}_clonejobs.yaml": clonejob_crd(),
    }


def render(crd: dict[str, Any]) -> str:
    header = "# Generated from the pydantic models by `clonejob-operator crds`. Do not edit.\n"
    return header + yaml.safe_dump(crd, sort_keys=False, width=120)


def render_all() -> str:
    return "---\n".join(render(crd) for crd in all_crds().values())
