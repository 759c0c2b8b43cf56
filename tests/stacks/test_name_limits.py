"""Config validation knows every name AWS limits: with the longest names it accepts, every physical name the
stacks synthesize still fits AWS's limit for it. A name a stack derives that validation does not check fails here.

The environment is grown one character at a time until validation refuses it (so whichever check binds first is
found, whatever it is), on a local variant without the Fargate inference service (the model on the SageMaker
endpoint) and with a short explicit endpoint name: the two names that otherwise bind first (a 32-character load
balancer, the derived endpoint), so the checks of every other name are reached.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from modules.config import ConfigError, load_config
from modules.config.inference import MAX_ENDPOINT_NAME
from modules.limits import (
    IAM_ROLE_NAME,
    LAMBDA_FUNCTION_NAME,
    LOAD_BALANCER_NAME,
    LOG_GROUP_NAME,
    S3_BUCKET_NAME,
    SQS_QUEUE_NAME,
    TARGET_GROUP_NAME,
)
from tests.config.test_inference_api_config import SERVERLESS
from tests.conftest import PROJECT_ROOT

# (resource type, attribute) -> the most characters AWS allows. The short limits come from modules/limits.py;
# every other name these stacks build (topics, repositories, aliases, security groups, alarms, ECS, API Gateway,
# scaling and inline policy names) allows at least 128: API Gateway's API and VPC link names
# (https://docs.aws.amazon.com/apigatewayv2/latest/api-reference/apis.html) and IAM inline policy names
# (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html) are the shortest of them.
LIMITED = {
    ("aws_lb", "name"): LOAD_BALANCER_NAME.value,
    ("aws_lb_target_group", "name"): TARGET_GROUP_NAME.value,
    ("aws_s3_bucket", "bucket"): S3_BUCKET_NAME.value[1],
    ("aws_iam_role", "name"): IAM_ROLE_NAME.value,
    ("aws_lambda_function", "function_name"): LAMBDA_FUNCTION_NAME.value,
    ("aws_sqs_queue", "name"): SQS_QUEUE_NAME.value,
    ("aws_cloudwatch_log_group", "name"): LOG_GROUP_NAME.value,
    ("aws_sagemaker_endpoint", "name"): MAX_ENDPOINT_NAME,  # its configuration and model add -<10 hex>
}
OTHER_NAMES = ("name", "alarm_name", "family", "bucket", "function_name")
OTHER_NAME_FLOOR = 128
HASHED = re.compile(r"^(?P<head>[^$]*)\$\{substr\(sha1\(.*\),\s*0,\s*(?P<length>\d+)\)\}$", re.DOTALL)
LOCAL = (PROJECT_ROOT / "config" / "local.toml").read_text()
# local.toml runs an asynchronous endpoint, which the predict function cannot call once the inference service is
# off: the variant runs it serverless (tests/config/test_inference_api_config.py SERVERLESS).
VARIANT = SERVERLESS.replace("[compute.inference_service]\n", "[compute.inference_service]\nenabled = false\n").replace(
    "[inference]\n", '[inference]\nendpoint_name = "ep"\n').replace('model_backend = "http"', 'model_backend = "sagemaker"')


def _longest_accepted(tmp_path: Path) -> Path:
    """The variant with the longest environment name validation accepts (project: 32 characters)."""
    accepted = None
    for length in range(2, 33):
        path = tmp_path / "longest.toml"
        path.write_text(f'environment = "{"e" * length}"\n' + VARIANT.replace('project = "inference"',
                                                                                f'project = "{"p" * 32}"'))
        try:
            load_config(path)
        except ConfigError:
            break
        accepted = path.read_text()
    assert accepted is not None, "even a 2-character environment is refused"
    path.write_text(accepted)
    return path


def _length(value: str) -> int | None:
    """Characters of a synthesized name; None for a value Terraform computes from other resources."""
    hashed = HASHED.match(value)
    if hashed:
        return len(hashed["head"]) + int(hashed["length"])
    return None if "${" in value else len(value)


def test_with_the_longest_names_validation_accepts_every_synthesized_name_fits_aws(tmp_path):
    from main import compose
    from modules.synth_run import synthesize

    config = load_config(_longest_accepted(tmp_path))
    # The queue worker's execution role binds here (<prefix>-queue-worker-execution, 64): every limit under 80 is
    # in play, the state and storage buckets within a few characters of theirs.
    assert len(config.name_prefix) >= 40
    outdir = tmp_path / "out"
    synthesize(compose, config, outdir)
    too_long, checked = [], 0
    for document in (json.loads(path.read_text()) for path in outdir.glob("stacks/*/cdk.tf.json")):
        for kind, resources in document.get("resource", {}).items():
            for resource in resources.values():
                for attribute in OTHER_NAMES:
                    value = resource.get(attribute)
                    length = _length(value) if isinstance(value, str) else None
                    if length is None:
                        continue
                    checked += 1
                    limit = LIMITED.get((kind, attribute), OTHER_NAME_FLOOR)
                    if length > limit:
                        too_long.append(f"{kind}.{attribute} {value!r}: {length} > {limit}")
    assert checked > 50
    assert too_long == [], f"names validation let through for {config.name_prefix!r}"


@pytest.mark.parametrize(("text", "settings"), [
    (LOCAL, "project, environment: load balancer name"),
    (VARIANT, "project, environment: IAM role name"),
    (VARIANT.replace('endpoint_name = "ep"\n', ""), "project, environment: derived SageMaker endpoint name"),
])
def test_the_name_that_binds_first_is_named_by_the_settings_that_compose_it(tmp_path, text, settings):
    path = tmp_path / "long.toml"
    path.write_text('environment = "' + "e" * 32 + '"\n' + text.replace('project = "inference"', f'project = "{"p" * 32}"'))
    with pytest.raises(ConfigError) as error:
        load_config(path)
    assert settings in str(error.value)
