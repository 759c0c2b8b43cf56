"""Finding Terraform and the offline provider mirror: explicit settings win, missing ones say what to do."""

from __future__ import annotations

import pytest

from tools.terraform_cli import TerraformNotFound, find_provider_mirror, find_terraform_binary, write_cli_config


def test_a_terraform_bin_that_is_not_executable_is_named_in_the_error(monkeypatch, tmp_path):
    monkeypatch.setenv("TERRAFORM_BIN", str(tmp_path / "nope"))
    with pytest.raises(TerraformNotFound, match=f"TERRAFORM_BIN={tmp_path / 'nope'} is not an executable file"):
        find_terraform_binary()


def test_no_terraform_on_path_says_how_to_provide_it(monkeypatch, tmp_path):
    monkeypatch.delenv("TERRAFORM_BIN", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(TerraformNotFound, match="install Terraform >= 1.10 on PATH or set TERRAFORM_BIN"):
        find_terraform_binary()


def test_a_mirror_folder_without_the_aws_plugin_is_refused(monkeypatch, tmp_path):
    monkeypatch.setenv("TF_PROVIDER_MIRROR", str(tmp_path))
    with pytest.raises(TerraformNotFound, match="holds no registry.terraform.io/hashicorp/aws"):
        find_provider_mirror()


def test_an_explicit_mirror_with_the_plugin_is_used(monkeypatch, tmp_path):
    plugin = tmp_path / "registry.terraform.io/hashicorp/aws/5.100.0/linux_amd64/terraform-provider-aws_v5.100.0_x5"
    plugin.parent.mkdir(parents=True)
    plugin.write_text("")
    monkeypatch.setenv("TF_PROVIDER_MIRROR", str(tmp_path))
    assert find_provider_mirror() == tmp_path


def test_the_cli_config_installs_aws_from_the_mirror_only(tmp_path):
    text = write_cli_config(tmp_path / "mirror", tmp_path / "terraform.rc").read_text()
    assert f'path    = "{tmp_path / "mirror"}"' in text
    assert 'include = ["registry.terraform.io/hashicorp/aws"]' in text
    assert 'exclude = ["registry.terraform.io/hashicorp/aws"]' in text


def _fake_provider(folder, number):
    """A stand-in provider binary that announces its reattach string (as `-debug` does) and its log level."""
    binary = folder / ".terraform" / "providers" / "registry.terraform.io" / "hashicorp" / "aws" / "5.100.0" / \
        "linux_amd64" / "terraform-provider-aws_v5.100.0_x5"
    binary.parent.mkdir(parents=True, exist_ok=True)
    binary.write_text(f"#!/bin/sh\necho \"level=$TF_LOG_PROVIDER\"\necho \"TF_REATTACH_PROVIDERS='run-{number}'\"\n"
                      "exec sleep 30\n")
    binary.chmod(0o755)


def test_a_provider_log_asked_for_is_kept_across_commands_and_each_attaches_to_its_own_process(tmp_path):
    from tools.terraform_cli import PROVIDER_LOG_ENV, REATTACH_ENV, shared_provider

    seen = []
    for number in (1, 2):
        _fake_provider(tmp_path, number)
        with shared_provider(tmp_path, {"PATH": "/usr/bin:/bin", PROVIDER_LOG_ENV: "debug"}, timeout=10) as env:
            seen.append(env[REATTACH_ENV])
    log = (tmp_path / ".terraform" / "shared-provider.log").read_text()

    assert seen == ["run-1", "run-2"], "the second command must not attach to the first, stopped, process"
    assert log.count("level=DEBUG") == 2 and "run-1" in log and "run-2" in log
