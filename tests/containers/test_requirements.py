"""The inference image installs exactly what the tests ran against."""

from __future__ import annotations

import json
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def pinned_requirements() -> dict[str, str]:
    pins = {}
    for line in (REPO_ROOT / "containers" / "inference" / "requirements.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, separator, version = line.partition("==")
            assert separator, f"{line!r} is not pinned exactly"
            pins[name.strip().lower()] = version.strip()
    return pins


def test_every_runtime_requirement_of_the_image_is_the_version_the_lock_file_installs_for_the_tests() -> None:
    lock = json.loads((REPO_ROOT / "Pipfile.lock").read_text())
    locked = {
        name.lower(): entry["version"].removeprefix("==")
        for section in ("default", "develop")
        for name, entry in lock[section].items()
    }

    pins = pinned_requirements()

    assert "orjson" in pins
    assert {name: locked.get(name) for name in pins} == pins
