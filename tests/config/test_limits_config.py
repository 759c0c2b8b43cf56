"""Config validation refuses what AWS would refuse (issue 11, defects 5 and 6, Part 3): payloads a hop cannot carry,
timeouts that cannot fit inside each other, names over AWS's lengths. Each case names the field to change.

Every case here was accepted before the limits table: AWS would have refused it at apply time or at run time.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

from modules.config import load_config
from tests.config.config_text import load_config_text, refusal, shipped_config_text
from tests.conftest import PROJECT_ROOT

LOCAL = shipped_config_text("local")
DEV = shipped_config_text("dev")
PROD = shipped_config_text("prod")


def _with(text: str, section: str, line: str) -> str:
    """TEXT with LINE added at the top of [SECTION] (appended as a new section when absent)."""
    header = f"[{section}]\n"
    return text.replace(header, header + line + "\n", 1) if header in text else f"{text}\n{header}{line}\n"


# --- payloads (defect 6) -----------------------------------------------------------------------------------------


def test_six_mib_is_refused_where_the_endpoint_is_serverless(tmp_path):
    message = refusal(tmp_path, _with(DEV, "compute.lambdas", "max_payload_bytes = 6291456"))
    assert (
        "compute.lambdas.max_payload_bytes: 6291456 bytes is more than POST /v1/jobs can carry on AWS: at most "
        "4000000 bytes, bounded by a serverless SageMaker endpoint; allowed: 1024-4000000"
    ) in message


def test_a_body_that_fits_a_real_time_endpoint_but_not_a_lambda_event_is_refused(tmp_path):
    """6 MiB less API Gateway's envelope, base64-encoded, leaves 4669440 bytes for the body of a Lambda event."""
    text = _with(
        PROD.replace('predict_backend = "fargate"', 'predict_backend = "lambda"'),
        "compute.lambdas",
        "max_payload_bytes = 5000000",
    )
    message = refusal(tmp_path, text, "prod.toml")
    assert re.search(
        r"compute.lambdas.max_payload_bytes: 5000000 bytes is more than POST /v1/\w+ can carry on AWS: "
        r"at most 4669440 bytes, bounded by a Lambda event",
        message,
    )


def test_the_inference_service_may_not_accept_more_than_api_gateway_carries(tmp_path):
    message = refusal(tmp_path, _with(PROD, "compute.inference_service", "max_payload_bytes = 20000000"), "prod.toml")
    assert (
        "compute.inference_service.max_payload_bytes: 20000000 bytes is more than can reach the service: at most "
        "10000000 bytes, bounded by API Gateway's HTTP API payload"
    ) in message


def test_a_payload_limit_within_every_route_is_used_as_configured(tmp_path):
    config = load_config_text(tmp_path, _with(DEV, "compute.lambdas", "max_payload_bytes = 1048576"))
    for function in ("submit", "predict", "worker"):
        assert (
            config.compute.function_payload_bytes(function, endpoint_mode="serverless", predict_backend="lambda")
            == 1_048_576
        )


# --- time (defect 5) ---------------------------------------------------------------------------------------------


def test_a_model_timeout_no_worker_invocation_can_fit_is_refused(tmp_path):
    message = refusal(tmp_path, _with(DEV, "compute", "model_timeout_seconds = 29"))
    assert (
        "compute.model_timeout_seconds: 29 s plus 2 s per job is not less than the worker's timeout of 30 s "
        "(compute.lambdas.functions.worker.timeout_seconds): no job could ever finish"
    ) in message


def test_a_job_time_equal_to_the_worker_timeout_is_refused(tmp_path):
    """The handler starts a job only while a whole job's time is left, and some time has always passed by then: a
    timeout exactly equal to one job's time would hand every record back until it reached the dead-letter queue."""
    message = refusal(tmp_path, _with(DEV, "compute", "model_timeout_seconds = 28"))
    assert "compute.model_timeout_seconds: 28 s plus 2 s per job is not less than the worker's timeout of 30 s" in (
        message
    )


def test_a_batch_the_worker_cannot_finish_in_its_timeout_is_refused(tmp_path):
    """The defect's own shape: a batch of 5 run one after another in a 30 s function."""
    message = refusal(tmp_path, _with(DEV, "compute.lambdas", "worker_batch_size = 5"))
    assert (
        "compute.lambdas.worker_batch_size: a batch of 5 jobs run one after another needs 5 x (10 s model timeout "
        "+ 2 s) = 60 s, not less than the worker's timeout of 30 s"
    ) in message
    assert "allowed: at most 2 jobs" in message


def test_a_batch_that_exactly_fills_the_worker_timeout_is_refused(tmp_path):
    text = (
        _with(DEV, "compute.lambdas", "worker_batch_size = 2")
        + "\n[compute.lambdas.functions.worker]\ntimeout_seconds = 24\n"
    )
    message = refusal(tmp_path, text)
    assert "2 x (10 s model timeout + 2 s) = 24 s, not less than the worker's timeout of 24 s" in message
    assert "allowed: at most 1 jobs" in message


def test_a_function_behind_the_api_that_outlives_the_integration_is_refused(tmp_path):
    message = refusal(tmp_path, DEV + "\n[compute.lambdas.functions.predict]\ntimeout_seconds = 30\n")
    assert (
        "compute.lambdas.functions.predict.timeout_seconds: predict's 30 s plus 2 s headroom is more than "
        "api.integration_timeout_ms (29000 ms): API Gateway would cut the call"
    ) in message


