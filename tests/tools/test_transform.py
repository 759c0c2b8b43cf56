"""`make transform`: a Batch Transform job of the endpoint's model, in the request pattern the server is tested under."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import boto3
import pytest
from moto import mock_aws

from modules.config import load_config
from tests.conftest import PROJECT_ROOT
from tools import transform

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
BUCKET = "inference-dev-results-111111111111"


@pytest.fixture
def dev(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("PIPELINE_ENV", "dev")
    monkeypatch.delenv("PIPELINE_CONFIG", raising=False)
    return load_config(PROJECT_ROOT / "config" / "dev.toml")


def test_the_request_is_transforms_line_split_multi_record_json_lines_pattern(dev) -> None:
    request = transform.transform_request(
        dev,
        name="job",
        model="model-1",
        input_uri=f"s3://{BUCKET}/batch-inputs/x/",
        instance_type="ml.m5.large",
        instance_count=2,
    )

    assert request["BatchStrategy"] == "MultiRecord" and "MaxPayloadInMB" not in request
    assert request["TransformInput"] == {
        "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{BUCKET}/batch-inputs/x/"}},
        "ContentType": "application/jsonlines",
        "SplitType": "Line",
        "CompressionType": "None",
    }
    assert request["TransformOutput"] == {
        "S3OutputPath": f"s3://{BUCKET}/results/transforms/job/",
        "Accept": "application/jsonlines",
        "AssembleWith": "Line",
        "KmsKeyId": "alias/inference-dev-storage",
    }
    assert request["DataProcessing"] == {"JoinSource": "Input"}


@mock_aws
def test_a_transform_job_of_the_endpoints_model_is_started(dev, capsys: pytest.CaptureFixture[str]) -> None:
    sagemaker = boto3.client("sagemaker", region_name=dev.region)
    sagemaker.create_model(
        ModelName="inference-dev-inference-0123456789",
        ExecutionRoleArn=("arn:aws:iam::111111111111:role/inference-dev-inference-sagemaker"),
        PrimaryContainer={"Image": "111111111111.dkr.ecr.eu-west-1.amazonaws.com/inference-dev/inference:1.0.0"},
    )
    sagemaker.create_endpoint_config(
        EndpointConfigName="config-1",
        ProductionVariants=[
            {
                "VariantName": "primary",
                "ModelName": "inference-dev-inference-0123456789",
                "ServerlessConfig": {"MemorySizeInMB": 2048, "MaxConcurrency": 1},
            }
        ],
    )
    sagemaker.create_endpoint(EndpointName=dev.inference.endpoint_name, EndpointConfigName="config-1")

    code = transform.main(["--input", f"s3://{BUCKET}/batch-inputs/nightly/"], sagemaker=sagemaker, now=NOW)

    job = sagemaker.describe_transform_job(TransformJobName="inference-dev-transform-20260102-030405")
    assert code == 0 and job["ModelName"] == "inference-dev-inference-0123456789"
    assert job["TransformInput"]["SplitType"] == "Line" and job["BatchStrategy"] == "MultiRecord"
    assert "results/transforms/inference-dev-transform-20260102-030405/" in capsys.readouterr().out


@pytest.mark.parametrize("uri", [f"s3://{BUCKET}/results/x/", "s3://another-bucket/batch-inputs/x/"])
def test_an_input_the_models_role_cannot_read_is_refused_in_one_line(
    dev, uri: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert transform.main(["--input", uri, "--dry-run"], now=NOW) == transform.EXIT_USAGE
    assert f"--input must be under s3://{BUCKET}/batch-inputs/" in capsys.readouterr().err


def test_a_dry_run_prints_the_request_and_starts_nothing(dev, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        transform.main(["--input", f"s3://{BUCKET}/batch-inputs/x/", "--dry-run", "--max-payload-mb", "4"], now=NOW)
        == 0
    )
    request = json.loads(capsys.readouterr().out)
    assert request["MaxPayloadInMB"] == 4 and request["TransformJobName"] == "inference-dev-transform-20260102-030405"
