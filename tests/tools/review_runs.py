"""Running the plan review the way the tests do: in-process, through its CLI entry point, output captured."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tools.plan_review.cli import EXIT_OK, main

Run = tuple[int, str, str]


def run(capsys: pytest.CaptureFixture[str], *args: str | int | Path) -> Run:
    """(exit code, stdout, stderr) of `python -m tools.plan_review ARGS`."""
    code = main([str(arg) for arg in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def run_json(capsys: pytest.CaptureFixture[str], *args: str | int | Path) -> dict:
    """The JSON review of ARGS, which must exit 0."""
    code, out, err = run(capsys, "--format", "json", *args)
    assert code == EXIT_OK, err
    return json.loads(out)
