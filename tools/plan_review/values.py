"""Which attributes a change touches, rendered for people, with sensitive values masked.

Why here and not in the renderer: masking is a security property. Every value the review prints passes through
`attribute_changes` or `display`, which consult Terraform's `before_sensitive` / `after_sensitive` masks, so a
secret cannot reach a pull-request comment by way of a new rendering path.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

SENSITIVE = "(sensitive value)"
UNKNOWN = "(known after apply)"
ABSENT = "(none)"
MAX_VALUE_CHARS = 80


@dataclass(frozen=True)
class AttributeChange:
    """One attribute whose value differs, as display strings (already masked and shortened)."""

    path: str
    before: str
    after: str


def format_path(steps: tuple[str | int, ...] | list[str | int]) -> str:
    """`["ingress", 0, "cidr"]` as `ingress[0].cidr`, the way Terraform prints attribute paths."""
    text = ""
    for step in steps:
        if isinstance(step, int):
            text += f"[{step}]"
        else:
            text += f".{step}" if text else str(step)
    return text or "(whole object)"


def _sub(mask: Any, key: str | int) -> Any:
    """The part of a sensitivity/unknown mask for KEY; a scalar mask (True/False) covers everything under it."""
    if isinstance(mask, dict) and isinstance(key, str):
        return mask.get(key)
    if isinstance(mask, list) and isinstance(key, int):
        return mask[key] if key < len(mask) else None
    if isinstance(mask, bool):
        return mask
    return None


def masked(value: Any, sensitive: Any) -> Any:
    """VALUE with every part that SENSITIVE marks replaced by a placeholder."""
    if sensitive is True:
        return SENSITIVE
    if isinstance(value, dict):
        return {key: masked(item, _sub(sensitive, key)) for key, item in value.items()}
    if isinstance(value, list):
        return [masked(item, _sub(sensitive, index)) for index, item in enumerate(value)]
    return value


def display(value: Any, sensitive: Any = None, *, unknown: Any = None, present: bool = True) -> str:
    """A short one-line rendering of VALUE, masked where SENSITIVE says so."""
    if unknown is True:
        return UNKNOWN
    if not present:
        return ABSENT
    value = masked(value, sensitive)
    if value == SENSITIVE:
        return SENSITIVE
    text = json.dumps(value, sort_keys=True, ensure_ascii=False)
    return text if len(text) <= MAX_VALUE_CHARS else text[: MAX_VALUE_CHARS - 1] + "…"


def _empty(value: Any) -> bool:
    """Null, "" and empty collections: providers flip between them (tags null vs {}) without a real change."""
    return value is None or value in ("", {}, [])


def _same(before: Any, after: Any) -> bool:
    return before == after or (_empty(before) and _empty(after))


def attribute_changes(before: Any, after: Any, *, after_unknown: Any = None, before_sensitive: Any = None,
                      after_sensitive: Any = None) -> list[AttributeChange]:
    """The leaf attributes that differ between BEFORE and AFTER (or become unknown), masked for display."""
    found: list[AttributeChange] = []

    def walk(b: Any, a: Any, unk: Any, bs: Any, as_: Any, path: tuple[str | int, ...]) -> None:
        if unk is True:
            found.append(AttributeChange(format_path(path), display(b, bs), UNKNOWN))
            return
        if bs is True or as_ is True:
            if not _same(b, a):
                found.append(AttributeChange(format_path(path), display(b, bs), display(a, as_)))
            return
        if isinstance(b, dict) and isinstance(a, dict):
            for key in sorted(set(b) | set(a)):
                walk(b.get(key), a.get(key), _sub(unk, key), _sub(bs, key), _sub(as_, key), (*path, key))
            return
        if isinstance(b, list) and isinstance(a, list) and len(b) == len(a):
            for index, (item_b, item_a) in enumerate(zip(b, a, strict=True)):
                walk(item_b, item_a, _sub(unk, index), _sub(bs, index), _sub(as_, index), (*path, index))
            return
        if _same(b, a) and not _contains_unknown(unk):
            return
        found.append(AttributeChange(format_path(path), display(b, bs), display(a, as_, unknown=unk)))

    walk(before, after, after_unknown, before_sensitive, after_sensitive, ())
    return found


def _contains_unknown(mask: Any) -> bool:
    if mask is True:
        return True
    if isinstance(mask, dict):
        return any(_contains_unknown(item) for item in mask.values())
    if isinstance(mask, list):
        return any(_contains_unknown(item) for item in mask)
    return False
