"""A container on Fargate is checked and given its log group and execution role the same way whether an ECS
service or an AWS Batch job runs it."""

import pytest

from tests.constructs.helpers import synth_with
from tests.constructs.test_batch_job_definition import _job
from tests.constructs.test_fargate_service import _service

RUNNERS = {"service": _service, "job": _job}


@pytest.mark.parametrize("runner", RUNNERS)
@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"cpu_architecture": "arm64"}, "cpu_architecture must be X86_64 or ARM64, got 'arm64'"),
        ({"user": "root:root"}, "user must be a non-root uid"),
        ({"log_retention_days": 8}, "log_retention_days must be one of the CloudWatch retention values"),
    ],
)
def test_the_service_and_the_job_refuse_the_same_container_problems(runner, overrides, message):
    with pytest.raises(ValueError, match=message):
        synth_with(lambda stack: RUNNERS[runner](stack, **overrides))


@pytest.mark.parametrize("runner", RUNNERS)
def test_the_execution_role_pulls_only_its_image_and_writes_only_its_own_log_group(runner):
    doc = synth_with(RUNNERS[runner])
    (log_group_id,) = doc["resource"]["aws_cloudwatch_log_group"]
    documents = doc["data"]["aws_iam_policy_document"]
    (execution,) = [d for name, d in documents.items() if "_execution-role-document_" in name]
    resources = {s["sid"]: s["resources"] for s in execution["statement"]}
    assert resources["PullOwnImage"] == ["arn:aws:ecr:eu-west-1:123456789012:repository/p/inference"]
    assert resources["OwnLogGroupOnly"] == [f"${{aws_cloudwatch_log_group.{log_group_id}.arn}}:*"]
