"""The contract module shared with the infrastructure: names, key layout, stdlib only."""

from __future__ import annotations

import ast
import io
import json
import logging
import sys
from contextlib import redirect_stdout
from pathlib import Path

import pytest

from lambdas import contract

LAMBDAS_DIR = Path(contract.__file__).parent
ENV_NAMES = (
    "REQUESTS_TOPIC_ARN",
    "RESULTS_TOPIC_ARN",
    "RESULTS_BUCKET",
    "ENDPOINT_NAME",
    "MODEL_URL",
    "MODEL_BACKEND",
    "QUEUE_URL",
    "QUEUE_BATCH_SIZE",
    "MAX_PAYLOAD_BYTES",
    "MODEL_TIMEOUT_SECONDS",
    "LOG_LEVEL",
)


@pytest.mark.parametrize("name", ENV_NAMES)
def test_each_environment_variable_constant_is_its_own_name(name: str) -> None:
    assert getattr(contract, name) == name


def test_each_environment_variable_constant_has_a_one_line_comment_above_it() -> None:
    lines = Path(contract.__file__).read_text().splitlines()
    for name in ENV_NAMES:
        index = next(
            i for i, line in enumerate(lines) if line.startswith(f"{name}: Final")
        )
        assert lines[index - 1].startswith("# "), name


def test_job_documents_live_under_fixed_prefixes() -> None:
    assert contract.request_key("abc") == "requests/abc.json"
    assert contract.result_key("abc") == "results/abc.json"
    assert contract.async_input_key("abc") == "async/input/abc.json"
    prefixes = (contract.ASYNC_INPUT_PREFIX, contract.ASYNC_OUTPUT_PREFIX, contract.ASYNC_FAILURE_PREFIX)
    assert len(set(prefixes)) == 3 and all(p.startswith("async/") and p.endswith("/") for p in prefixes)


def test_message_attributes_and_priorities_match_the_filter_policies() -> None:
    assert (contract.ATTR_MODEL, contract.ATTR_PRIORITY) == ("model", "priority")
    assert set(contract.PRIORITIES) == {"high", "normal"}
    assert set(contract.MODEL_BACKENDS) == {"sagemaker", "sagemaker-async", "http"}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (None, 4_000_000),
        ("1024", 1024),
        ("0", 4_000_000),
        ("lots", 4_000_000),
    ],
)
def test_an_unset_payload_limit_falls_back_to_the_smallest_model_limit_a_serverless_endpoint_has(
    raw: str | None, expected: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    if raw is None:
        monkeypatch.delenv(contract.MAX_PAYLOAD_BYTES, raising=False)
    else:
        monkeypatch.setenv(contract.MAX_PAYLOAD_BYTES, raw)

    assert contract.max_payload_bytes() == expected


def test_the_payload_fallback_is_the_serverless_limit_of_the_limits_table() -> None:
    from modules.limits import SAGEMAKER_SERVERLESS_PAYLOAD

    assert contract.DEFAULT_MAX_PAYLOAD_BYTES == SAGEMAKER_SERVERLESS_PAYLOAD.value


@pytest.mark.parametrize(
    ("raw", "expected"),
    [(None, 10.0), ("2.5", 2.5), ("0", 10.0), ("-3", 10.0), ("inf", 10.0), ("nan", 10.0), ("soon", 10.0)],
)
def test_an_unset_or_invalid_model_timeout_falls_back_to_the_default(
    raw: str | None, expected: float, monkeypatch: pytest.MonkeyPatch
) -> None:
    if raw is None:
        monkeypatch.delenv(contract.MODEL_TIMEOUT_SECONDS, raising=False)
    else:
        monkeypatch.setenv(contract.MODEL_TIMEOUT_SECONDS, raw)

    assert contract.DEFAULT_MODEL_TIMEOUT_SECONDS == 10
    assert contract.model_timeout_seconds() == expected


def test_a_missing_contract_variable_is_named_in_the_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(contract.RESULTS_BUCKET, raising=False)

    with pytest.raises(RuntimeError, match="RESULTS_BUCKET"):
        contract.required_env(contract.RESULTS_BUCKET)


def test_shared_lambda_modules_import_only_the_standard_library_and_boto() -> None:
    allowed_third_party = {"boto3", "botocore", "lambdas"}
    for path in LAMBDAS_DIR.rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                roots = {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                roots = {node.module.split(".")[0]}
            else:
                continue
            outside = roots - allowed_third_party - set(sys.stdlib_module_names)
            assert not outside, f"{path.relative_to(LAMBDAS_DIR)} imports {outside}"


def test_the_contract_itself_needs_nothing_but_the_standard_library() -> None:
    tree = ast.parse(Path(contract.__file__).read_text())
    imported = {
        (node.module if isinstance(node, ast.ImportFrom) else alias.name).split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, (ast.Import, ast.ImportFrom))
        for alias in node.names
    }

    assert imported <= set(sys.stdlib_module_names) | {"__future__"}


def test_every_folder_under_lambdas_is_a_function_with_a_handler() -> None:
    folders = [
        p for p in LAMBDAS_DIR.iterdir() if p.is_dir() and p.name != "__pycache__"
    ]

    assert sorted(p.name for p in folders) == ["async_results", "predict", "status", "submit", "worker"]
    for folder in folders:
        assert (folder / "__init__.py").is_file()
        module = __import__(f"lambdas.{folder.name}.handler", fromlist=["handler"])
        assert callable(module.handler)


def test_log_lines_are_json_objects_with_level_message_and_fields(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(contract.LOG_LEVEL, "debug")
    logger = contract.json_logger("tests.contract")
    output = io.StringIO()

    with redirect_stdout(output):
        logger.debug("job accepted", extra={"fields": {"job_id": "j-1"}})

    line = json.loads(output.getvalue())
    assert line["level"] == "DEBUG"
    assert line["message"] == "job accepted"
    assert line["job_id"] == "j-1"
    assert logger.level == logging.DEBUG
