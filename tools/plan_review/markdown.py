"""Small markdown helpers every section of the comment uses (GitHub-flavoured markdown)."""

from __future__ import annotations

import html
import re

# Priorities for fitting under the size limit: lower numbers keep their place first.
PRIORITY_FRAME, PRIORITY_WARNING, PRIORITY_SUMMARY, PRIORITY_CHANGES, PRIORITY_OUTPUTS, PRIORITY_DETAIL = (
    0,
    1,
    2,
    3,
    4,
    5,
)


def code(text: str) -> str:
    """TEXT as an inline code span, whatever backticks it contains."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") or longest else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def cell(text: str) -> str:
    """TEXT safe inside a table cell: GitHub splits rows on every `|`, even inside code spans."""
    return text.replace("|", "\\|").replace("\n", " ")


def escape(text: str) -> str:
    """Plain text safe in markdown that may contain `<` (HTML) from values."""
    return html.escape(text, quote=False)


def plural(count: int | float, noun: str, plural_form: str | None = None) -> str:
    return f"{count} {noun if count == 1 else (plural_form or noun + 's')}"
