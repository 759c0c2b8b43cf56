"""Fixtures of the access-gate tests: the gate run once per environment on the session's synthesized stacks,
and writable copies of those stacks for mutation tests."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.access.mutations import StacksCopy
from tests.conftest import ENVIRONMENTS
from tools.access_check import check, evaluate


@pytest.fixture(scope="session")
def evaluator() -> None:
    """Node.js and the npm evaluator. Missing ones FAIL the test that needs them, never skip it."""
    problem = None
    if shutil.which("node") is None:
        problem = "Node.js is not on PATH"
    elif not (evaluate.PROJECT_ROOT / "node_modules" / "@cloud-copilot" / "iam-simulate").is_dir():
        problem = "node_modules lacks @cloud-copilot/iam-simulate: run `npm ci`"
    if problem:
        pytest.fail(f"the access gate needs its evaluator: {problem}", pytrace=False)


@pytest.fixture(scope="session")
def gate(synthesized: dict[str, Path], evaluator: None) -> dict[str, check.Result]:
    """environment -> the gate's result over that environment's synthesized stacks (one node process each)."""
    return {env: check.run(synthesized[env] / "stacks") for env in ENVIRONMENTS}


@pytest.fixture
def stacks_copy(synthesized: dict[str, Path], tmp_path: Path, evaluator: None) -> Callable[[str], StacksCopy]:
    """A writable copy of an environment's stacks, for a test that then runs the gate on it."""
    return lambda env: StacksCopy(synthesized[env] / "stacks", tmp_path / env)
