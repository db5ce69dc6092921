"""The Compute Engine target: the vmmigration API's computeEngineTargetDetails and computeEngineDisksTargetDetails.

``requests`` (pure builders), ``plan`` (pure), ``targetproject`` (TargetProjects, credentials, clients) and
``driver`` (the steps and the cleanup); its API fields are in ``api/computeengine.py``. ``TARGET`` is what
the catalog registers; nothing here loads Google's libraries (``driver`` does, when a job first needs it).
"""

from __future__ import annotations

from clonejob_operator.api.clonejob import CloneJobStatus, ResourceRef
from clonejob_operator.api.computeengine import API
from clonejob_operator.codes import Code, JobError
from clonejob_operator.kube import TARGET_PROJECT, KubeClient
from clonejob_operator.machine.reasons import Trigger
from clonejob_operator.permissions import Rule
from clonejob_operator.settings import Settings
from clonejob_operator.targets.base import Driver, Target, Watch

NAME = "computeengine"


def _build(kube: KubeClient, settings: Settings) -> Driver:
    try:
        from clonejob_operator.targets.computeengine.driver import ComputeEngineDriver
    except ImportError as error:
        raise JobError(Code.FAILED_PRECONDITION, missing_extra(error)) from None
    return ComputeEngineDriver(kube, settings)


def missing_extra(error: ImportError) -> str:
    return (
        f"the Compute Engine target needs Google's client libraries, which this installation lacks ({error.name}): "
        "install the operator with pip install 'clonejob-operator[computeengine]' (the image has them)"
    )


def _recorded(status: CloneJobStatus) -> bool:
    return bool(status.compute_engine_target_details or status.compute_engine_disks_target_details)


def _owns(ref: ResourceRef) -> bool:
    return ref.api_version == API


TARGET = Target(
    name=NAME,
    title="Compute Engine",
    defaults=("computeEngineTargetDefaults", "computeEngineDisksTargetDefaults"),
    recorded=_recorded,
    owns=_owns,
    build=_build,
    watches=(Watch(TARGET_PROJECT, wakes=Trigger.TARGET_PROJECT),),
    rules=(
        Rule(
            "vmmigration.dev",
            ("targetprojects",),
            ("get", "list", "watch"),
            "a Compute Engine target's TargetProject, from the watch cache; its arrival wakes the jobs waiting on it",
        ),
        Rule(
            "",
            ("secrets",),
            ("get",),
            "a TargetProject's service-account key, read only when a TargetProject names it (credentialsSecretRef)",
        ),
    ),
    heavy=True,
)
