"""The vmmigration API's ``list`` of CloneJobs: AIP-160 filters (the subset that fits), ordering, and what the
API server can do itself (field selectors on the MigratingVm and the state).

Supported filter grammar, a subset of AIP-160's EBNF::

    filter      : expression
    expression  : sequence ("OR" sequence)*        (AND binds tighter than OR, as in AIP-160)
    sequence    : factor ("AND" factor)*
    factor      : ["NOT" | "-"] term
    term        : "(" expression ")" | FIELD COMPARATOR value
    COMPARATOR  : "=" | "!=" | "<" | "<=" | ">" | ">="
    value       : a "quoted string" or a bare word

Fields: ``state``, ``name``, ``migratingVm`` (strings: = and != only), ``createTime``, ``endTime``
(RFC 3339 timestamps: every comparator).
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from lark import Lark, Token, Transformer, UnexpectedCharacters, UnexpectedInput, UnexpectedToken

from clonejob_operator.api.clonejob import State
from clonejob_operator.jobs import read_job
from clonejob_operator.kube import Body
from clonejob_operator.timestamps import parse_time

GRAMMAR = r"""
?expression : sequence ("OR" sequence)*        -> any_of
?sequence   : factor ("AND" factor)*           -> all_of
?factor     : ("NOT" | "-") term               -> negated
            | term
?term       : "(" expression ")"
            | FIELD COMPARATOR value           -> comparison
