"""Gate: every synthesized stack of every environment passes `terraform init` + `terraform validate`
with the real Terraform CLI and the hashicorp/aws plugin from the offline mirror.

This gate fails (never skips) when Terraform or the mirror is missing: a green run must mean validated.
"""

from __future__ import annotations

import json

import pytest

from tests.conftest import ENVIRONMENTS, record_gate, stack_dirs


@pytest.mark.terraform
@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_every_stack_is_valid_terraform(env, synthesized, terraform):
    stacks = stack_dirs(synthesized[env])
    assert stacks, f"{env}: synth produced no stacks"
    failures = []
    for stack in stacks:
        init = terraform.run(["init", "-backend=false", "-input=false", "-no-color"], cwd=stack, check=False)
        if init.returncode != 0:
            failures.append(f"{stack.name}: terraform init failed:\n{init.stderr or init.stdout}")
            continue
        result = terraform.run(["validate", "-json", "-no-color"], cwd=stack, check=False)
        report = json.loads(result.stdout)
        if not report["valid"]:
            problems = [f"{d['severity']}: {d['summary']}: {d.get('detail', '')}" for d in report["diagnostics"]]
            failures.append(f"{stack.name}: " + "\n  ".join(problems))
            continue
        record_gate("terraform validate", f"{env}/{stack.name}")
    assert not failures, "\n".join(failures)
