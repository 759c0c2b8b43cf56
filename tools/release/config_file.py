"""Edit an environment file the way a person would: change the one `model_version` line of `[inference]` (or add
it), or promote the shadow (its version becomes the production version, its table goes), keeping every comment
and the order of everything else, then load the result with the project's own validation before writing it.

Why text edits and not a TOML round-trip: the files are documentation as much as config (comments explain each
knob); a parser that rewrites the file would drop them. The edit is small and its result is validated whole.
"""

from __future__ import annotations

import re
import tempfile
import tomllib
from pathlib import Path

from tools.release.artifact import ReleaseError

_TABLE = re.compile(r"^\s*\[(?P<name>[^\[\]]+)\]\s*(#.*)?$")
_VERSION = re.compile(r'^(?P<indent>\s*)model_version\s*=\s*(?P<value>"[^"]*"|\'[^\']*\')(?P<rest>\s*(#.*)?)$')


def set_model_version(path: Path, version: str) -> str | None:
    """Set `inference.model_version` in PATH to VERSION; returns the previous value (None: it was the default).
    The file is written only when the result loads as a valid configuration; a file invalid before the edit
    raises the loader's ConfigError (its own one line)."""
    from modules.config import load_config

    load_config(path)
    text = path.read_text()
    lines = text.splitlines(keepends=True)
    start, end = _table(lines, "inference")
    previous = _current(text)
    line = f'model_version = "{version}"\n'
    if start is None:
        lines.append(("\n" if lines and lines[-1].strip() else "") + "[inference]\n" + line)
    else:
        index = next((i for i in range(start + 1, end) if _VERSION.match(lines[i].rstrip("\n"))), None)
        if index is not None:
            match = _VERSION.match(lines[index].rstrip("\n"))
            lines[index] = f'{match["indent"]}model_version = "{version}"{match["rest"]}\n'
        else:
            last_key = max((i for i in range(start + 1, end) if lines[i].strip() and not lines[i].lstrip().startswith("#")),
                           default=start)
            lines.insert(last_key + 1, line)
    _write_validated(path, "".join(lines))
    return previous


def promote_shadow(path: Path) -> tuple[str, str]:
    """Make the shadow's version the production version and remove `[inference.shadow]`; returns (old, new)."""
    text = path.read_text()
    shadow = tomllib.loads(text).get("inference", {}).get("shadow")
    if not shadow:
        raise ReleaseError(f"{path}: no [inference.shadow] table: nothing to promote")
    lines = text.splitlines(keepends=True)
    start, end = _table(lines, "inference.shadow")
    # The comments right above the table describe it and go with it; those above the next table stay.
    while start > 0 and lines[start - 1].lstrip().startswith("#"):
        start -= 1
    while end - 1 > start and (not lines[end - 1].strip() or lines[end - 1].lstrip().startswith("#")):
        end -= 1
    del lines[start:end]
    if 0 < start < len(lines) and not lines[start - 1].strip() and not lines[start].strip():
        del lines[start]  # one blank line between tables, not two
    path_text = "".join(lines)
    with tempfile.TemporaryDirectory() as scratch:
        staged = Path(scratch) / path.name
        staged.write_text(path_text)
        old = set_model_version(staged, shadow["model_version"])
        _write_validated(path, staged.read_text())
    return old or "1.0.0", shadow["model_version"]


def _current(text: str) -> str | None:
    try:
        return tomllib.loads(text).get("inference", {}).get("model_version")
    except tomllib.TOMLDecodeError as error:
        raise ReleaseError(f"not valid TOML before the edit: {error}") from None


def _table(lines: list[str], name: str) -> tuple[int | None, int]:
    """Index of the `[name]` header and of the next table header (or the end)."""
    start = None
    for index, line in enumerate(lines):
        match = _TABLE.match(line.rstrip("\n"))
        if not match:
            continue
        if start is not None:
            return start, index
        if match["name"].strip() == name:
            start = index
    return start, len(lines)


def _write_validated(path: Path, text: str) -> None:
    """Load TEXT as the environment file PATH would be loaded (same name: the environment comes from it), and
    write it only if that works."""
    from modules.config import ConfigError, load_config

    with tempfile.TemporaryDirectory() as scratch:
        staged = Path(scratch) / path.name
        staged.write_text(text)
        try:
            load_config(staged)
        except ConfigError as error:
            raise ReleaseError(f"{path} would not be valid after the edit, left unchanged: "
                               f"{str(error).replace(str(staged), path.name)}") from None
    path.write_text(text)
