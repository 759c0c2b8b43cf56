"""README.md is a map: short, linking every page of docs/, and no relative link in the documents points nowhere.

The reference lives in docs/ (one topic per page); the README says what the project is and where to read on. A
README that grows back into the reference, a page nobody links, or a link left behind by a moved file fails here.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import PROJECT_ROOT

README = PROJECT_ROOT / "README.md"
DOCS = PROJECT_ROOT / "docs"
README_MAX_LINES = 230
_FENCE = re.compile(r"^\s*(```+|~~~+)")
_LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")


def _prose(path: Path) -> list[tuple[int, str]]:
    """(line number, text) of PATH's lines outside fenced blocks: a fenced example (the plan review's comment)
    shows links relative to wherever it is posted, not to the page."""
    lines, fence = [], None
    for number, line in enumerate(path.read_text().splitlines(), 1):
        opening = _FENCE.match(line)
        if opening:
            fence = None if fence and line.strip().startswith(fence) else (fence or opening.group(1))
            continue
        if fence is None:
            lines.append((number, re.sub(r"`[^`]*`", "", line)))
    return lines


def relative_links(path: Path) -> list[tuple[int, str]]:
    """(line number, target) of every link or image of PATH that names a file of this repository."""
    return [
        (number, target)
        for number, line in _prose(path)
        for target in _LINK.findall(line)
        if not re.match(r"[a-z][a-z0-9+.-]*:", target) and not target.startswith("#")
    ]


DOCUMENTS = [README, *sorted(DOCS.glob("*.md"))]


def test_the_readme_is_a_map_of_at_most_230_lines():
    lines = len(README.read_text().splitlines())
    assert lines <= README_MAX_LINES, f"README.md has {lines} lines: move reference text into docs/"


def test_the_readme_links_every_page_of_docs():
    linked = {(README.parent / target.split("#", 1)[0]).resolve() for _, target in relative_links(README)}
    pages = {page.resolve() for page in DOCS.glob("*.md")}
    assert sorted(page.name for page in pages - linked) == []


@pytest.mark.parametrize("document", DOCUMENTS, ids=[str(path.relative_to(PROJECT_ROOT)) for path in DOCUMENTS])
def test_every_relative_link_points_to_a_file_that_exists(document):
    broken = [
        f"{document.relative_to(PROJECT_ROOT)}:{number}: {target}"
        for number, target in relative_links(document)
        if not (document.parent / target.split("#", 1)[0]).exists()
    ]
    assert broken == []


def test_the_link_finder_sees_links_and_images_but_not_urls_anchors_code_or_fenced_examples(tmp_path):
    page = tmp_path / "page.md"
    page.write_text(
        "See [a](a.md#x), ![pic](img/p.svg) and [web](https://example.com), [here](#top), `[c](c.md)`.\n"
        "~~~markdown\n[in a fence](fenced.md)\n~~~\n[b](../b.md)\n"
    )
    assert relative_links(page) == [(1, "a.md#x"), (1, "img/p.svg"), (5, "../b.md")]
