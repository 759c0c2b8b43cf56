"""Bad input gets one line naming the file, the field and what is allowed; exit code 2; no traceback;
the previous cdktf.out/ untouched."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from modules.config import ConfigError, config_path_from_env, load_config
from tests.conftest import PROJECT_ROOT

LOCAL = (PROJECT_ROOT / "config" / "local.toml").read_text()


def _load(tmp_path: Path, text: str, name: str = "broken.toml"):
    path = tmp_path / name
    path.write_text(text)
    return load_config(path)


@pytest.mark.parametrize("env", ["local", "dev", "prod", "local-eks"])
def test_every_shipped_environment_is_valid(env):
    config = load_config(PROJECT_ROOT / "config" / f"{env}.toml")
    assert config.environment == env


@pytest.mark.parametrize(("text", "expected"), [
    ("unknown_knob = 1\n" + LOCAL, "unknown_knob: unknown key; allowed: allowed_account_ids, "),
    (LOCAL.replace('region = "eu-west-1"', 'region = "mars-north-1"'), "region: unknown region 'mars-north-1'; allowed: us-east-1"),
    (LOCAL.replace("log_retention_days = 7", "log_retention_days = 8"), "log_retention_days: must be one of the CloudWatch retention values 1, 3, 5, 7"),
    (LOCAL.replace("log_retention_days = 7", 'log_retention_days = "week"'), "log_retention_days: Input should be a valid integer"),
    (LOCAL.replace("images_to_keep = 10", "images_to_keep = 0"), "registry.images_to_keep: Input should be greater than or equal to 1"),
    (LOCAL.replace('type = "local"', 'type = "gcs"'), "backend: Input tag 'gcs' found using 'type' does not match any of the expected tags: 'local', 's3'"),
    (LOCAL + "\n[registry.extra]\nx = 1\n", "registry.extra: unknown key; allowed: force_delete, images_to_keep, untagged_expiry_days"),
    (LOCAL.replace("project = \"inference\"", "project = \"inference\"\nproduction = true"), "backend.type: must be 's3' when production = true"),
    ('region = "eu-west-1"\n[backend]\ntype = "s3"\nbucket = "b-state"\n', "allowed_account_ids: required (at least one 12-digit id) with the s3 backend"),
    ("project = [", "malformed TOML"),
], ids=["unknown-key", "unknown-region", "retention-not-cloudwatch", "wrong-type", "out-of-range", "unknown-backend",
        "unknown-nested-key", "prod-needs-s3", "s3-needs-accounts", "malformed-toml"])
def test_a_bad_config_is_one_line_naming_file_field_and_allowed_values(tmp_path, text, expected):
    with pytest.raises(ConfigError) as error:
        _load(tmp_path, text)
    message = str(error.value)
    assert message.startswith(str(tmp_path / "broken.toml") + ": ") or message.startswith("broken.toml")
    assert expected in message
    assert "\n" not in message


def test_the_environment_is_chosen_by_name_or_by_file(tmp_path):
    assert config_path_from_env({}) == PROJECT_ROOT / "config" / "local.toml"
    assert config_path_from_env({"PIPELINE_ENV": "prod"}) == PROJECT_ROOT / "config" / "prod.toml"
    assert config_path_from_env({"PIPELINE_CONFIG": str(tmp_path / "x.toml"), "PIPELINE_ENV": "prod"}) == tmp_path / "x.toml"
    with pytest.raises(ConfigError, match="PIPELINE_ENV=staging: no file config/staging.toml; allowed: dev, local, local-eks, prod"):
        config_path_from_env({"PIPELINE_ENV": "staging"})


def test_synth_with_a_bad_config_exits_2_with_one_line_and_keeps_the_previous_output(tmp_path):
    previous = tmp_path / "out"
    (previous / "stacks").mkdir(parents=True)
    marker = previous / "stacks" / "marker.json"
    marker.write_text("{}")
    bad = tmp_path / "bad.toml"
    bad.write_text(LOCAL.replace("log_retention_days = 7", "log_retention_days = 8"))
    env = {**os.environ, "PIPELINE_CONFIG": str(bad), "CDKTF_OUTDIR": str(previous)}
    proc = subprocess.run([sys.executable, "main.py"], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error: ") and "bad.toml: log_retention_days:" in lines[0]
    assert "Traceback" not in proc.stderr
    assert marker.read_text() == "{}" and sorted(p.name for p in previous.rglob("*")) == ["marker.json", "stacks"]


def test_the_environment_name_defaults_to_the_file_name_even_a_short_one(tmp_path):
    assert _load(tmp_path, LOCAL, "qa.toml").environment == "qa"
    with pytest.raises(ConfigError, match="environment: String should match pattern"):
        _load(tmp_path, LOCAL, "Q.toml")
