"""``clonejob-operator demo``: a package apart from the operator's, which imports it only for that command.

``story`` plays the four CloneJobs; ``stage`` installs and removes what they need and starts the operator;
``standins`` plays the controllers a demo cluster lacks. What the demo shows is in ``story``'s docstring.
"""
