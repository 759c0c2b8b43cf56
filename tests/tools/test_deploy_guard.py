"""`make diff` / `make deploy`: an explicitly named environment, never `local`, only on its own account, announced
(environment, account, region) before anything runs; the synthesized JSON is that environment's; stacks by name or
glob; offline through the project's own Terraform CLI configuration.

The account is whatever STS answers: here the emulator's (moto answers 123456789012), so a test environment that
allows that account is planned for real against the emulator, through the Makefile, as a user runs it.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import PROJECT_ROOT
from tools.deploy_guard import EXIT_REFUSED, cdktf_commands, main, select_stacks, synthesized_for

EMULATOR_ACCOUNT = "123456789012"
LOCAL = (PROJECT_ROOT / "config" / "local.toml").read_text()


@pytest.fixture
def emulator_credentials(monkeypatch):
    from tools.emulator import start_emulator

    with start_emulator(reuse=False) as emulator:
        monkeypatch.setenv("AWS_ENDPOINT_URL", emulator.url)
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
        for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "PIPELINE_ENV", "PIPELINE_CONFIG"):
            monkeypatch.delenv(name, raising=False)
        yield emulator.url


@pytest.fixture
def qa_config(tmp_path) -> Path:
    """An environment that may touch only the emulator's account (local's settings otherwise)."""
    path = tmp_path / "qa.toml"
    path.write_text(LOCAL.replace('project = "inference"', f'project = "inference"\nallowed_account_ids = '
                                                            f'["{EMULATOR_ACCOUNT}"]'))
    return path


def test_without_an_explicit_environment_nothing_runs(monkeypatch, capsys):
    monkeypatch.delenv("PIPELINE_ENV", raising=False)
    monkeypatch.delenv("PIPELINE_CONFIG", raising=False)
    assert main(["deploy"]) == EXIT_REFUSED
    assert capsys.readouterr().err == ("error: name the environment, e.g. PIPELINE_ENV=dev make diff (environments: "
                                       "dev, local, prod; local deploys with make deploy-local)\n")


def test_local_is_never_deployed_to_aws(monkeypatch, capsys):
    monkeypatch.setenv("PIPELINE_ENV", "local")
    assert main(["deploy", "--auto-approve"]) == EXIT_REFUSED
    assert "error: local (local.toml) has no allowed_account_ids: it is deployed only onto the local emulator, " \
           "with make deploy-local" in capsys.readouterr().err


def test_credentials_of_another_account_are_refused_before_synth(emulator_credentials, monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("PIPELINE_ENV", "dev")
    monkeypatch.setenv("CDKTF_OUTDIR", str(tmp_path / "out"))
    assert main(["diff"]) == EXIT_REFUSED
    assert capsys.readouterr().err == (f"error: your credentials reach account {EMULATOR_ACCOUNT} (arn:aws:sts::"
                                       f"{EMULATOR_ACCOUNT}:user/moto), but dev may only touch 111111111111 "
                                       "(allowed_account_ids): switch credentials\n")
    assert not (tmp_path / "out").exists()


@pytest.mark.terraform
@pytest.mark.emulator
def test_make_diff_announces_the_target_then_plans_the_named_stack_offline(terraform, emulator_credentials, qa_config,
                                                                          tmp_path):
    env = {**os.environ, "PIPELINE_CONFIG": str(qa_config), "CDKTF_OUTDIR": str(tmp_path / "out"), "NO_INSTALL": "1",
           "TF_CLI_CONFIG_FILE": "/nonexistent/terraform.rc"}  # the project's own configuration must replace it
    proc = subprocess.run(["make", "--no-print-directory", "diff", "STACKS=regis*"], cwd=PROJECT_ROOT, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    lines = [line for line in proc.stdout.splitlines() if not line.startswith(".venv/bin/python")]
    assert lines[0] == (f"diff: environment qa (qa.toml), account {EMULATOR_ACCOUNT} (arn:aws:sts::{EMULATOR_ACCOUNT}"
                        ":user/moto), region eu-west-1")
    assert lines[1] == f"stacks: registry (from {tmp_path / 'out'}, synthesized now)"
    assert lines[2] == f"$ cdktf diff registry --skip-synth --output {tmp_path / 'out'} --skip-provider-lock"
    assert "Plan: 4 to add, 0 to change, 0 to destroy." in re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", proc.stdout)


def test_a_synth_of_another_environment_is_never_deployed(emulator_credentials, qa_config, monkeypatch, capsys,
                                                         synthesized, tmp_path):
    outdir = tmp_path / "out"
    shutil.copytree(synthesized["local"], outdir)  # what `make synth` of local left in cdktf.out
    monkeypatch.setenv("PIPELINE_CONFIG", str(qa_config))
    monkeypatch.setenv("CDKTF_OUTDIR", str(outdir))
    assert main(["deploy", "--skip-synth", "--dry-run"]) == EXIT_REFUSED
    assert "is environment 'local' for accounts ['123456789012'], not 'qa': synthesize again" in capsys.readouterr().err


def test_stacks_are_chosen_by_name_or_glob_in_dependency_order(synthesized):
    outdir = synthesized["dev"]
    assert select_stacks(["*"], outdir)[-1] == "api"
    assert select_stacks(["api", "comp*"], outdir) == ["compute", "api"]
    with pytest.raises(Exception, match="no stack matches 'nope'; stacks: messaging, network, registry, state"):
        select_stacks(["nope"], outdir)
    every = select_stacks(["*"], outdir)
    deploy_some = cdktf_commands("deploy", ["compute", "api"], every, outdir, auto_approve=True, offline=True)
    assert deploy_some == [[str(PROJECT_ROOT / "node_modules/.bin/cdktf"), "deploy", "compute", "api", "--skip-synth",
                            "--output", str(outdir), "--skip-provider-lock", "--ignore-missing-stack-dependencies",
                            "--auto-approve"]]
    deploy_all = cdktf_commands("deploy", every, every, outdir, auto_approve=False, offline=False)[0]
    assert "--ignore-missing-stack-dependencies" not in deploy_all and "--auto-approve" not in deploy_all
    assert [command[2] for command in cdktf_commands("diff", every, every, outdir, auto_approve=False,
                                                     offline=False)] == every  # cdktf diff takes one stack


def test_the_synthesized_accounts_must_be_the_environments(synthesized):
    from modules.config import load_config

    dev = load_config(PROJECT_ROOT / "config" / "dev.toml")
    assert set(synthesized_for(synthesized["dev"], dev)["stacks"]) == set(select_stacks(["*"], synthesized["dev"]))
