"""VolSync as a MigratingVm's source: each disk replicated by a ``volsync.backube/v1alpha1`` ReplicationDestination
with ``copyMethod: Snapshot``, whose ``status.latestImage`` names the VolumeSnapshot of its latest sync.

- ``cycles``: the MigratingVm's status worked out from its ReplicationDestinations and their images (pure).
- ``holds``: keeping an image from VolSync's rotation while something needs it, by VolSync's own
  ``volsync.backube/do-not-delete`` label and a record of who holds it (pure).
"""
