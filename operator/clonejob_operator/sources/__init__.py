"""Where a MigratingVm's replicated snapshots come from, when the operator itself keeps its status.

A MigratingVm without ``spec.replication`` keeps the status contract (a replication tool writes its status);
one with it is fed by a source the operator reads. Each source is a package of its own.
"""
