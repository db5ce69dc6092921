"""The clone targets, keyed by name: the one place a target is registered, and the drivers built from them.

The core asks the catalog for "the driver of this MigratingVm", "of this started job", "of this effect",
"the ones that clean up after this job"; it never names a target. Adding one is its package (with its
``TARGET``), its API fields in ``api/``, and one line here.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator

from clonejob_operator.api.clonejob import CloneJobStatus
from clonejob_operator.api.migratingvm import MigratingVmSpec
from clonejob_operator.codes import Code, JobError
from clonejob_operator.faults import Classifier
from clonejob_operator.kube import OWN_WATCHED, Body, Kind, KubeClient
from clonejob_operator.settings import Settings
from clonejob_operator.targets import computeengine, kubevirt
from clonejob_operator.targets.base import CleanupReport, Driver, JobContext, Target, Watch

log = logging.getLogger(__name__)


class UnknownTarget(KeyError):
    """A target name no registration has (an effect of another operator version, say)."""


class Registry:
    def __init__(self, *targets: Target) -> None:
        self._targets = {target.name: target for target in targets}
        if len(self._targets) != len(targets):
            raise ValueError("two targets of one name")
        watches = [watch for target in targets for watch in target.watches]
        self._products = frozenset(watch.kind for watch in watches if watch.product)
        self._inputs = {watch.kind: watch for watch in watches if not watch.product}
        self._reads = tuple((watch.kind.plural, watch.reads) for watch in self._inputs.values() if watch.reads)

    def __getitem__(self, name: str) -> Target:
        try:
            return self._targets[name]
        except KeyError:
            raise UnknownTarget(f"no clone target {name!r}; known: {', '.join(sorted(self._targets))}") from None

    def __iter__(self) -> Iterator[Target]:
        return iter(self._targets.values())

    def watched(self) -> tuple[Kind, ...]:
        """What the operator watches: its own kinds, then each target's."""
        return (*OWN_WATCHED, *(watch.kind for target in self for watch in target.watches))

    def products(self) -> frozenset[Kind]:
        """The kinds of what the targets make: watched only with a job's label; a change wakes that job."""
        return self._products

    def inputs(self) -> frozenset[Kind]:
        """The kinds of what the targets' jobs read: a change wakes the jobs that read that object."""
        return frozenset(self._inputs)

    def input(self, kind: Kind) -> Watch | None:
        """How a change of an input of this kind is routed (``Watch.reads`` or ``Watch.wakes``)."""
        return self._inputs.get(kind)

    def reads(self, status: Body) -> frozenset[tuple[str, str]]:
        """(plural, name) of every input that a CloneJob with this stored status reads by name now."""
        return frozenset((plural, name) for plural, reads in self._reads for name in reads(status))

    def of_spec(self, spec: Body) -> Target | None:
        """The target whose defaults a MigratingVm's spec (as stored) sets."""
        return next((t for t in self if any(spec.get(member) is not None for member in t.defaults)), None)


REGISTRY = Registry(kubevirt.TARGET, computeengine.TARGET)
"""Every clone target: one registration line each."""


class TargetLoading(Exception):
    """A target's client library is loading in the background: a job that needs it waits, no worker blocks."""


