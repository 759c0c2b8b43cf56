"""Bad input gets one line naming the file, the field and what is allowed; exit code 2; no traceback;
the previous cdktf.out/ untouched."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from modules.config import ConfigError, config_path_from_env, load_config
from tests.config.config_text import load_config_text, shipped_config_text
from tests.conftest import PROJECT_ROOT

LOCAL = shipped_config_text("local")


@pytest.mark.parametrize("env", ["local", "dev", "prod", "local-eks"])
def test_every_shipped_environment_is_valid(env):
    config = load_config(PROJECT_ROOT / "config" / f"{env}.toml")
    assert config.environment == env


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("unknown_knob = 1\n" + LOCAL, "unknown_knob: unknown key; allowed: allowed_account_ids, "),
        (
            LOCAL.replace('region = "eu-west-1"', 'region = "mars-north-1"'),
            "region: unknown region 'mars-north-1'; allowed: us-east-1",
        ),
        (
            LOCAL.replace("log_retention_days = 7", "log_retention_days = 8"),
            "log_retention_days: must be one of the CloudWatch retention values 1, 3, 5, 7",
        ),
        (
            LOCAL.replace("log_retention_days = 7", 'log_retention_days = "week"'),
            'log_retention_days: must be a whole number, without quotes (e.g. 30), not "week"',
        ),
        (
            LOCAL.replace("images_to_keep = 10", "images_to_keep = 0"),
            "registry.images_to_keep: Input should be greater than or equal to 1",
        ),
        (LOCAL.replace('type = "local"', 'type = "gcs"'), 'backend.type: must be one of "local", "s3", not "gcs"'),
        (
            LOCAL + "\n[registry.extra]\nx = 1\n",
            "registry.extra: unknown key; allowed: force_delete, images_to_keep, untagged_expiry_days",
        ),
        (
            LOCAL.replace('project = "inference"', 'project = "inference"\nproduction = true'),
            "backend.type: must be 's3' when production = true",
        ),
        (
            'region = "eu-west-1"\n[backend]\ntype = "s3"\nbucket = "b-state"\n',
            "allowed_account_ids: required (at least one 12-digit id) with the s3 backend",
        ),
        ("project = [", "malformed TOML"),
        (
            LOCAL + "\n[compute.lambdas.functions.sumbit]\nmemory_mb = 256\n",
            "compute.lambdas.functions.sumbit: no function 'sumbit' in lambdas/; allowed: async_results, batch_status",
        ),
    ],
    ids=[
        "unknown-key",
        "unknown-region",
        "retention-not-cloudwatch",
        "wrong-type",
        "out-of-range",
        "unknown-backend",
        "unknown-nested-key",
        "prod-needs-s3",
        "s3-needs-accounts",
        "malformed-toml",
        "sizing-of-an-unknown-function",
    ],
)
def test_a_bad_config_is_one_line_naming_file_field_and_allowed_values(tmp_path, text, expected):
    with pytest.raises(ConfigError) as error:
        load_config_text(tmp_path, text, "broken.toml")
    message = str(error.value)
    assert message.startswith(str(tmp_path / "broken.toml") + ": ") or message.startswith("broken.toml")
    assert expected in message
    assert "\n" not in message


def test_the_environment_is_chosen_by_name_or_by_file(tmp_path):
    assert config_path_from_env({}) == PROJECT_ROOT / "config" / "local.toml"
    assert config_path_from_env({"PIPELINE_ENV": "prod"}) == PROJECT_ROOT / "config" / "prod.toml"
    assert (
        config_path_from_env({"PIPELINE_CONFIG": str(tmp_path / "x.toml"), "PIPELINE_ENV": "prod"})
        == tmp_path / "x.toml"
    )
    with pytest.raises(
        ConfigError, match="PIPELINE_ENV=staging: no file config/staging.toml; allowed: dev, local, local-eks, prod"
    ):
        config_path_from_env({"PIPELINE_ENV": "staging"})


@pytest.mark.parametrize("flags", [(), ("-O",)], ids=["python", "python -O (make synth, cdktf.json)"])
def test_synth_with_a_bad_config_exits_2_with_one_line_and_keeps_the_previous_output(tmp_path, flags):
    """Also while the provider's assembly is still loading on its thread (modules/provider_load.py)."""
    previous = tmp_path / "out"
    (previous / "stacks").mkdir(parents=True)
    marker = previous / "stacks" / "marker.json"
    marker.write_text("{}")
    bad = tmp_path / "bad.toml"
    bad.write_text(LOCAL.replace("log_retention_days = 7", "log_retention_days = 8"))
    env = {**os.environ, "PIPELINE_CONFIG": str(bad), "CDKTF_OUTDIR": str(previous)}
    proc = subprocess.run(
        [sys.executable, *flags, "main.py"], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error: ") and "bad.toml: log_retention_days:" in lines[0]
    assert "Traceback" not in proc.stderr
    assert marker.read_text() == "{}" and sorted(p.name for p in previous.rglob("*")) == ["marker.json", "stacks"]


def test_the_environment_name_defaults_to_the_file_name_even_a_short_one(tmp_path):
    assert load_config_text(tmp_path, LOCAL, "qa.toml").environment == "qa"


@pytest.mark.parametrize("file_name", ["x.toml", "Q.toml", "staging_eu.toml", "9lives.toml"])
def test_an_invalid_environment_name_taken_from_the_file_name_says_so_and_how_to_choose_another(tmp_path, file_name):
    with pytest.raises(ConfigError) as error:
        load_config_text(tmp_path, LOCAL, file_name)
    message = str(error.value)
    stem = file_name.removesuffix(".toml")
    assert (
        f"environment: {stem!r} is not a valid name: 2-32 characters of a-z, 0-9 and '-', starting with a "
        "letter and ending with a letter or digit" in message
    )
    assert (
        f"the environment name {stem!r} is the file name {file_name} (the file sets no environment); set "
        'environment = "<name>" in the file, or rename the file' in message
    )
    assert "\n" not in message and "pattern" not in message


@pytest.mark.parametrize("file_name", ["x.toml", "staging-eu-west.toml", "Any_File.Name.toml"])
def test_any_file_name_works_when_the_file_names_its_environment(tmp_path, file_name):
    config = load_config_text(tmp_path, 'environment = "qa"\n' + LOCAL, file_name)
    assert config.environment == "qa" and config.name_prefix == "inference-qa"


def test_a_name_too_long_because_of_the_file_name_names_the_settings_and_where_the_environment_came_from(tmp_path):
    with pytest.raises(ConfigError) as error:
        load_config_text(tmp_path, LOCAL, "staging-eu-west.toml")
    message = str(error.value)
    assert (
        ": project, environment: load balancer name 'inference-staging-eu-west-inference' is 35 characters, "
        "over the 32 AWS allows" in message
    )
    assert "the environment name 'staging-eu-west' is the file name staging-eu-west.toml" in message
    assert "\n" not in message


def test_an_environment_set_in_the_file_is_not_blamed_on_the_file_name(tmp_path):
    with pytest.raises(ConfigError) as error:
        load_config_text(tmp_path, 'environment = "staging-eu-west"\n' + LOCAL, "qa.toml")
    assert "project, environment: load balancer name" in str(error.value)
    assert "file name" not in str(error.value)


# Values a hand-written file gets wrong: a string, a number or a float where TOML has the real type. None of them
# may be converted; each is refused with one line naming the field, what is allowed and what was written.
WRONGLY_TYPED = [
    ("production", '"yes"', 'production: must be true or false (a TOML boolean, without quotes), not "yes"'),
    ("production", "1", "production: must be true or false (a TOML boolean, without quotes), not 1"),
    ("production", '"false"', 'production: must be true or false (a TOML boolean, without quotes), not "false"'),
    ("log_retention_days", '"365"', 'log_retention_days: must be a whole number, without quotes (e.g. 30), not "365"'),
    ("log_retention_days", "365.0", "log_retention_days: must be a whole number, without quotes (e.g. 30), not 365.0"),
    ("log_retention_days", "true", "log_retention_days: must be a whole number, without quotes (e.g. 30), not true"),
    ("messaging.max_receive_count", '"5"', "messaging.max_receive_count: must be a whole number, without quotes"),
    ("network.az_count", "2.0", "network.az_count: must be a whole number, without quotes (e.g. 30), not 2.0"),
    ("storage.force_destroy", '"true"', "storage.force_destroy: must be true or false"),
    (
        "registry.force_delete",
        "0",
        "registry.force_delete: must be true or false (a TOML boolean, without quotes), not 0",
    ),
    ("api.throttling_rate_limit", '"10"', "api.throttling_rate_limit: must be a number, without quotes"),
    (
        "api.alarm_5xx_rate_percent",
        '"1.5"',
        'api.alarm_5xx_rate_percent: must be a number, without quotes (e.g. 1.5), not "1.5"',
    ),
    ("api.alarm_5xx_rate_percent", "true", "api.alarm_5xx_rate_percent: must be a number, without quotes"),
    ("network.cidr", "10", "network.cidr: must be a string, in double quotes, not 10"),
    ("region", "true", "region: must be a string, in double quotes, not true"),
    (
        "allowed_account_ids",
        '"123456789012"',
        'allowed_account_ids: must be an array, in square brackets, not "123456789012"',
    ),
    (
        "allowed_account_ids",
        "[123456789012]",
        "allowed_account_ids.0: must be a string, in double quotes, not 123456789012",
    ),
    ("compute.egress_to_internet", '"no"', "compute.egress_to_internet: must be true or false"),
    ("compute.lambdas.in_vpc", "1", "compute.lambdas.in_vpc: must be true or false"),
    ("compute.inference_service.max_count", '"2"', "compute.inference_service.max_count: must be a whole number"),
    (
        "inference.max_concurrency",
        "2.5",
        "inference.max_concurrency: must be a whole number, without quotes (e.g. 30), not 2.5",
    ),
    ("emulator.skip_autoscaling", '"yes"', "emulator.skip_autoscaling: must be true or false"),
    ("tags", '"team=ml"', 'tags: must be a table ([section] or { key = value }), not "team=ml"'),
    ("tags", "{ team = 1 }", "tags.team: must be a string, in double quotes, not 1"),
    ("state", "3", "state: must be a table ([section] or { key = value }), not 3"),
]


def _set(text: str, dotted: str, value: str) -> str:
    """TEXT with the key DOTTED (section.key or a top-level key) set to the TOML VALUE."""
    *sections, key = dotted.split(".")
    line = f"{key} = {value}\n"
    if not sections:
        return line + text
    header = f"[{'.'.join(sections)}]\n"
    return text.replace(header, header + line, 1) if header in text else text + "\n" + header + line


@pytest.mark.parametrize(("field", "value", "expected"), WRONGLY_TYPED, ids=[f"{f}={v}" for f, v, _ in WRONGLY_TYPED])
def test_a_wrongly_typed_value_is_refused_never_converted(tmp_path, field, value, expected):
    text = _set(LOCAL, field, value)
    text = "\n".join(line for line in text.splitlines() if not _repeats(line, field, value)) + "\n"
    with pytest.raises(ConfigError) as error:
        load_config_text(tmp_path, text, "broken.toml")
    message = str(error.value)
    assert expected in message
    assert message.startswith(str(tmp_path / "broken.toml") + ": ") and "\n" not in message


def _repeats(line: str, field: str, value: str) -> bool:
    """The file's own line for FIELD (which the test's line replaces), so TOML sees the key once."""
    key = field.rsplit(".", 1)[-1]
    return line.startswith(f"{key} = ") and line != f"{key} = {value}"


def test_the_types_toml_has_still_load_arrays_tables_integers_floats_and_booleans(tmp_path):
    text = _set(
        _set(_set(LOCAL, "api.alarm_5xx_rate_percent", "2"), "tags", '{ team = "ml" }'),
        "network.availability_zones",
        '["eu-west-1a", "eu-west-1b"]',
    )
    config = load_config_text(tmp_path, text, "broken.toml")
    assert config.api.alarm_5xx_rate_percent == 2.0  # an integer is a number: the one widening TOML users expect
    assert config.network.availability_zones == ("eu-west-1a", "eu-west-1b")
    assert config.messaging.queues[0].filter == {"priority": ("normal",)}
    assert config.tags == {"team": "ml"} and config.emulator.skip_autoscaling is True
