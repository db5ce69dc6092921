"""Kubernetes Events about CloneJobs. Posting is best effort: a 403 or an outage never fails a job.

An Event is posted once and never retried. After a refusal (403: no RBAC for Events, or a server that
serves none) posting pauses for ``pause`` seconds instead of costing a request per transition.
"""

from __future__ import annotations

import logging
import socket
import time

from kubernetes.client.exceptions import ApiException

from clonejob_operator.faults import NO_ANSWER, api_message
from clonejob_operator.kube import KubeClient, NotLeading, status_of
from clonejob_operator.timestamps import format_time, now

log = logging.getLogger(__name__)
COMPONENT = "clonejob-operator"


class EventPoster:
    def __init__(self, kube: KubeClient, pause: float = 600.0, instance: str | None = None) -> None:
        self.kube = kube
        self.instance = instance or socket.gethostname()
        self.pause = pause
        self._refused: set[int] = set()
        self._paused_until = 0.0

    def post(self, involved: dict[str, str], type_: str, reason: str, message: str) -> bool:
        """Post one Event; False (and a log line, once per refusal code) when the API refuses it."""
        if time.monotonic() < self._paused_until:
            return False
        moment = format_time(now())
        body = {
            "apiVersion": "v1",
            "kind": "Event",
            # Named as the kubelet names its Events: unique, and stable for whoever reads them.
            "metadata": {"name": f"{involved['name']}.{time.time_ns():x}", "namespace": involved["namespace"]},
            "involvedObject": involved,
            "type": type_,
            "reason": reason,
            "message": message[:1024],
            "source": {"component": COMPONENT},
            "reportingComponent": COMPONENT,
            "reportingInstance": self.instance,
            "firstTimestamp": moment,
            "lastTimestamp": moment,
            "count": 1,
        }
        try:
            self.kube.post_event(involved["namespace"], body)
            return True
        except ApiException as error:
            code = status_of(error)
            if code in (401, 403, 404):
                self._paused_until = time.monotonic() + self.pause
            if code not in self._refused:
                self._refused.add(code)
                said = api_message(error)
                log.warning(
                    "cannot post Events (API answered %s%s); carrying on without them",
                    code,
                    f": {said}" if said else "",
                )
            return False
        except NotLeading:  # the Lease was lost a moment ago: the next leader tells the story on
            return False
        except NO_ANSWER as error:  # connection trouble: the job goes on (and says so at DEBUG: an outage is told once)
            log.debug("cannot post an Event: %s", error)
            return False
