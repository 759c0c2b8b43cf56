"""Fit a comment made of sections under a character limit, dropping the least important lines first.

Why: GitHub rejects a comment body over 65,536 characters, and a plan that replaces a VPC can list thousands
of attribute changes. A rejected comment shows reviewers nothing, so the review keeps what matters (title,
summary table, the destruction warning) and trims details, saying explicitly that it did.
"""

from __future__ import annotations

from dataclasses import dataclass, field

GITHUB_COMMENT_LIMIT = 65_536
_OMITTED_WORDS_RESERVE = 64  # room for "N entries and M sections" in the notice


def comment_length(text: str) -> int:
    """Length in UTF-16 code units (an emoji outside the BMP counts twice).

    GitHub's error says "maximum is 65536 characters", and measurements reported elsewhere put the real cut at
    65,536 code points or at 262,144 UTF-8 bytes. A body of at most 65,536 UTF-16 units has at most that many
    code points, hence at most 262,144 UTF-8 bytes: it fits under every reading.
    """
    return len(text.encode("utf-16-le")) // 2


class LimitTooSmall(ValueError):
    """The limit cannot hold even the sections that are never dropped (the marker, title and summary)."""


@dataclass
class Section:
    """A head, items and a tail; when space runs out, items go from the end and `more` says how many.
    A REQUIRED section is never cut (the hidden marker, the title, the summary table)."""

    head: str = ""
    items: list[str] = field(default_factory=list)
    tail: str = ""
    priority: int = 0
    more: str = "- … {count} more omitted (comment size limit)\n"
    required: bool = False

    def full_text(self) -> str:
        return self.head + "".join(self.items) + self.tail


@dataclass
class Fitted:
    text: str
    omitted_items: int
    omitted_sections: int

    @property
    def truncated(self) -> bool:
        return bool(self.omitted_items or self.omitted_sections)


def _fit_section(section: Section, budget: int) -> tuple[str, int]:
    """The section's text within BUDGET, and how many of its items were left out (-1: the whole section)."""
    full = section.full_text()
    if comment_length(full) <= budget:
        return full, 0
    frame = comment_length(section.head) + comment_length(section.tail)
    kept: list[str] = []
    used = frame + comment_length(section.more.format(count=len(section.items)))
    if used > budget:
        return "", -1
    for item in section.items:
        size = comment_length(item)
        if used + size > budget:
            break
        kept.append(item)
        used += size
    omitted = len(section.items) - len(kept)
    return section.head + "".join(kept) + section.more.format(count=omitted) + section.tail, omitted


def fit(sections: list[Section], *, limit: int, notice: str, notice_index: int) -> Fitted:
    """Join SECTIONS (in their order) within LIMIT, budgeting by priority (lower first).

    When anything is left out, NOTICE (with `{omitted}` filled in) is inserted before section
    NOTICE_INDEX. Required sections are always kept whole; raises LimitTooSmall when they and the notice alone
    exceed LIMIT.
    """
    full = "".join(section.full_text() for section in sections)
    if comment_length(full) <= limit:
        return Fitted(full, 0, 0)
    texts = [section.full_text() if section.required else "" for section in sections]
    budget = limit - comment_length(notice) - _OMITTED_WORDS_RESERVE - sum(comment_length(t) for t in texts)
    if budget < 0:
        raise LimitTooSmall(
            f"a limit of {limit:,} characters cannot hold the review's marker, title and summary "
            f"(they need {limit - budget:,})"
        )
    omitted_items = omitted_sections = 0
    for index in sorted(range(len(sections)), key=lambda i: (sections[i].priority, i)):
        if sections[index].required:
            continue
        text, omitted = _fit_section(sections[index], budget)
        if omitted < 0:
            omitted_sections += 1
            continue
        texts[index] = text
        omitted_items += omitted
        budget -= comment_length(text)
    parts = [
        *texts[:notice_index],
        notice.format(omitted=_omitted_words(omitted_items, omitted_sections)),
        *texts[notice_index:],
    ]
    return Fitted("".join(parts), omitted_items, omitted_sections)


def _omitted_words(items: int, sections: int) -> str:
    words = []
    if items:
        words.append(f"{items} entr{'y' if items == 1 else 'ies'}")
    if sections:
        words.append(f"{sections} section{'' if sections == 1 else 's'}")
    return " and ".join(words)