class Drivers:
    """The drivers of the registered targets, each built on first use (a heavy one in the background)."""

    def __init__(
        self,
        kube: KubeClient,
        settings: Settings | None = None,
        load_in_background: bool = False,
        registry: Registry = REGISTRY,
    ) -> None:
        self._kube, self._settings, self.registry = kube, settings or Settings(), registry
        self._built: dict[str, Driver] = {}
        self._build_locks = {target.name: threading.Lock() for target in registry}
        """Each target's, held while its driver is built (seconds for a heavy one), so that a heavy load never
        holds up another target's first use; only a worker or a loader thread takes one."""
        self._start_lock = threading.Lock()
        self._background = load_in_background
        self._loaders: dict[str, threading.Thread] = {}
        self.loaded: Callable[[], None] = lambda: None
        """Called once a background load has ended (the jobs that waited for it are woken)."""

    def by_name(self, name: str) -> Driver:
        """The driver of target ``name``, built now if it was not; UnknownTarget for a name none has."""
        built = self._built.get(name)
        if built is not None:  # the usual case, without the lock
            return built
        target = self.registry[name]
        with self._build_locks[name]:
            if name not in self._built:
                self._built[name] = target.build(self._kube, self._settings)
            return self._built[name]

    def in_sight(self, migrating_vm_spec: Body) -> None:
        """A MigratingVm was seen: when its target is heavy, start loading it now (it takes seconds), before
        a CloneJob of it needs it."""
        target = self.registry.of_spec(migrating_vm_spec)
        if target is not None and target.heavy:
            self.warm_up(target)

    def warm_up(self, target: Target) -> None:
        """Build ``target``'s driver in a thread of its own, once (with background loading on)."""
        with self._start_lock:  # never the build's own lock: the caller may be the watch's event loop
            if not self._background or target.name in self._built or target.name in self._loaders:
                return
            loader = threading.Thread(target=self._load, args=(target,), name=f"load-{target.name}", daemon=True)
            self._loaders[target.name] = loader
            loader.start()

    def _load(self, target: Target) -> None:
        began = time.monotonic()
        log.info("loading the %s client library", target.title)
        try:
            self.by_name(target.name)
            log.info("loaded the %s client library in %.1fs", target.title, time.monotonic() - began)
        except JobError as error:  # each job that needs it says so
            log.warning("%s", error.message)
        finally:
            self.loaded()

    def _ready(self, target: Target) -> Driver:
        """The driver when built; TargetLoading while a background load of a heavy target is under way."""
        if target.heavy and self._background and target.name not in self._built:
            self.warm_up(target)
            loader = self._loaders.get(target.name)
            if loader is not None and loader.is_alive():
                raise TargetLoading(
                    f"loading the {target.title} client library (once after each start of the operator)"
                )
        return self.by_name(target.name)

    def classifiers(self) -> list[Classifier]:
        """The built drivers' own exception mappings."""
        return [driver.classify for driver in list(self._built.values())]

    def for_spec(self, spec: MigratingVmSpec) -> Driver:
        """The driver of a MigratingVm's target; TargetLoading while its library loads in the background."""
        fields = MigratingVmSpec.model_fields.items()
        members = {field.alias or name: getattr(spec, name) for name, field in fields}  # top level: no dump
        target = self.registry.of_spec(members)
        if target is None:
            names = ", ".join(member for t in self.registry for member in t.defaults)
            raise JobError(Code.INVALID_ARGUMENT, f"spec: one of {names} is required (it names no clone target)")
        return self._ready(target)

    def for_status(self, status: CloneJobStatus) -> Driver | None:
        """The driver of a started job; None when it never got as far as recording its target."""
        target = next((t for t in self.registry if t.recorded(status)), None)
        return self.by_name(target.name) if target is not None else None

    def for_cleanup(self, status: CloneJobStatus) -> list[Driver]:
        """The job's driver, and every other whose products the status records; a job whose details are lost
        is also surveyed by the targets whose products are found by label at no cost."""
        own = self.for_status(status)
        recorded = status.created_resources or []
        out = [own] if own is not None else []
        for target in self.registry:
            wanted = any(target.owns(ref) for ref in recorded) or (target.found_by_label and own is None)
            if wanted and all(driver.name != target.name for driver in out):
                out.append(self.by_name(target.name))
        return out

    def survey(self, job: JobContext) -> CleanupReport:
        """Cleanup's look: what of a cancelled or failed job's products still exists (deleting ones count
        until they are gone) and what to delete now, joined from every driver ``for_cleanup`` picks. Each
        finds its products by the job's uid label and by status.createdResources, and deletes nothing that
        does not carry the job's uid."""
        reports = [driver.survey(job) for driver in self.for_cleanup(job.status)]
        blocked = [report.blocked for report in reports if report.blocked]
        return CleanupReport(
            remaining=tuple(item for report in reports for item in report.remaining),
            blocked="; ".join(blocked) or None,
            deletable=tuple(item for report in reports for item in report.deletable),
        )


__all__ = ["Driver", "Drivers", "Registry", "TargetLoading", "UnknownTarget"]
