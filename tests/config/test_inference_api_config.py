"""The inference and api sections: mode-specific knobs refused in the wrong mode, ranges, production rules,
each as one line naming the field."""

from __future__ import annotations

import pytest

from modules.config import ConfigError, PipelineConfig
from tests.config.config_text import load_config_text, shipped_config_text

LOCAL = shipped_config_text("local")
PROD = shipped_config_text("prod")
# local.toml runs an asynchronous endpoint; the serverless knobs are checked on the same file in serverless mode.
SERVERLESS = LOCAL.replace(
    'mode = "async"\nimage_tag = "1.0.0"\ninstance_type = "ml.m5.large"',
    'mode = "serverless"\nimage_tag = "1.0.0"\nmemory_size_mb = 2048\nmax_concurrency = 2',
)


def _load(tmp_path, text: str, name: str = "broken.toml") -> PipelineConfig:
    """TEXT loaded as NAME: by default broken.toml, an environment that is none of the shipped ones."""
    return load_config_text(tmp_path, text, name)


def _with_inference(text: str, knobs: str) -> str:
    return text.replace("[inference]\n", f"[inference]\n{knobs}\n", 1)


def test_the_endpoint_name_is_derived_from_project_and_environment(tmp_path):
    assert _load(tmp_path, LOCAL, "local.toml").inference.endpoint_name == "inference-local-inference"


@pytest.mark.parametrize(
    ("knobs", "expected"),
    [
        (
            'instance_type = "ml.m5.large"',
            "inference: instance_type: applies only to mode 'real-time' or 'async', not to mode 'serverless'; remove it",
        ),
        (
            "data_capture_sampling_percentage = 10",
            "data_capture_sampling_percentage: applies only to mode 'real-time', not to mode 'serverless'",
        ),
        ("provisioned_concurrency = 3", "provisioned_concurrency: must be <= max_concurrency (2), got 3"),
        ("min_capacity = 0", "min_capacity: 0 (scale to zero) only in mode 'async', not in mode 'serverless'"),
    ],
)
def test_serverless_refuses_knobs_of_other_modes_and_impossible_values(tmp_path, knobs, expected):
    with pytest.raises(ConfigError, match=expected.replace("(", r"\(").replace(")", r"\)")):
        _load(tmp_path, _with_inference(SERVERLESS, knobs))


def test_serverless_memory_goes_in_1_gb_steps(tmp_path):
    with pytest.raises(ConfigError, match="memory_size_mb: must be 1024-6144 in steps of 1024, got 1536"):
        _load(tmp_path, SERVERLESS.replace("memory_size_mb = 2048", "memory_size_mb = 1536"))


def test_instance_types_must_be_ml_families(tmp_path):
    text = PROD.replace('instance_type = "ml.m5.large"', 'instance_type = "m5.large"')
    with pytest.raises(ConfigError, match=r"inference.instance_type: String should match pattern"):
        _load(tmp_path, text)


def test_real_time_refuses_serverless_knobs(tmp_path):
    with pytest.raises(
        ConfigError, match="max_concurrency: applies only to mode 'serverless', not to mode 'real-time'"
    ):
        _load(tmp_path, _with_inference(PROD, "max_concurrency = 5"))


def test_the_serverless_variant_of_the_local_file_is_serverless(tmp_path):
    assert _load(tmp_path, SERVERLESS).inference.mode == "serverless"


def test_async_may_scale_to_zero_by_default(tmp_path):
    inference = _load(tmp_path, LOCAL).inference
    assert inference.mode == "async"
    assert (inference.resolved_min_capacity, inference.autoscaled) == (0, True)


@pytest.mark.parametrize("tag", ["latest", "stable"])
def test_production_refuses_moving_image_tags(tmp_path, tag):
    with pytest.raises(
        ConfigError, match=f"inference.image_tag: '{tag}' is a moving tag, refused in every environment"
    ):
        _load(tmp_path, PROD.replace('image_tag = "1.0.0"\ninstance_type', f'image_tag = "{tag}"\ninstance_type'))


@pytest.mark.parametrize(
    ("replacement", "expected"),
    [
        ('auth = "jwt"', "api: jwt_issuer: required when auth = 'jwt' (https issuer URL); jwt_audience: required"),
        ('auth = "iam"\njwt_issuer = "https://issuer.example.com/"', "jwt_issuer: applies only to auth = 'jwt'"),
        ('auth = "basic"', "api.auth: Input should be 'iam', 'jwt' or 'none'"),
        ('auth = "iam"\ncors_allowed_origins = ["*"]', "cors_allowed_origins: '*' is not an exact origin"),
    ],
)
def test_api_authorization_and_cors_are_checked(tmp_path, replacement, expected):
    with pytest.raises(ConfigError, match=expected.replace("(", r"\(").replace(")", r"\)").replace("*", r"\*")):
        _load(tmp_path, LOCAL.replace('auth = "iam"\ncors_allowed_origins = ["http://localhost:3000"]', replacement))


def test_no_authorization_is_allowed_outside_production_only(tmp_path):
    assert _load(tmp_path, LOCAL.replace('auth = "iam"', 'auth = "none"')).api.auth == "none"
    with pytest.raises(ConfigError, match="api.auth: 'none' is refused when production = true; allowed: iam, jwt"):
        _load(tmp_path, PROD.replace('auth = "iam"', 'auth = "none"'))


@pytest.mark.parametrize(
    ("knob", "value", "expected"),
    [
        ("throttling_rate_limit", "0", "api.throttling_rate_limit: Input should be greater than or equal to 1"),
        ("throttling_rate_limit", "10001", "api.throttling_rate_limit: Input should be less than or equal to 10000"),
        ("throttling_burst_limit", "5001", "api.throttling_burst_limit: Input should be less than or equal to 5000"),
    ],
)
def test_throttling_stays_in_range(tmp_path, knob, value, expected):
    text = LOCAL.replace(f"{knob} = {'10' if 'rate' in knob else '20'}", f"{knob} = {value}")
    with pytest.raises(ConfigError, match=expected):
        _load(tmp_path, text)


# Defect 7: the artifact key was fixed, so instances added later loaded whatever was uploaded last.
def test_the_model_artifact_key_carries_the_configured_model_name_and_version(tmp_path):
    inference = _load(
        tmp_path,
        _with_inference(LOCAL, 'model_name = "churn"').replace(
            'model_version = "1.0.0"', 'model_version = "2025-06-01"'
        ),
    ).inference
    assert inference.model_artifact_key == "models/churn/2025-06-01/model.tar.gz"


@pytest.mark.parametrize("version", ["latest", "Current", "stable"])
def test_a_model_version_that_names_whatever_was_uploaded_last_is_refused(tmp_path, version):
    with pytest.raises(ConfigError, match=f"inference: model_version: '{version}' does not name one artifact"):
        _load(tmp_path, LOCAL.replace('model_version = "1.0.0"', f'model_version = "{version}"'))


@pytest.mark.parametrize("version", ["1.0/2", "../1.0.0", "1.0.0+build.5", "-1", ""])
def test_a_model_version_must_be_one_plain_key_segment(tmp_path, version):
    with pytest.raises(ConfigError, match="inference.model_version: String should match pattern"):
        _load(tmp_path, LOCAL.replace('model_version = "1.0.0"', f'model_version = "{version}"'))
