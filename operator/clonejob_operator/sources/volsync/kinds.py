"""The kind VolSync's source reads: the ReplicationDestination, which publishes each sync's image."""

from __future__ import annotations

from clonejob_operator.kube import Kind

REPLICATION_DESTINATION = Kind("volsync.backube", "v1alpha1", "replicationdestinations", "ReplicationDestination")
