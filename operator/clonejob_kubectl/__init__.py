"""``kubectl clonejob``, the kubectl plugin: a package apart from the operator, which never imports it."""
