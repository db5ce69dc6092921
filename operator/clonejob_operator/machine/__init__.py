"""The state machine, in one place: pure, no I/O.

``model`` (what a decision reads and says: ``World``, ``Decision``, ``Need``, ``Admission``), ``transitions``
(``need`` and ``decide``, the table), ``effects`` (what a decision asks the committer to do), ``ordering``
(which effects a decision becomes, in what order, and when to look again), ``conditions`` (the one
conditions calculator) and ``reasons`` (every reason a condition or an Event gives, with what wakes a
waiting job). Nothing is imported here: each name has one home.
"""
