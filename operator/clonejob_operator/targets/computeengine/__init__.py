"""The Compute Engine target: the vmmigration API's computeEngineTargetDetails and computeEngineDisksTargetDetails.

``model`` (the API fields) and ``driver`` (the steps and the cleanup).
"""
