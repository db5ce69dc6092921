"""The largest objects the generated CRDs admit: every string at its maxLength, every list and map full, and of
members that exclude each other the largest. Used to measure memory at the worst a tenant can do, and to show
that the size computed from the schemas (tests/unit/test_sizes.py) is what the API server really accepts."""

from __future__ import annotations

import itertools
import re
import string
from typing import Any

from clonejob_operator import crdgen

Schema = dict[str, Any]
TIMESTAMP = "2026-11-26T10:00:00.123456789Z"
PROJECT = re.escape("^[a-z][a-z0-9-]{4,28}[a-z0-9]$")


class Filler:
    """Strings that match a pattern at a given length, each one different (list items and map keys are sets)."""

    def __init__(self) -> None:
        self._count = itertools.count()

    def text(self, pattern: str | None, length: int) -> str:
        if pattern and "[0-9]{4}-" in pattern:
            return TIMESTAMP
        if pattern and re.escape(pattern) == PROJECT:
            return ("p" + self._word(string.ascii_lowercase, 28) + "z")[:length]
        if pattern and pattern.startswith("^[0-9]+"):
            return ("9" * length)[:length]
        alphabet = string.ascii_uppercase if pattern and ("A-Z_]" in pattern or "^([A-Za-z]" in pattern) else None
        return self._word(alphabet or string.ascii_lowercase, length)

    def _word(self, alphabet: str, length: int) -> str:
        number, word = next(self._count), ""
        while True:
            number, digit = divmod(number, len(alphabet))
            word = alphabet[digit] + word
            if not number:
                break
        return (word + alphabet[0] * length)[:length] if length >= len(word) else word[-length:]


def rules(node: Schema) -> list[str]:
    """The CEL rules of one schema node."""
    return [rule["rule"] for rule in node.get("x-kubernetes-validations", [])]


def refused(node: Schema) -> set[str]:
    """Members a rule refuses outright (deprecated fields kept only so that stored objects can be read)."""
    return {found.group(1) for rule in rules(node) if (found := re.fullmatch(r"!has\(self\.(\w+)\)", rule))}


def _left_out(node: Schema) -> set[str]:
    """Members the rules refuse, or allow only without others: the generator leaves them out."""
    out = refused(node)
    for rule in rules(node):
        if found := re.match(r"!has\(self\.(\w+)\) \|\| \(", rule):
            out.add(found.group(1))  # allowed only without the others: they are kept instead
        elif found := re.fullmatch(r"!\(has\(self\.(\w+)\) && has\(self\.\w+\)\)", rule):
            out.add(found.group(1))
    return out


def one_of(node: Schema) -> list[list[str]]:
    """Groups of members of which at most one can be present (exactly-one and at-most-one rules)."""
    groups = []
    for rule in rules(node):
        if found := re.fullmatch(r"\[(.*)\]\.filter\(x, x\)\.size\(\) (==|<=) 1", rule):
            groups.append(re.findall(r"has\(self\.(\w+)\)", found.group(1)))
    return groups


def requires(node: Schema) -> list[tuple[str, str]]:
    """(member, the member it needs): ``!has(self.a) || has(self.b)`` rules."""
    found = (re.fullmatch(r"!has\(self\.(\w+)\) \|\| has\(self\.(\w+)\)", rule) for rule in rules(node))
    return [(match.group(1), match.group(2)) for match in found if match]


def key_limit(node: Schema) -> int | None:
    """The longest key a map admits, from its rules (a structural schema cannot bound map keys itself)."""
    for rule in rules(node):
        if found := re.fullmatch(r"self\.all\(k, size\(k\) <= (\d+)\)", rule):
            return int(found.group(1))
        if found := re.fullmatch(r"self\.all\(k, k in \[(.*)\]\)", rule):
            return max(len(word.strip().strip("'")) for word in found.group(1).split(","))
    return None


def _keys(node: Schema, count: int, filler: Filler) -> list[str]:
    for rule in rules(node):
        if found := re.fullmatch(r"self\.all\(k, k in \[(.*)\]\)", rule):
            return [word.strip().strip("'") for word in found.group(1).split(",")][:count]
    return [filler.text(None, key_limit(node) or 1) for _ in range(count)]


def largest(node: Schema, filler: Filler | None = None) -> Any:
    """The largest value that ``node`` admits."""
    filler = filler or Filler()
    kind = node.get("type")
    if "enum" in node:
        return max(node["enum"], key=lambda value: len(str(value)))
    if kind == "string":
        length = int(node["maxLength"])
        if any("[0-9]+-[a-z]$" in rule for rule in rules(node)):  # a zone: REGION-LETTER
            word = filler.text(None, length - 5)
            return f"{word[: length // 2]}-{word[length // 2 :]}1-b"[:length]
        return filler.text(node.get("pattern"), length)
    if kind == "integer":
        return int(node.get("maximum", 2**53))
    if kind == "boolean":
        return False
    if kind == "array":
        return [largest(node.get("items", {}), filler) for _ in range(int(node["maxItems"]))]
    out: dict[str, Any] = {}
    members = {k: v for k, v in (node.get("properties") or {}).items() if k not in _left_out(node)}
    for group in one_of(node):
        sizes = {name: len(str(largest(members[name], Filler()))) for name in group if name in members}
        for name in group:
            if name != max(sizes, key=lambda n: sizes[n]):
                members.pop(name, None)
    for needing, needed in requires(node):
        if needed not in members:
            members.pop(needing, None)
    for name, prop in members.items():
        out[name] = largest(prop, filler)
    if isinstance(node.get("additionalProperties"), dict):
        for key in _keys(node, int(node["maxProperties"]), filler):
            out[key] = largest(node["additionalProperties"], filler)
    return out


def of(kind: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(spec, status) of the largest object of ``kind``."""
    crd = next(c for c in crdgen.all_crds().values() if c["spec"]["names"]["kind"] == kind)
    root = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]
    filler = Filler()
    return largest(root["spec"], filler), largest(root["status"], filler)
