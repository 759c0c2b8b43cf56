"""`local` cannot be deployed to a real AWS account, whatever command runs it (`cdktf deploy`, plain Terraform):
its provider allows only the emulator's account, and Terraform's AWS provider refuses any other before it plans.

Proven with the real Terraform CLI and provider on the synthesized `local` stack: against an emulator that
answers as another account (moto's MOTO_ACCOUNT_ID), the plan fails with "AWS account ID not allowed"; against
the emulator's own account, the same plan succeeds (the refusal is the guard, not a broken setup).
"""

from __future__ import annotations

import json
import os
import re
import shutil

import pytest

from modules.stacks.base import EMULATOR_ACCOUNT_ID
from tools.emulator import start_emulator

REAL_ACCOUNT = "210987654321"


def _plan(terraform, folder, emulator_url: str):
    env = {**os.environ, "AWS_ENDPOINT_URL": emulator_url, "AWS_ACCESS_KEY_ID": "real-looking",
           "AWS_SECRET_ACCESS_KEY": "credentials", "AWS_REGION": "eu-west-1"}
    return terraform.run(["plan", "-input=false", "-no-color", "-lock=false", "-refresh=false"], folder,
                         check=False, env=env)


@pytest.mark.terraform
@pytest.mark.emulator
def test_the_local_environment_refuses_every_account_but_the_emulators(synthesized, terraform, tmp_path, monkeypatch):
    folder = tmp_path / "registry"
    shutil.copytree(synthesized["local"] / "stacks" / "registry", folder)
    doc = json.loads((folder / "cdk.tf.json").read_text())
    assert doc["provider"]["aws"][0]["allowed_account_ids"] == [EMULATOR_ACCOUNT_ID]
    doc["terraform"]["backend"] = {"local": {"path": str(tmp_path / "registry.tfstate")}}
    (folder / "cdk.tf.json").write_text(json.dumps(doc))
    terraform.run(["init", "-input=false", "-no-color"], folder)

    monkeypatch.setenv("MOTO_ACCOUNT_ID", REAL_ACCOUNT)  # the emulator now answers as somebody's real account
    with start_emulator(reuse=False) as real_account:
        refused = _plan(terraform, folder, real_account.url)
    assert refused.returncode != 0
    assert re.search(rf"AWS account ID not allowed: {REAL_ACCOUNT}", refused.stderr), refused.stderr[-2000:]

    monkeypatch.delenv("MOTO_ACCOUNT_ID")
    with start_emulator(reuse=False) as emulator:
        allowed = _plan(terraform, folder, emulator.url)
    assert allowed.returncode == 0, allowed.stderr[-2000:]
    assert "Plan: 4 to add" in allowed.stdout
