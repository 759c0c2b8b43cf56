"""Which attributes a change touches, rendered for people, with sensitive values masked.

Why here and not in the renderer: masking is a security property. Every value the review prints passes through
`attribute_changes` or `display`, which consult Terraform's `before_sensitive` / `after_sensitive` masks, so a
secret cannot reach a pull-request comment by way of a new rendering path.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

SENSITIVE = "(sensitive value)"
UNKNOWN = "(known after apply)"
ABSENT = "(none)"
MAX_VALUE_CHARS = 80
WHITESPACE_CHANGES = "whitespace changes"  # Terraform's own words for JSON strings that differ only in layout
WHITESPACE_ONLY = "whitespace only"
_CONTEXT_BEFORE_DIFFERENCE = 24
_WHITESPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class AttributeChange:
    """One attribute whose value differs, as display strings (already masked and shortened), with a NOTE when
    the values differ in a way the strings alone would hide (whitespace)."""

    path: str
    before: str
    after: str
    note: str | None = None

    @property
    def top(self) -> str:
        """The top-level attribute this change is under (`policy` for `policy → Statement[0].Action`)."""
        return re.split(r"[.\[ ]", self.path, maxsplit=1)[0]


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


def _json_container(text: str) -> Any:
    """TEXT decoded when it is a JSON object or array (the way providers store policies and container
    definitions), else None."""
    stripped = text.lstrip()
    if not stripped.startswith(("{", "[")):
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, (dict, list)) else None


def _clip(text: str, start: int) -> str:
    """TEXT shown from START, at most MAX_VALUE_CHARS long, with an ellipsis on every cut side."""
    head = "…" if start > 0 else ""
    budget = MAX_VALUE_CHARS - len(head)
    body = text[start:]
    return head + (body if len(body) <= budget else body[: budget - 1] + "…")


def display_strings(before: str, after: str) -> tuple[str, str, str | None]:
    """Two different strings rendered so that the difference shows: when the short renderings would look the
    same (the difference lies past the cut), both are shown from a little before the first differing
    character. The note says when only whitespace differs."""
    b, a = json.dumps(before, ensure_ascii=False), json.dumps(after, ensure_ascii=False)
    note = WHITESPACE_ONLY if _WHITESPACE.sub("", before) == _WHITESPACE.sub("", after) else None
    if len(b) <= MAX_VALUE_CHARS and len(a) <= MAX_VALUE_CHARS:
        return b, a, note
    first = next((i for i, (x, y) in enumerate(zip(b, a, strict=False)) if x != y), min(len(b), len(a)))
    start = max(0, first - _CONTEXT_BEFORE_DIFFERENCE)
    if first < MAX_VALUE_CHARS - 1:
        start = 0
    return _clip(b, start), _clip(a, start), note


def _empty(value: Any) -> bool:
    """Null, "" and empty collections: providers flip between them (tags null vs {}) without a real change."""
    return value is None or value in ("", {}, [])


def _same(before: Any, after: Any) -> bool:
    return before == after or (_empty(before) and _empty(after))


def _child(path: str, key: str) -> str:
    return f"{path}.{key}" if path and not path.endswith(" ") else f"{path}{key}"


def attribute_changes(
    before: Any,
    after: Any,
    *,
    after_unknown: Any = None,
    before_sensitive: Any = None,
    after_sensitive: Any = None,
    empty_is_null: bool = True,
) -> list[AttributeChange]:
    """The leaf attributes that differ between BEFORE and AFTER (or become unknown), masked for display.

    EMPTY_IS_NULL (the default, for planned changes) treats null, "" and empty collections as equal: providers
    flip between them without a real change. Drift passes False: Terraform reports those flips as drift
    (`+ tags = {}`), and the review must count what Terraform counts.
    Strings holding JSON (policies, container definitions) are compared as JSON, the way Terraform renders
    `jsonencode(...)`: layout-only differences are one line marked "whitespace changes", real ones are shown
    per JSON path (`container_definitions → [0].image`).
    """
    found: list[AttributeChange] = []
    same = _same if empty_is_null else (lambda b, a: b == a)

    def walk(b: Any, a: Any, unk: Any, bs: Any, as_: Any, path: str) -> None:
        if unk is True:
            found.append(AttributeChange(path or "(whole object)", display(b, bs), UNKNOWN))
            return
        if bs is True or as_ is True:
            if not same(b, a) or bs != as_:
                found.append(AttributeChange(path or "(whole object)", display(b, bs), display(a, as_)))
            return
        if isinstance(b, dict) and isinstance(a, dict):
            for key in sorted(set(b) | set(a)):
                walk(b.get(key), a.get(key), _sub(unk, key), _sub(bs, key), _sub(as_, key), _child(path, key))
            return
        if isinstance(b, list) and isinstance(a, list) and len(b) == len(a):
            for index, (item_b, item_a) in enumerate(zip(b, a, strict=True)):
                walk(item_b, item_a, _sub(unk, index), _sub(bs, index), _sub(as_, index), f"{path}[{index}]")
            return
        if same(b, a) and not any_true(unk):
            return
        if isinstance(b, str) and isinstance(a, str) and not any_true(unk):
            decoded_b, decoded_a = _json_container(b), _json_container(a)
            if decoded_b is not None and decoded_a is not None:
                if decoded_b == decoded_a:
                    found.append(AttributeChange(path, "jsonencode(…)", "jsonencode(…)", WHITESPACE_CHANGES))
                else:
                    walk(decoded_b, decoded_a, None, None, None, f"{path} → ")
                return
            shown_b, shown_a, note = display_strings(b, a)
            found.append(AttributeChange(path or "(whole object)", shown_b, shown_a, note))
            return
        found.append(AttributeChange(path or "(whole object)", display(b, bs), display(a, as_, unknown=unk)))

    walk(before, after, after_unknown, before_sensitive, after_sensitive, "")
    return found


def any_true(mask: Any) -> bool:
    """Whether an unknown/sensitive mask marks anything under it."""
    if mask is True:
        return True
    if isinstance(mask, dict):
        return any(any_true(item) for item in mask.values())
    if isinstance(mask, list):
        return any(any_true(item) for item in mask)
    return False


def value_at(value: Any, path: tuple[str | int, ...]) -> Any:
    """The part of VALUE (a value or a mask) at PATH; None where the path leads nowhere. A scalar mask covers
    everything under it, so it is returned as it is."""
    for step in path:
        if isinstance(value, bool):
            return value
        if isinstance(value, dict) and isinstance(step, str):
            value = value.get(step)
        elif isinstance(value, list) and isinstance(step, int) and 0 <= step < len(value):
            value = value[step]
        else:
            return None
    return value
