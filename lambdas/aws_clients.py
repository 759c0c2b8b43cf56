"""The boto3 clients the handlers share: one per execution environment, created on first use.

Why lazily: tests (and the local e2e) set AWS_ENDPOINT_URL before the first call; boto3 reads it when the
client is created. The SageMaker runtime client lives in model_client.py, with its own timeouts.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import boto3


@cache
def s3() -> Any:
    return boto3.client("s3")


@cache
def sns() -> Any:
    return boto3.client("sns")
