"""The state, backend and storage settings: globally unique default names, a backend that always points at the
state stack's bucket and key, the principals allowed on the state bucket, and expiry knobs. Every refusal is one
line naming the settings involved."""

from __future__ import annotations

import re

import pytest

from modules.config import load_config
from tests.config.config_text import load_config_text, refusal, shipped_config_text
from tests.conftest import PROJECT_ROOT

LOCAL = shipped_config_text("local")
DEV = shipped_config_text("dev")
PROD = shipped_config_text("prod")


def _with(text: str, section: str, lines: str) -> str:
    """TEXT with LINES added at the top of [SECTION] (the section is created when missing)."""
    header = re.compile(rf"^\[{section}\]\n", re.MULTILINE)  # a header line, not one in a comment
    if header.search(text):
        return header.sub(lambda match: f"{match.group(0)}{lines}\n", text, count=1)
    return text.replace("\n[registry]\n", f"\n[{section}]\n{lines}\n\n[registry]\n", 1)


def test_the_account_id_is_the_first_allowed_account_and_none_without_one():
    assert load_config(PROJECT_ROOT / "config" / "dev.toml").account_id == "111111111111"
    assert load_config(PROJECT_ROOT / "config" / "prod.toml").account_id == "222222222222"
    assert load_config(PROJECT_ROOT / "config" / "local.toml").account_id is None


def test_default_bucket_names_end_in_the_account_id(tmp_path):
    config = load_config_text(tmp_path, DEV)
    assert config.state_bucket_name == "inference-dev-tfstate-111111111111"
    assert config.state_access_log_bucket_name == "inference-dev-tfstate-access-logs-111111111111"
    assert (
        config.storage.bucket_name(config.name_prefix, "results", config.account_id)
        == "inference-dev-results-111111111111"
    )


def test_the_local_environment_keeps_its_names():
    config = load_config(PROJECT_ROOT / "config" / "local.toml")
    assert (config.state_bucket_name, config.state_access_log_bucket_name) == (
        "inference-local-tfstate",
        "inference-local-tfstate-access-logs",
    )
    assert config.storage.bucket_name(config.name_prefix, "results", config.account_id) == "inference-local-results"


def test_a_configured_suffix_and_state_bucket_name_win_over_the_account_id(tmp_path):
    text = _with(_with(DEV, "storage", 'bucket_suffix = "acme"'), "state", 'bucket_name = "acme-dev-state"')
    config = load_config_text(tmp_path, text)
    assert config.storage.bucket_name(config.name_prefix, "results", config.account_id) == "inference-dev-results-acme"
    assert (config.state_bucket_name, config.state_access_log_bucket_name) == (
        "acme-dev-state",
        "acme-dev-state-access-logs",
    )
    assert config.backend_bucket == "acme-dev-state"


def test_the_backend_defaults_to_the_state_stacks_bucket_and_key_alias(tmp_path):
    config = load_config_text(tmp_path, DEV)
    assert config.backend.bucket is None
    assert config.backend_bucket == config.state_bucket_name
    assert config.backend_kms_key_id == "arn:aws:kms:eu-west-1:111111111111:alias/inference-dev-tfstate"


def test_a_backend_bucket_naming_the_state_bucket_is_accepted(tmp_path):
    config = load_config_text(tmp_path, _with(DEV, "backend", 'bucket = "inference-dev-tfstate-111111111111"'))
    assert config.backend_bucket == "inference-dev-tfstate-111111111111"


def test_a_backend_bucket_other_than_the_state_bucket_is_refused(tmp_path):
    message = refusal(tmp_path, _with(DEV, "backend", 'bucket = "inference-dev-tfstate"'))
    assert (
        "backend.bucket: 'inference-dev-tfstate' is not the state stack's bucket "
        "'inference-dev-tfstate-111111111111'; leave backend.bucket out"
    ) in message
    assert "state.bucket_name" in message


def test_a_backend_region_other_than_the_state_stacks_is_refused(tmp_path):
    message = refusal(tmp_path, _with(DEV, "backend", 'region = "us-east-1"'))
    assert "backend.region: 'us-east-1' is not 'eu-west-1', where the state stack creates the state bucket" in message


def test_an_explicit_key_arn_is_used_as_configured(tmp_path):
    key = "arn:aws:kms:eu-west-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    assert load_config_text(tmp_path, _with(DEV, "backend", f'kms_key_id = "{key}"')).backend_kms_key_id == key


@pytest.mark.parametrize(
    ("kms_key_id", "expected"),
    [
        (
            "arn:aws:kms:eu-west-1:111111111111:alias/someone-elses",
            "backend.kms_key_id: the state bucket refuses state "
            "encrypted with any key but its own; use arn:aws:kms:eu-west-1:111111111111:alias/inference-dev-tfstate",
        ),
        ("alias/inference-dev-tfstate", "backend.kms_key_id: String should match pattern"),
    ],
    ids=["another-alias", "not-an-arn"],
)
def test_a_backend_key_that_is_not_the_state_key_is_refused(tmp_path, kms_key_id, expected):
    assert expected in refusal(tmp_path, _with(DEV, "backend", f'kms_key_id = "{kms_key_id}"'))


