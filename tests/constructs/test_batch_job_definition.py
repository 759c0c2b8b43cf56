import json

import pytest

from modules.constructs.batch_job_definition import INFRASTRUCTURE_FAILURES, BatchJobDefinition, BatchJobDefinitionProps
from modules.constructs.policy_statements import statement
from tests.constructs.helpers import only, synth_with

REPO = "arn:aws:ecr:eu-west-1:123456789012:repository/p/inference"


def _job(stack, **overrides):
    props = {
        "name": "p-batch",
        "image": "repo.example/p/inference:1.0.0",
        "repository_arn": REPO,
        "region": "eu-west-1",
        "account_id": "123456789012",
        "kms_key_arn": "arn:aws:kms:eu-west-1:1:key/k",
        "vcpu": 1,
        "memory": 2048,
        "command": ("batch", "--manifest", "Ref::manifest"),
        "log_retention_days": 30,
        "retry_attempts": 3,
        "timeout_seconds": 3600,
        **overrides,
    }
    return BatchJobDefinition(stack, "job", props=BatchJobDefinitionProps(**props))


def _container(doc):
    return json.loads(only(doc, "aws_batch_job_definition")["container_properties"])


def test_the_job_runs_the_command_on_fargate_read_only_non_root_without_a_public_ip():
    container = _container(synth_with(_job))
    assert container["command"] == ["batch", "--manifest", "Ref::manifest"]
    assert container["readonlyRootFilesystem"] is True and container["privileged"] is False
    assert container["user"] == "10001:10001"
    assert container["networkConfiguration"] == {"assignPublicIp": "DISABLED"}
    assert container["resourceRequirements"] == [{"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "2048"}]
    assert container["mountPoints"] == [{"sourceVolume": "scratch", "containerPath": "/tmp", "readOnly": False}]


def test_a_fraction_of_a_vcpu_is_written_as_fargate_expects():
    container = _container(synth_with(lambda s: _job(s, vcpu=0.25, memory=512)))
    assert container["resourceRequirements"][0] == {"type": "VCPU", "value": "0.25"}


def test_only_infrastructure_failures_are_retried_and_every_other_failure_exits():
    job = only(synth_with(lambda s: _job(s, retry_attempts=4)), "aws_batch_job_definition")
    conditions = job["retry_strategy"]["evaluate_on_exit"]
    assert job["retry_strategy"]["attempts"] == 4
    assert [c["on_status_reason"] for c in conditions[:-1]] == list(INFRASTRUCTURE_FAILURES)
    assert all(c["action"] == "RETRY" for c in conditions[:-1])
    assert conditions[-1] == {"action": "EXIT", "on_reason": "*"}
    assert any("Spot" in reason for reason in INFRASTRUCTURE_FAILURES)


def test_logs_go_to_an_encrypted_group_with_retention_and_the_job_times_out():
    doc = synth_with(lambda s: _job(s, timeout_seconds=600, log_retention_days=14))
    group = only(doc, "aws_cloudwatch_log_group")
    assert (group["name"], group["retention_in_days"], group["kms_key_id"]) == (
        "/aws/batch/p-batch",
        14,
        "arn:aws:kms:eu-west-1:1:key/k",
    )
    assert _container(doc)["logConfiguration"]["options"]["awslogs-group"].startswith("${aws_cloudwatch_log_group.")
    assert only(doc, "aws_batch_job_definition")["timeout"] == {"attempt_duration_seconds": 600}


def test_execution_and_job_roles_are_separate_and_the_job_role_holds_only_what_it_is_given():
    grant = statement("ReadInputs", ["s3:GetObject"], ["arn:aws:s3:::b/batch-inputs/*"])
    doc = synth_with(lambda s: _job(s, job_policy_statements=(grant,)))
    container = _container(doc)
    assert container["jobRoleArn"] != container["executionRoleArn"]
    documents = doc["data"]["aws_iam_policy_document"]
    job = next(v for k, v in documents.items() if "job-role" in k)["statement"]
    assert [(st["sid"], st["actions"]) for st in job] == [("ReadInputs", ["s3:GetObject"])]
    execution = next(v for k, v in documents.items() if "execution-role" in k)["statement"]
    assert next(st for st in execution if st["sid"] == "PullOwnImage")["resources"] == [REPO]
    assert only(doc, "aws_batch_job_definition")["depends_on"] == [
        next(f"aws_iam_role_policy.{k}" for k in doc["resource"]["aws_iam_role_policy"] if "job-role" in k)
    ]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"vcpu": 1, "memory": 512}, "memory: 512 MiB is not allowed with cpu 1024"),
        ({"vcpu": 0.3}, "vcpu must be one of Fargate's vCPU values"),
        ({"retry_attempts": 11}, "retry_attempts must be 1-10"),
        ({"retry_on_status_reasons": ("a*", "b*", "c*", "d*", "e*")}, "at most 4"),
        ({"timeout_seconds": 30}, "timeout_seconds must be at least 60"),
        ({"user": "0:0"}, "non-root"),
        ({"command": ()}, "command is required"),
    ],
)
def test_a_job_aws_batch_would_refuse_is_refused_at_synth(overrides, message):
    with pytest.raises(ValueError, match=message):
        synth_with(lambda s: _job(s, **overrides))
