"""kubectl label-selector syntax: ``region=eu,wave in (1,2),!canary,tier!=db,team``."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from fleet.errors import UsageError

_KEY = r"[A-Za-z0-9]([-A-Za-z0-9_./]*[A-Za-z0-9])?"
_VALUE = r"([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?"
_SET = re.compile(rf"^\s*(?P<key>{_KEY})\s+(?P<op>in|notin)\s*\((?P<values>[^()]*)\)\s*$")
_EQ = re.compile(rf"^\s*(?P<key>{_KEY})\s*(?P<op>==|=|!=)\s*(?P<value>{_VALUE})\s*$")
_EXISTS = re.compile(rf"^\s*(?P<neg>!?)\s*(?P<key>{_KEY})\s*$")
_VALUE_RE = re.compile(rf"^{_VALUE}$")


@dataclass(frozen=True)
class Requirement:
    key: str
    op: str  # in | notin | exists | !exists
    values: frozenset[str] = frozenset()

    def matches(self, labels: Mapping[str, str]) -> bool:
        if self.op == "exists":
            return self.key in labels
        if self.op == "!exists":
            return self.key not in labels
        if self.op == "in":
            return self.key in labels and labels[self.key] in self.values
        return self.key not in labels or labels[self.key] not in self.values


@dataclass(frozen=True)
class Selector:
    requirements: tuple[Requirement, ...] = ()
    text: str = ""

    def matches(self, labels: Mapping[str, str]) -> bool:
        return all(r.matches(labels) for r in self.requirements)

    def __str__(self) -> str:
        return self.text


def _split(text: str) -> list[str]:
    """Split on commas that are not inside parentheses."""
    parts: list[str] = []
    current: list[str] = []
    depth = 0
    for char in text:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth < 0:
                raise UsageError(f"invalid selector {text!r}: unbalanced ')'")
        if char == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    if depth:
        raise UsageError(f"invalid selector {text!r}: unbalanced '('")
    parts.append("".join(current))
    return parts


def parse_selector(text: str) -> Selector:
    if not text.strip():
        return Selector((), text)
    requirements = []
    for part in _split(text):
        if not part.strip():
            raise UsageError(f"invalid selector {text!r}: empty requirement")
        if m := _SET.match(part):
            values = [v.strip() for v in m["values"].split(",")]
            bad = [v for v in values if not _VALUE_RE.match(v)]
            if bad or not any(values):
                raise UsageError(f"invalid selector {text!r}: bad value list in {part.strip()!r}")
            requirements.append(Requirement(m["key"], m["op"], frozenset(values)))
        elif m := _EQ.match(part):
            op = "notin" if m["op"] == "!=" else "in"
            requirements.append(Requirement(m["key"], op, frozenset({m["value"]})))
        elif m := _EXISTS.match(part):
            requirements.append(Requirement(m["key"], "!exists" if m["neg"] else "exists"))
        else:
            raise UsageError(f"invalid selector {text!r}: cannot parse {part.strip()!r}")
    return Selector(tuple(requirements), text)
