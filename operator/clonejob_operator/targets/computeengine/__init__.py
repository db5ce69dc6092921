"""The Compute Engine target: the seed's ``computeEngineTargetDetails`` and ``computeEngineDisksTargetDetails``.

``model`` (the API fields) and ``driver`` (the steps and the cleanup).
"""
