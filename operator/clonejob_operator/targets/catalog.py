"""Clone targets behind one interface: pick the driver for a MigratingVm, a started CloneJob, or its cleanup."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from clonejob_operator.api.clonejob import CloneJobStatus
from clonejob_operator.api.computeengine import API as COMPUTE_API
from clonejob_operator.api.migratingvm import TARGET_MEMBERS, MigratingVmSpec
from clonejob_operator.codes import Code, JobError
from clonejob_operator.faults import Classifier
from clonejob_operator.kube import Body, KubeClient
from clonejob_operator.settings import Settings
from clonejob_operator.targets.base import Driver
from clonejob_operator.targets.kubevirt.driver import KubevirtDriver

log = logging.getLogger(__name__)

COMPUTE_ENGINE_DEFAULTS = tuple(member for member in TARGET_MEMBERS if member.startswith("computeEngine"))
"""The MigratingVm spec fields that make it a Compute Engine source."""


class TargetLoading(Exception):
    """A target's client library is loading in the background: a job that needs it waits, no worker blocks."""


class Drivers:
    def __init__(self, kube: KubeClient, settings: Settings | None = None, load_in_background: bool = False) -> None:
        self.kubevirt = KubevirtDriver(kube)
        self._kube, self._settings = kube, settings or Settings()
        self._compute_engine: Driver | None = None
        self._load_lock = threading.Lock()
        """Held while the library loads (seconds): only by a worker, or the loader thread."""
        self._start_lock = threading.Lock()
        self._background = load_in_background
        self._loader: threading.Thread | None = None
        self.loaded: Callable[[], None] = lambda: None
        """Called once a background load has ended (the jobs that waited for it are woken)."""

    @property
    def compute_engine(self) -> Driver:
        """Loaded on first use: the Compute Engine client library weighs about 100 MiB, which an operator
        that only ever clones onto KubeVirt should not carry."""
        with self._load_lock:
            if self._compute_engine is None:
                try:
                    from clonejob_operator.targets.computeengine.driver import ComputeEngineDriver
                except ImportError as error:
                    raise JobError(Code.FAILED_PRECONDITION, missing_extra(error)) from None
                self._compute_engine = ComputeEngineDriver(self._kube, self._settings)
            return self._compute_engine

    def in_sight(self, migrating_vm_spec: Body) -> None:
        """A MigratingVm was seen: when it targets Compute Engine, start loading that library now (it takes
        seconds), before a CloneJob of it needs it."""
        if any(migrating_vm_spec.get(key) for key in COMPUTE_ENGINE_DEFAULTS):
            self.warm_up()

    def warm_up(self) -> None:
        """Load the Compute Engine target in a thread of its own, once (with background loading on)."""
        with self._start_lock:  # never the load's own lock: the caller may be the watch's event loop
            if not self._background or self._compute_engine is not None or self._loader is not None:
                return
            self._loader = threading.Thread(target=self._load, name="load-computeengine", daemon=True)
            self._loader.start()

    def _load(self) -> None:
        began = time.monotonic()
        log.info("loading the Compute Engine client library")
        try:
            self.compute_engine  # noqa: B018 (loads it)
            log.info("loaded the Compute Engine client library in %.1fs", time.monotonic() - began)
        except JobError as error:  # each job that needs it says so
            log.warning("%s", error.message)
        finally:
            self.loaded()

    def _ready(self) -> Driver:
        """The Compute Engine driver when loaded; TargetLoading while a background load is under way."""
        if self._compute_engine is not None or not self._background:
            return self.compute_engine
        self.warm_up()
        loader = self._loader
        if loader is not None and loader.is_alive():
            raise TargetLoading("loading the Compute Engine client library (once after each start of the operator)")
        return self.compute_engine

    def by_name(self, name: str) -> Driver:
        return self.kubevirt if name == self.kubevirt.name else self.compute_engine

    def classifiers(self) -> list[Classifier]:
        """The loaded targets' own exception mappings."""
        loaded = [self.kubevirt, *([self._compute_engine] if self._compute_engine is not None else [])]
        return [driver.classify for driver in loaded]

    def for_spec(self, spec: MigratingVmSpec) -> Driver:
        """The driver of a MigratingVm's target; TargetLoading while its library loads in the background."""
        return self.kubevirt if spec.kubevirt_target_defaults is not None else self._ready()

    def for_status(self, status: CloneJobStatus) -> Driver | None:
        """The driver of a started job; None when it never got as far as recording its target."""
        if status.kubevirt_target_details is not None:
            return self.kubevirt
        if status.compute_engine_target_details or status.compute_engine_disks_target_details:
            return self.compute_engine
        return None

    def for_cleanup(self, status: CloneJobStatus) -> list[Driver]:
        """The job's driver, and any other whose products the status records. A job whose details are lost
        is also surveyed by the KubeVirt target, whose products are found by label at no cost."""
        own = self.for_status(status)
        recorded = status.created_resources or []
        out = [own] if own is not None else []
        if self.kubevirt not in out and (own is None or any(self.kubevirt.owns(ref) for ref in recorded)):
            out.append(self.kubevirt)
        if any(ref.api_version == COMPUTE_API for ref in recorded) and self.compute_engine not in out:
            out.append(self.compute_engine)
        return out


def missing_extra(error: ImportError) -> str:
    return (
        f"the Compute Engine target needs Google's client libraries, which this installation lacks ({error.name}): "
        "install the operator with pip install 'clonejob-operator[computeengine]' (the image has them)"
    )


__all__ = ["Driver", "Drivers", "TargetLoading"]