value       : ESCAPED_STRING | WORD
FIELD       : /[A-Za-z][A-Za-z0-9_.]*/
COMPARATOR  : "!=" | "<=" | ">=" | "=" | "<" | ">"
WORD        : /[^\s()"=<>!]+/
%import common.ESCAPED_STRING
%import common.WS
%ignore WS
"""
STRINGS = {"state", "name", "migratingVm"}
TIMES = {"createTime", "endTime"}
FIELDS = STRINGS | TIMES
_PARSER = Lark(GRAMMAR, start="expression", parser="lalr")


class FilterError(ValueError):
    """A filter this list does not support; the message points at the offending token."""


Predicate = Callable[[Body], bool]


@dataclass(frozen=True)
class Comparison:
    field: str
    op: str
    value: str


@dataclass(frozen=True)
class Filter:
    """A parsed filter: a predicate over CloneJobs, and the equalities the API server can apply itself."""

    test: Predicate
    server: tuple[Comparison, ...]
    """When the whole filter is a conjunction, its ``state``/``migratingVm`` equalities (and only then)."""


def field_of(body: Body, field: str) -> str | None:
    job = read_job(body)
    if field == "state":
        return job.status.current.value
    if field == "name":
        return job.name
    if field == "migratingVm":
        return job.spec.migrating_vm if job.spec else str((body.get("spec") or {}).get("migratingVm", ""))
    if field == "createTime":
        return job.status.create_time or str(body["metadata"].get("creationTimestamp") or "") or None
    return job.status.end_time


class _Build(Transformer[Token, Any]):
    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text

    def value(self, items: list[Token]) -> Token:
        return items[0]  # kept as a token, so that an error can point at it

    def comparison(self, items: list[Any]) -> tuple[Predicate, list[Comparison]]:
        field, op, token = items
        value = token[1:-1].replace('\\"', '"') if token.type == "ESCAPED_STRING" else str(token)
        if str(field) not in FIELDS:
            raise _point(self.text, field, f"unknown field {str(field)!r}; fields: {', '.join(sorted(FIELDS))}")
        name, comparator = str(field), str(op)
        if name in STRINGS and comparator not in ("=", "!="):
            raise _point(self.text, op, f"{name} takes = or !=, not {comparator}")
        if name == "state" and value not in {s.value for s in State}:
            raise _point(self.text, token, f"no state {value!r}; states: {', '.join(s.value for s in State)}")
        if name in TIMES:
            try:
                moment = parse_time(value)
            except ValueError:
                raise _point(self.text, token, f"{name} needs an RFC 3339 timestamp, not {value!r}") from None
            return _time_test(name, comparator, moment), []
        equal = comparator == "="
        return (lambda body: (field_of(body, name) == value) is equal), [Comparison(name, comparator, value)]

    def negated(self, items: list[Any]) -> tuple[Predicate, None]:
        inner = items[-1][0]
        return (lambda body: not inner(body)), None

    def all_of(self, items: list[Any]) -> tuple[Predicate, list[Comparison] | None]:
        if len(items) == 1:
            return (items[0][0], items[0][1])
        tests = [item[0] for item in items]
        pushed: list[Comparison] | None = []
        for item in items:
            pushed = None if pushed is None or item[1] is None else pushed + item[1]
        return (lambda body: all(test(body) for test in tests)), pushed

    def any_of(self, items: list[Any]) -> tuple[Predicate, list[Comparison] | None]:
        if len(items) == 1:
            return (items[0][0], items[0][1])
        tests = [item[0] for item in items]
        return (lambda body: any(test(body) for test in tests)), None


def _time_test(field: str, op: str, moment: datetime) -> Predicate:
    compare: dict[str, Callable[[datetime], bool]] = {
        "=": lambda t: t == moment,
        "!=": lambda t: t != moment,
        "<": lambda t: t < moment,
        "<=": lambda t: t <= moment,
        ">": lambda t: t > moment,
        ">=": lambda t: t >= moment,
    }

    def test(body: Body) -> bool:
        value = field_of(body, field)
        return value is not None and compare[op](parse_time(value))

    return test


def _point(text: str, token: Token, why: str) -> FilterError:
    column = getattr(token, "column", None) or 1
    return _at(text, column, why)


def _at(text: str, column: int, why: str) -> FilterError:
    return FilterError(f"{why}\n  {text}\n  {' ' * (column - 1)}^")


EXPECTED = {
    "COMPARATOR": "a comparator (= != < <= > >=)",
    "FIELD": "a field",
    "WORD": "a value",
    "ESCAPED_STRING": "a value",
    "LPAR": "'('",
    "RPAR": "')'",
    "AND": "AND",
    "OR": "OR",
    "NOT": "NOT",
    "MINUS": "-",
}


def _expected(names: set[str]) -> str:
    words = sorted({EXPECTED.get(name, name) for name in names})
    return " or ".join(words) if words else "nothing more"


def _unclosed(text: str) -> int | None:
    """The column of the first '(' outside quotes that no ')' closes, or None."""
    opened: list[int] = []
    quoted = False
    for index, char in enumerate(text):
        if char == '"' and (index == 0 or text[index - 1] != "\\"):
            quoted = not quoted
        elif not quoted and char == "(":
            opened.append(index + 1)
        elif not quoted and char == ")" and opened:
            opened.pop()
    return opened[0] if opened else None


def _unreadable(text: str, error: UnexpectedInput) -> FilterError:
    """Point at the token the parser could not take, and say what it expected there."""
    if isinstance(error, UnexpectedToken):
        token = error.token
        if token.type == "$END":
            unclosed = _unclosed(text)
            if unclosed is not None and "RPAR" in error.expected:
                return _at(text, unclosed, "this '(' is never closed")
            return _at(text, len(text) + 1, f"the filter ends early: expected {_expected(set(error.expected))}")
        if token.type == "RPAR" and not error.expected & {"RPAR"}:
            return _point(text, token, "this ')' closes no '('")
        return _point(text, token, f"unexpected {str(token)!r}: expected {_expected(set(error.expected))}")
    if isinstance(error, UnexpectedCharacters):
        char = text[error.column - 1]
        if char == '"':
            return _at(text, error.column, "this quote is never closed")
        return _at(text, error.column, f"cannot read {char!r} here: expected {_expected(set(error.allowed))}")
    return _at(text, getattr(error, "column", 1) or 1, "cannot read the filter here")


def parse_filter(text: str) -> Filter:
    """Parse an AIP-160 filter of the supported subset; FilterError points at what is not supported."""
    try:
        tree = _PARSER.parse(text)
    except UnexpectedInput as error:
        raise _unreadable(text, error) from None
    try:
        test, pushed = _Build(text).transform(tree)
    except Exception as error:  # lark wraps errors raised in callbacks
        cause = getattr(error, "orig_exc", error)
        if isinstance(cause, FilterError):
            raise cause from None
        raise
    server = tuple(c for c in pushed or () if c.field in ("state", "migratingVm") and c.op == "=")
    return Filter(test=test, server=server)


class Order(enum.Enum):
    createTime = "createTime"
    endTime = "endTime"
    state = "state"
    name = "name"


_STATE_NUMBERS = {state.value: f"{number:02d}" for number, state in enumerate(State)}


def order_key(field: Order) -> Callable[[Body], tuple[str, str]]:
    """A sort key; states sort by their number in the vmmigration API's enum, jobs without the field (no endTime
    yet) last; ties by namespace and name."""

    def key(body: Body) -> tuple[str, str]:
        meta = body.get("metadata") or {}
        value = field_of(body, field.value)
        if field is Order.state and value is not None:
            value = _STATE_NUMBERS.get(value, value)
        return (value if value is not None else "\uffff", f"{meta.get('namespace', '')}/{meta.get('name', '')}")

    return key


def field_selector(migrating_vm: str | None, states: list[str], pushed: tuple[Comparison, ...]) -> str:
    """What the API server filters itself (the CRD's selectable fields); the rest is done here.

    A state asked for as STATE_UNSPECIFIED (a job not recorded yet) has no stored value to select on,
    so any state list that includes it is filtered here instead.
    """
    parts = [f"spec.migratingVm={migrating_vm}"] if migrating_vm else []
    if len(states) == 1 and states[0] != State.STATE_UNSPECIFIED.value:
        parts.append(f"status.state={states[0]}")
    elif states and State.STATE_UNSPECIFIED.value not in states:
        parts.extend(
            f"status.state!={s.value}" for s in State if s.value not in states and s is not State.STATE_UNSPECIFIED
        )
    for comparison in pushed:
        path = "status.state" if comparison.field == "state" else "spec.migratingVm"
        if comparison.field == "state" and comparison.value == State.STATE_UNSPECIFIED.value:
            continue
        parts.append(f"{path}={comparison.value}")
    return ",".join(dict.fromkeys(parts))