def test_the_default_timeout_of_api_functions_is_checked_against_a_shorter_integration(tmp_path):
    message = refusal(tmp_path, _with(DEV, "api", "integration_timeout_ms = 10000"))
    for function in ("submit", "status", "predict"):
        assert f"compute.lambdas.defaults.timeout_seconds: {function}'s 25 s plus 2 s headroom" in message


def test_a_model_timeout_predict_cannot_wait_for_is_refused(tmp_path):
    text = _with(_with(DEV, "compute", "model_timeout_seconds = 25"), "compute.lambdas", "worker_batch_size = 1")
    text += "\n[compute.lambdas.functions.worker]\ntimeout_seconds = 30\n"
    message = refusal(tmp_path, text)
    assert (
        "compute.model_timeout_seconds: 25 s plus 1 s to answer is more than predict's timeout of 25 s "
        "(compute.lambdas.defaults.timeout_seconds)"
    ) in message


def test_predicts_timeout_is_not_checked_when_fargate_answers_the_route(tmp_path):
    text = _with(PROD, "compute", "model_timeout_seconds = 25") + (
        "\n[compute.lambdas.functions.worker]\ntimeout_seconds = 30\n"
    )
    text = _with(text, "compute.lambdas", "worker_batch_size = 1")
    assert load_config_text(tmp_path, text, "prod.toml").compute.model_timeout_seconds == 25


def test_a_model_timeout_past_what_sagemaker_waits_for_is_refused(tmp_path):
    message = refusal(tmp_path, _with(DEV, "compute", "model_timeout_seconds = 61"))
    assert "compute.model_timeout_seconds: Input should be less than or equal to 60" in message


def test_an_integration_timeout_past_the_http_api_maximum_is_refused(tmp_path):
    message = refusal(tmp_path, _with(DEV, "api", "integration_timeout_ms = 30001"))
    assert "api.integration_timeout_ms: Input should be less than or equal to 30000" in message


def test_the_shipped_environments_fit_every_budget():
    for env in ("local", "dev", "prod"):
        config = load_config(PROJECT_ROOT / "config" / f"{env}.toml")
        api_functions = tuple(set(config.api.lambda_routes().values()))
        assert (
            config.compute.time_problems(
                api_functions=api_functions, integration_timeout_ms=config.api.integration_timeout_ms
            )
            == []
        )


# --- names (Part 3) ----------------------------------------------------------------------------------------------


def test_a_load_balancer_name_over_32_characters_names_project_and_environment(tmp_path):
    message = refusal(tmp_path, LOCAL, "integration-test.toml")
    assert (
        "project, environment: load balancer name 'inference-integration-test-inference' is 36 characters, over "
        "the 32 AWS allows"
    ) in message
    assert "target group name 'inference-integration-test-inference'" in message
    assert "it is <project>-<environment>-inference: shorten project or environment" in message


def test_a_derived_endpoint_name_over_52_characters_names_project_and_environment_not_a_field_never_written(tmp_path):
    message = refusal(
        tmp_path,
        LOCAL.replace('project = "inference"', 'project = "a-rather-long-project-name"'),
        "environment-name-x.toml",
    )
    assert message.startswith(
        str(tmp_path / "environment-name-x.toml") + ": project, environment: derived "
        "SageMaker endpoint name 'a-rather-long-project-name-environment-name-x-inference' is 55 "
        "characters, over the 52 that leave room for the -<hash>"
    )
    assert (
        "it is <project>-<environment>-inference: shorten project or environment, or set inference.endpoint_name"
        in message
    )
    assert "the environment name 'environment-name-x' is the file name environment-name-x.toml" in message


def test_an_iam_role_name_over_64_characters_is_refused(tmp_path):
    environment = "e" * 32
    text = LOCAL.replace("[compute.inference_service]\n", "[compute.inference_service]\nenabled = false\n", 1)
    text = text.replace('model_backend = "http"', 'model_backend = "sagemaker"')
    message = refusal(tmp_path, text, f"{environment}.toml")
    assert (
        f"project, environment: IAM role name 'inference-{environment}-queue-worker-execution' is 65 characters, "
        "over the 64 AWS allows"
    ) in message
    assert "load balancer" not in message


def test_a_lambda_function_name_over_64_characters_is_refused(tmp_path):
    text = LOCAL.replace('project = "inference"', f'project = "{"p" * 32}"')
    text = _with(text, "inference", 'endpoint_name = "ep"')  # else the derived endpoint name is refused first
    message = refusal(tmp_path, text, f"{'e' * 24}.toml")
    assert f"Lambda function name '{'p' * 32}-{'e' * 24}-predict' is 65 characters, over the 64" in message


def test_names_within_every_limit_pass(tmp_path):
    assert load_config_text(tmp_path, LOCAL, "staging-eu.toml").environment == "staging-eu"


def test_synth_stops_with_exit_2_and_one_line_on_a_batch_that_cannot_fit(tmp_path):
    """GIVEN the defect's configuration (a batch of 5 in a 30 s worker) WHEN synth runs THEN it exits 2 with one
    line naming the field, and writes nothing."""
    config = tmp_path / "slow.toml"
    config.write_text(_with(LOCAL, "compute.lambdas", "worker_batch_size = 5"))
    env = {**os.environ, "PIPELINE_CONFIG": str(config), "CDKTF_OUTDIR": str(tmp_path / "out")}
    proc = subprocess.run(
        [sys.executable, "main.py"], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 2, proc.stderr
    (line,) = proc.stderr.strip().splitlines()
    assert "compute.lambdas.worker_batch_size: a batch of 5 jobs" in line
    assert not (tmp_path / "out").exists()
