"""The table of AWS limits (modules/limits.py): every entry documented, linked and explained; a leaf module."""

from __future__ import annotations

import ast
from dataclasses import FrozenInstanceError
from pathlib import Path

import pytest

from modules import limits
from modules.limits import LIMITS, Limit, name_problem

PROJECT_PACKAGES = {"modules", "lambdas", "containers", "tools", "tests", "main"}


def test_every_limit_of_the_module_is_in_the_table_once() -> None:
    declared = [value for value in vars(limits).values() if isinstance(value, Limit)]
    assert sorted(limit.name for limit in declared) == sorted(limit.name for limit in LIMITS)
    assert len({limit.name for limit in LIMITS}) == len(LIMITS)


@pytest.mark.parametrize("limit", LIMITS, ids=lambda limit: limit.name)
def test_each_limit_names_its_unit_its_aws_documentation_and_one_line_of_why(limit: Limit) -> None:
    assert limit.unit and limit.name
    assert limit.doc.startswith("https://docs.aws.amazon.com/")
    assert limit.why and "\n" not in limit.why


def test_limits_are_frozen() -> None:
    with pytest.raises(FrozenInstanceError):
        limits.SNS_MESSAGE.value = 1  # type: ignore[misc]


def test_the_table_is_a_leaf_module_importing_nothing_from_the_project() -> None:
    tree = ast.parse(Path(limits.__file__).read_text())
    imported = {
        (node.module if isinstance(node, ast.ImportFrom) else alias.name).split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, (ast.Import, ast.ImportFrom))
        for alias in node.names
    }
    assert not imported & PROJECT_PACKAGES


@pytest.mark.parametrize(
    ("limit", "value"),
    [
        (limits.API_GATEWAY_HTTP_INTEGRATION_TIMEOUT, 30_000),  # HTTP API; 29 s is the REST API's default
        (limits.LAMBDA_SYNC_PAYLOAD, 6_291_456),
        (limits.SAGEMAKER_REALTIME_PAYLOAD, 6_291_456),
        (limits.SAGEMAKER_SERVERLESS_PAYLOAD, 4_000_000),
        (limits.SNS_MESSAGE, 262_144),
        (limits.SQS_VISIBILITY_TIMEOUT_FACTOR, 6),
        (limits.LOAD_BALANCER_NAME, 32),
        (limits.IAM_ROLE_NAME, 64),
        (limits.SAGEMAKER_NAME, 63),
        (limits.SQS_QUEUE_NAME, 80),
        (limits.LAMBDA_FUNCTION_NAME, 64),
        (limits.LOG_GROUP_NAME, 512),
        (limits.S3_BUCKET_NAME, (3, 63)),
    ],
    ids=lambda item: getattr(item, "name", str(item)),
)
def test_the_numbers_are_the_documented_ones(limit: Limit, value: object) -> None:
    assert limit.value == value


def test_the_fargate_size_check_reads_the_table_and_names_what_would_fit() -> None:
    assert limits.FARGATE_MEMORY_BY_CPU == dict(limits.FARGATE_TASK_SIZES.value)
    assert limits.fargate_size_problems(8192, 61440) == []
    assert limits.fargate_size_problems(256, 4096) == [
        "memory: 4096 MiB is not allowed with cpu 256; allowed: 512, 1024, 2048"
    ]
    assert limits.fargate_size_problems(300, 512)[0].startswith("cpu: 300 is not a Fargate CPU value; allowed: 256,")


def test_the_queue_event_source_enforces_the_tables_visibility_factor() -> None:
    from modules.constructs.sqs_event_source import VISIBILITY_TIMEOUT_FACTOR

    assert VISIBILITY_TIMEOUT_FACTOR == limits.SQS_VISIBILITY_TIMEOUT_FACTOR.value


def test_a_name_at_the_limit_passes_and_one_over_names_the_settings_to_shorten() -> None:
    assert name_problem(limits.LOG_GROUP_NAME, "/" + "a" * 511, "log group", "/x/<p>", "project") is None

    problem = name_problem(limits.LOG_GROUP_NAME, "/" + "a" * 512, "log group", "/x/<p>", "project, environment")

    assert problem is not None and problem.startswith("project, environment: log group name")
    assert "513 characters, over the 512 AWS allows" in problem
    assert problem.endswith("shorten project or environment")


def test_the_queue_workers_long_poll_is_sqss_longest_wait() -> None:
    from lambdas.contract import LONG_POLL_SECONDS

    assert LONG_POLL_SECONDS == limits.SQS_LONG_POLL.value


# --- the endpoint modes table: one list of modes and mode-specific settings for config and construct ----------------


def test_the_endpoint_modes_table_lists_exactly_the_modes_of_the_endpoint_mode_type() -> None:
    from typing import get_args

    assert tuple(limits.ENDPOINT_MODES) == get_args(limits.EndpointMode)


def test_every_mode_specific_setting_is_a_config_field_or_an_endpoint_prop() -> None:
    """A misspelt setting in the table would silently stop both checks; each name must exist somewhere."""
    from dataclasses import fields

    from modules.config.inference import InferenceConfig
    from modules.constructs.sagemaker_endpoint import SagemakerEndpointProps

    known = set(InferenceConfig.model_fields) | {field.name for field in fields(SagemakerEndpointProps)}
    assert sorted(limits.MODE_SPECIFIC_SETTINGS - known) == []


def _config_settings() -> list[str]:
    from modules.config.inference import InferenceConfig

    return sorted(limits.MODE_SPECIFIC_SETTINGS & set(InferenceConfig.model_fields))


def _other_modes(setting: str) -> list[str]:
    others = [mode for mode in limits.ENDPOINT_MODES if mode not in limits.modes_of(setting)]
    assert others, f"{setting} applies to every mode: it does not belong in the table"
    return others


@pytest.mark.parametrize("setting", _config_settings())
def test_the_config_refuses_each_mode_specific_setting_in_every_other_mode(setting: str) -> None:
    """Driven by the table: whatever it says about a config field, the schema enforces."""
    from pydantic import ValidationError

    from modules.config.inference import InferenceConfig

    sample = {"vpc": False, "network_isolation": False}.get(
        setting, InferenceConfig.model_fields[setting].get_default(call_default_factory=True) or 1
    )
    for mode in _other_modes(setting):
        with pytest.raises(ValidationError, match=f"{setting}: applies only to mode"):
            InferenceConfig.model_validate({"mode": mode, setting: sample})
