"""The whole pipeline on the local emulator, as `make e2e` runs it: every stack deployed with the real Terraform
CLI onto a private moto server, a job pushed through each consumer path (the worker function, the queue worker
run from its deployed task definition, the asynchronous endpoint) with a poison message and a duplicate delivery
on each, a second model version released onto it (its real plans of every stack checked to hold exactly a
release, applied, verified, a silent rollback caught by verify) and a job pushed through the released model, then
everything destroyed.

Fails (never skips) when Terraform or the offline provider mirror is missing: a green run must mean deployed.
"""

from __future__ import annotations

import pytest


@pytest.mark.emulator
@pytest.mark.terraform
def test_a_job_flows_through_the_deployed_pipeline_and_everything_is_destroyed_after(terraform, capsys):
    from tools.local.__main__ import run_e2e
    from tools.readme_examples import shell_blocks

    lines: list[str] = []
    passed, steps, times = run_e2e(report=lines.append)
    with capsys.disabled():
        print("\n" + "\n".join(lines))
        print("times: " + ", ".join(f"{phase} {seconds:.1f} s" for phase, seconds in times.items()))
    failed = [f"{step.name}: {step.detail}" for step in steps if not step.passed]
    assert passed, "local e2e failed:\n" + "\n".join(failed or ["no step ran"])
    names = [step.name for step in steps]
    assert any(name.startswith("release plan: the new model and endpoint configuration") for name in names)
    assert any(name.startswith("verify fails (exit 1, naming both configurations)") for name in names)
    assert any("serving the released version" in name for name in names), "no job through the released model"
    assert any(name.startswith("destroy every stack") for name in names), "the deployment was not destroyed"
    runnable = {f"README {block.where}" for block in shell_blocks() if block.run == "local"}
    ran = {name.split(": ", 1)[0] for name in names if name.startswith("README ")}
    assert runnable and ran == runnable, f"run=local examples that did not run: {sorted(runnable - ran)}"
    paths = ("worker function path", "queue worker path", "async endpoint path")
    assert all(any(name.startswith(path) for name in names) for path in paths), "a consumer path did not run"
