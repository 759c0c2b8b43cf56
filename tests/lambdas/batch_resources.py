"""The batch stack's resources in moto, made the way the stack makes them: results bucket, a Fargate Spot compute
environment, the job queue and the job definition with the image's batch command, and the functions' environment.

moto runs no containers; with `use_docker` off (its moto-api config) it marks every submitted job SUCCEEDED at once,
so DescribeJobs answers deterministically. The batch mode itself is run by the tests that need its outputs.
"""

from __future__ import annotations

import json
import urllib.request
import uuid
from dataclasses import dataclass
from typing import Any

import boto3
import pytest

from lambdas import contract

BATCH_COMMAND = ["batch", "--manifest", "Ref::manifest"]
LIMITS = {
    contract.BATCH_MAX_ARRAY_SIZE: "4",
    contract.BATCH_MAX_INPUT_BYTES: str(10 * 1024 * 1024),
    contract.BATCH_MAX_PARTS: "50",
    contract.BATCH_PART_BYTES: "1000",
    contract.BATCH_UPLOAD_URL_SECONDS: "900",
    contract.BATCH_MAX_UPLOAD_PARTS: "5",
}


@dataclass
class BatchResources:
    s3: Any
    batch: Any
    bucket: str
    job_queue: str
    job_definition: str

    def put_lines(self, key: str, lines: list[str]) -> str:
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=("\n".join(lines) + "\n").encode())
        return f"s3://{self.bucket}/{key}"

    def read_json(self, key: str) -> dict[str, Any]:
        return json.loads(self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read())

    def keys(self, prefix: str) -> list[str]:
        listing = self.s3.list_objects_v2(Bucket=self.bucket, Prefix=prefix)
        return sorted(item["Key"] for item in listing.get("Contents", []))

    def job(self, job_id: str) -> dict[str, Any]:
        return self.batch.describe_jobs(jobs=[job_id])["jobs"][0]


def simple_batch(endpoint: str) -> None:
    """moto's Batch without Docker: jobs are marked SUCCEEDED when submitted."""
    request = urllib.request.Request(
        f"{endpoint}/moto-api/config",
        data=json.dumps({"batch": {"use_docker": False}}).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    urllib.request.urlopen(request, timeout=10).close()


@pytest.fixture
def batch_resources(aws_environment: str, monkeypatch: pytest.MonkeyPatch) -> BatchResources:
    simple_batch(aws_environment)
    s3, ec2, iam, batch = (boto3.client(name) for name in ("s3", "ec2", "iam", "batch"))
    suffix = uuid.uuid4().hex[:8]
    bucket = f"results-{suffix}"
    s3.create_bucket(Bucket=bucket)
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.0.0/24")["Subnet"]["SubnetId"]
    group = ec2.create_security_group(GroupName=f"jobs-{suffix}", Description="jobs", VpcId=vpc)["GroupId"]
    role = iam.create_role(RoleName=f"batch-{suffix}", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    environment = batch.create_compute_environment(
        computeEnvironmentName=f"spot-{suffix}",
        type="MANAGED",
        state="ENABLED",
        serviceRole=role,
        computeResources={"type": "FARGATE_SPOT", "maxvCpus": 4, "subnets": [subnet], "securityGroupIds": [group]},
    )["computeEnvironmentArn"]
    queue = batch.create_job_queue(
        jobQueueName=f"batch-{suffix}",
        state="ENABLED",
        priority=1,
        computeEnvironmentOrder=[{"order": 1, "computeEnvironment": environment}],
    )["jobQueueArn"]
    definition = batch.register_job_definition(
        jobDefinitionName=f"batch-{suffix}",
        type="container",
        platformCapabilities=["FARGATE"],
        containerProperties={
            "image": "inference:1.0.0",
            "command": BATCH_COMMAND,
            "executionRoleArn": role,
            "resourceRequirements": [{"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "2048"}],
        },
    )["jobDefinitionArn"]
    monkeypatch.setenv(contract.RESULTS_BUCKET, bucket)
    monkeypatch.setenv(contract.BATCH_JOB_QUEUE, queue)
    monkeypatch.setenv(contract.BATCH_JOB_DEFINITION, definition)
    for name, value in LIMITS.items():
        monkeypatch.setenv(name, value)
    return BatchResources(s3=s3, batch=batch, bucket=bucket, job_queue=queue, job_definition=definition)
