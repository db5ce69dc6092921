"""Clone targets: one package each, behind the driver interface in ``base``; ``catalog`` picks one.

Nothing is imported here, so that the API models can import a target's ``model`` module without
pulling in the drivers (which import the API models).
"""