def test_a_storage_name_made_too_long_by_the_account_id_names_every_setting_it_is_made_of(tmp_path):
    text = _with(
        DEV.replace('project = "inference"', f'project = "{"p" * 32}"'), "inference", 'endpoint_name = "short-endpoint"'
    )  # the derived endpoint name would be too long first
    message = refusal(tmp_path, text, name=f"{'e' * 10}.toml")
    assert (
        "project, environment, allowed_account_ids: bucket names '"
        + "p" * 32
        + "-eeeeeeeeee-artifacts-111111111111' (66), "
    ) in message
    assert "'" + "p" * 32 + "-eeeeeeeeee-access-logs-111111111111' (68) are over the 63 characters" in message
    assert (
        "they are <project>-<environment>-<purpose>-<allowed_account_ids[0]>: shorten project or environment, "
        "or set a shorter storage.bucket_suffix"
    ) in message


def test_a_state_name_made_too_long_by_the_account_id_names_every_setting_it_is_made_of(tmp_path):
    text = DEV.replace('project = "inference"', f'project = "{"p" * 28}"')
    message = refusal(tmp_path, text)
    assert (
        "project, environment, allowed_account_ids: state bucket name '"
        + "p" * 28
        + "-dev-tfstate-access-logs-111111111111' is 65 characters"
    ) in message
    assert (
        "it is <project>-<environment>-tfstate[-access-logs]-<allowed_account_ids[0]>: shorten project or "
        "environment, or set state.bucket_name"
    ) in message
    assert "storage.bucket_suffix" not in message  # the storage names (57 characters) still fit


def test_a_state_bucket_name_too_long_for_its_log_bucket_is_named(tmp_path):
    message = refusal(tmp_path, _with(DEV, "state", f'bucket_name = "{"s" * 60}"'))
    assert (
        "state.bucket_name: state bucket name '" + "s" * 60 + "-access-logs' is 72 characters, over the 63" in message
    )
    assert "shorten state.bucket_name" in message


def test_production_requires_the_principals_allowed_on_the_state_bucket(tmp_path):
    text = PROD[: PROD.index("allowed_principal_arns")] + PROD[PROD.index("[registry]") :]
    assert "state.allowed_principal_arns: required when production = true" in refusal(tmp_path, text, "prod.toml")


@pytest.mark.parametrize(
    ("arn", "expected"),
    [
        (
            "arn:aws:iam::333333333333:role/ci-deploy",
            "state.allowed_principal_arns: arn:aws:iam::333333333333:role/ci-deploy not in allowed_account_ids "
            "(222222222222); the state bucket grants nothing to other accounts",
        ),
        (
            "arn:aws:sts::222222222222:assumed-role/deploy/session",
            "state.allowed_principal_arns.0: 'arn:aws:sts::222222222222:assumed-role/deploy/session' is not an IAM role "
            "or user ARN",
        ),
        ("arn:aws:iam::*:role/deploy", "is not an IAM role or user ARN"),
    ],
    ids=["other-account", "session-arn", "wildcard-account"],
)
def test_a_principal_the_state_bucket_cannot_name_is_refused(tmp_path, arn, expected):
    text = (
        PROD[: PROD.index("allowed_principal_arns")]
        + f'allowed_principal_arns = ["{arn}"]\n\n'
        + PROD[PROD.index("[registry]") :]
    )
    assert expected in refusal(tmp_path, text, "prod.toml")


def test_wildcards_in_a_role_name_are_accepted(tmp_path):
    arn = "arn:aws:iam::222222222222:role/aws-reserved/sso.amazonaws.com/*/AWSReservedSSO_Admin_*"
    text = (
        PROD[: PROD.index("allowed_principal_arns")]
        + f'allowed_principal_arns = ["{arn}"]\n\n'
        + PROD[PROD.index("[registry]") :]
    )
    assert load_config_text(tmp_path, text, "prod.toml").state.allowed_principal_arns == (arn,)


def test_a_self_managed_state_stack_needs_the_s3_backend(tmp_path):
    message = refusal(tmp_path, _with(LOCAL, "state", "self_managed = true"), "local.toml")
    assert "state.self_managed: needs backend.type = 's3'" in message


@pytest.mark.parametrize("field", ["data_capture_expiry_days", "access_log_expiry_days"])
def test_expiry_days_outside_what_s3_lifecycle_takes_are_refused(tmp_path, field):
    message = refusal(tmp_path, DEV.replace(f"{field} = ", f"{field} = 0  # was "))
    assert f"storage.{field}: Input should be greater than or equal to 1" in message
