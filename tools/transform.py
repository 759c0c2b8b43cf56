"""`make transform INPUT=s3://<results bucket>/batch-inputs/<prefix>/`: SageMaker Batch Transform over a prefix (or
one object) of JSON Lines with the model the inference stack created, writing JSON Lines into
results/transforms/<job name>/ of the same bucket.

The request is Transform's line-split, multi-record pattern that the model server is tested under
(tests/containers/test_batch_transform.py): SplitType Line, BatchStrategy MultiRecord, Content-Type and Accept
application/jsonlines, AssembleWith Line. MaxPayloadInMB and MaxConcurrentTransforms are left to the container's
/execution-parameters unless given. With JoinSource Input (the default) every output line is the input record with
its prediction under "SageMakerOutput", so ids travel with the predictions.

The model is found from the environment's endpoint (DescribeEndpoint -> its configuration -> the variant's model),
so this runs the exact model the endpoint serves. The job runs as the model's execution role, whose transform
grants the batch stack adds (inputs under batch-inputs/, outputs under results/transforms/). The caller needs
sagemaker:DescribeEndpoint, DescribeEndpointConfig, CreateTransformJob and DescribeTransformJob.

usage: python -m tools.transform --input s3://... [--instance-type ml.m5.large] [--instance-count 1]
                                 [--max-payload-mb N] [--no-join] [--wait] [--dry-run]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from lambdas.contract import BATCH_INPUTS_PREFIX, TRANSFORM_RESULTS_PREFIX
from modules.limits import SAGEMAKER_NAME, SAGEMAKER_TRANSFORM_PAYLOAD

JSON_LINES = "application/jsonlines"
FINAL_STATES = ("Completed", "Failed", "Stopped")
EXIT_FAILED, EXIT_USAGE = 1, 2


class TransformError(Exception):
    """A one-line reason the transform cannot start."""


def results_bucket(config: Any) -> str:
    return config.storage.bucket_name(config.name_prefix, "results", config.account_id)


def input_prefix(config: Any, uri: str) -> str:
    """The S3 key prefix of URI, which must lie under the results bucket's batch-inputs/ (the role reads nothing else)."""
    bucket, parts = results_bucket(config), urlsplit(uri)
    if parts.scheme != "s3" or parts.netloc != bucket or not parts.path.lstrip("/").startswith(BATCH_INPUTS_PREFIX):
        raise TransformError(
            f"--input must be under s3://{bucket}/{BATCH_INPUTS_PREFIX} (the model's role reads "
            f"only there), got {uri!r}"
        )
    return uri


def job_name(config: Any, now: datetime) -> str:
    return f"{config.name_prefix}-transform-{now.strftime('%Y%m%d-%H%M%S')}"[: SAGEMAKER_NAME.value]


def transform_request(
    config: Any,
    *,
    name: str,
    model: str,
    input_uri: str,
    instance_type: str,
    instance_count: int,
    max_payload_mb: int | None = None,
    join: bool = True,
) -> dict[str, Any]:
    """The CreateTransformJob request."""
    request: dict[str, Any] = {
        "TransformJobName": name,
        "ModelName": model,
        "BatchStrategy": "MultiRecord",
        "TransformInput": {
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": input_uri}},
            "ContentType": JSON_LINES,
            "SplitType": "Line",
            "CompressionType": "None",
        },
        "TransformOutput": {
            "S3OutputPath": f"s3://{results_bucket(config)}/{TRANSFORM_RESULTS_PREFIX}{name}/",
            "Accept": JSON_LINES,
            "AssembleWith": "Line",
            # The bucket's own key: the model's role may generate data keys with it (the batch stack's grant).
            "KmsKeyId": f"alias/{config.name_prefix}-storage",
        },
        "TransformResources": {"InstanceType": instance_type, "InstanceCount": instance_count},
        "Tags": [{"Key": "project", "Value": config.project}, {"Key": "environment", "Value": config.environment}],
    }
    if max_payload_mb is not None:
        request["MaxPayloadInMB"] = max_payload_mb
    if join:
        request["DataProcessing"] = {"JoinSource": "Input"}
    return request


def model_of_endpoint(sagemaker: Any, endpoint_name: str) -> str:
    """The model the endpoint serves: the inference stack's, with its content-hashed name."""
    configuration = sagemaker.describe_endpoint(EndpointName=endpoint_name)["EndpointConfigName"]
    variants = sagemaker.describe_endpoint_config(EndpointConfigName=configuration)["ProductionVariants"]
    return str(variants[0]["ModelName"])


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m tools.transform", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--input", required=True, help="s3://<results bucket>/batch-inputs/<prefix>/ or one object")
    parser.add_argument("--instance-type", default="ml.m5.large")
    parser.add_argument("--instance-count", type=int, default=1)
    parser.add_argument(
        "--max-payload-mb",
        type=int,
        default=None,
        help=f"1-{SAGEMAKER_TRANSFORM_PAYLOAD.value}; default: the container's /execution-parameters",
    )
    parser.add_argument("--no-join", action="store_true", help="predictions only, without the input records")
    parser.add_argument("--wait", action="store_true", help="wait until the job ends and print its status")
    parser.add_argument("--dry-run", action="store_true", help="print the request, start nothing")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None, *, sagemaker: Any = None, now: datetime | None = None) -> int:
    from modules.config import ConfigError, config_path_from_env, load_config

    args = parse_args(argv)
    try:
        config = load_config(config_path_from_env())
        if args.max_payload_mb is not None and not 1 <= args.max_payload_mb <= SAGEMAKER_TRANSFORM_PAYLOAD.value:
            raise TransformError(f"--max-payload-mb must be 1-{SAGEMAKER_TRANSFORM_PAYLOAD.value}")
        input_uri = input_prefix(config, args.input)
        name = job_name(config, now or datetime.now(UTC))
        if sagemaker is None:
            import boto3

            sagemaker = boto3.client("sagemaker", region_name=config.region)
        model = (
            "<the endpoint's model>" if args.dry_run else model_of_endpoint(sagemaker, config.inference.endpoint_name)
        )
        request = transform_request(
            config,
            name=name,
            model=model,
            input_uri=input_uri,
            instance_type=args.instance_type,
            instance_count=args.instance_count,
            max_payload_mb=args.max_payload_mb,
            join=not args.no_join,
        )
    except (ConfigError, TransformError) as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE
    if args.dry_run:
        print(json.dumps(request, indent=2))
        return 0
    sagemaker.create_transform_job(**request)
    print(f"transform job {name}: {input_uri} -> {request['TransformOutput']['S3OutputPath']}")
    if not args.wait:
        return 0
    while True:
        status = sagemaker.describe_transform_job(TransformJobName=name)
        if status["TransformJobStatus"] in FINAL_STATES:
            print(f"{name}: {status['TransformJobStatus']} {status.get('FailureReason', '')}".rstrip())
            return 0 if status["TransformJobStatus"] == "Completed" else EXIT_FAILED
        time.sleep(30)


if __name__ == "__main__":
    sys.exit(main())
