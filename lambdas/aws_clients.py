"""The boto3 clients the handlers share: one per execution environment, created on first use.

Why lazily: tests (and the local e2e) set AWS_ENDPOINT_URL before the first call; boto3 reads it when the
client is created. The SageMaker runtime client lives in model_client.py, with its own budgeted timeouts.

Why short timeouts: these are small S3 and SNS calls through VPC endpoints; botocore's default 60 s read
timeout would let one stuck call eat a whole invocation. Why no retries on the queue-driven path (the
worker): a failed record is redelivered by SQS, so an SDK retry only spends the time the rest of the batch
needs. The API handlers (submit, status) keep a few quick retries: their client would otherwise see a 503.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

_TIMEOUTS = {"connect_timeout": 1, "read_timeout": 5}
API_CALLS = Config(**_TIMEOUTS, retries={"mode": "standard", "total_max_attempts": 3})
QUEUE_DRIVEN_CALLS = Config(**_TIMEOUTS, retries={"mode": "standard", "total_max_attempts": 1})

# What S3 answers for a key that does not exist, to a caller that holds s3:ListBucket on the bucket. Without
# ListBucket, S3 answers 403 AccessDenied for a missing key instead (HeadObject/GetObject reference, "If the
# object you request doesn't exist ..."): the compute stack grants it to every function that tells "absent" from
# "present" (TellMissingFromForbidden). A 403 is therefore never "absent": it is a broken grant, and must fail.
MISSING_KEY_CODES = ("404", "NoSuchKey", "NotFound")


def missing_key(error: ClientError) -> bool:
    """True when S3 said the key does not exist (and only then: an AccessDenied is not an absence)."""
    return error.response.get("Error", {}).get("Code") in MISSING_KEY_CODES


def key_exists(client: Any, bucket: str, key: str) -> bool:
    """Whether the object exists (HeadObject with CLIENT); a 403 is a broken grant, never an absence, and raises."""
    try:
        client.head_object(Bucket=bucket, Key=key)
    except ClientError as error:
        if missing_key(error):
            return False
        raise
    return True


@cache
def s3() -> Any:
    return boto3.client("s3", config=API_CALLS)


@cache
def sns() -> Any:
    return boto3.client("sns", config=API_CALLS)


@cache
def queue_driven_s3() -> Any:
    return boto3.client("s3", config=QUEUE_DRIVEN_CALLS)


@cache
def queue_driven_sns() -> Any:
    return boto3.client("sns", config=QUEUE_DRIVEN_CALLS)
