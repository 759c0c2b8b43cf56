"""Call the model, wherever it is hosted: a SageMaker endpoint or the Fargate service over HTTP.

Both hosts run the same image, so both speak the same contract: POST a JSON body
`{"instances": [...]}` to /invocations, get `{"predictions": [...], "model_version": ...}` back.
Failures split in two, because callers must treat them differently:
- ModelInputRejected: the model answered 4xx; retrying the same input can never succeed.
- ModelUnavailable: timeouts, 5xx, throttling, connection errors; worth retrying.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from functools import cache
from typing import Any
from urllib.parse import urlsplit

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from lambdas.contract import (
    BACKEND_HTTP,
    BACKEND_SAGEMAKER,
    ENDPOINT_NAME,
    MODEL_BACKEND,
    MODEL_BACKENDS,
    MODEL_URL,
    required_env,
)

# Below API Gateway's 30 s integration limit, so `predict` can still answer 502 itself.
MODEL_TIMEOUT_SECONDS = 25.0
JSON_TYPE = "application/json"


class ModelError(Exception):
    """Base of model call failures."""


class ModelUnavailable(ModelError):
    """A transient failure: the same request may succeed later."""


class ModelInputRejected(ModelError):
    """The model refused the input (HTTP 4xx); the message is the model's own explanation."""


@cache
def sagemaker_runtime() -> Any:
    """One client per execution environment, created on first use (tests set the endpoint first)."""
    return boto3.client(
        "sagemaker-runtime",
        config=Config(
            connect_timeout=5,
            read_timeout=MODEL_TIMEOUT_SECONDS,
            retries={"mode": "standard"},
        ),
    )


def invoke(payload: dict[str, Any]) -> dict[str, Any]:
    """Send the payload to the backend named by MODEL_BACKEND and return the decoded JSON answer."""
    backend = required_env(MODEL_BACKEND)
    body = json.dumps(payload).encode()
    if backend == BACKEND_SAGEMAKER:
        answer = _invoke_sagemaker(body)
    elif backend == BACKEND_HTTP:
        answer = _invoke_http(body)
    else:
        raise RuntimeError(
            f"{MODEL_BACKEND}={backend!r}; expected one of {', '.join(MODEL_BACKENDS)}"
        )
    try:
        document = json.loads(answer)
    except ValueError as error:
        raise ModelUnavailable(f"model answered with invalid JSON: {error}") from error
    if not isinstance(document, dict):
        raise ModelUnavailable("model answered with JSON that is not an object")
    return document


def _invoke_sagemaker(body: bytes) -> bytes:
    try:
        response = sagemaker_runtime().invoke_endpoint(
            EndpointName=required_env(ENDPOINT_NAME),
            ContentType=JSON_TYPE,
            Accept=JSON_TYPE,
            Body=body,
        )
        return response["Body"].read()
    except ClientError as error:
        details = error.response.get("Error", {})
        original_status = error.response.get("OriginalStatusCode", 0)
        if details.get("Code") == "ModelError" and 400 <= int(original_status) < 500:
            raise ModelInputRejected(
                _model_message(error.response.get("OriginalMessage", ""))
            ) from error
        raise ModelUnavailable(
            f"SageMaker {details.get('Code')}: {details.get('Message')}"
        ) from error
    except BotoCoreError as error:
        raise ModelUnavailable(f"SageMaker call failed: {error}") from error


def _invoke_http(body: bytes) -> bytes:
    base_url = required_env(MODEL_URL).rstrip("/")
    if urlsplit(base_url).scheme not in (
        "http",
        "https",
    ):  # urllib would also open file:// URLs
        raise RuntimeError(f"{MODEL_URL} must be an http(s) URL, got {base_url!r}")
    request = urllib.request.Request(
        f"{base_url}/invocations",
        data=body,
        headers={"Content-Type": JSON_TYPE, "Accept": JSON_TYPE},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=MODEL_TIMEOUT_SECONDS) as response:
            return response.read()
    except urllib.error.HTTPError as error:
        message = _model_message(error.read().decode("utf-8", "replace"))
        if 400 <= error.code < 500 and error.code not in (408, 429):
            raise ModelInputRejected(message) from error
        raise ModelUnavailable(
            f"model answered HTTP {error.code}: {message}"
        ) from error
    except (urllib.error.URLError, TimeoutError, ConnectionError) as error:
        raise ModelUnavailable(f"model unreachable at {base_url}: {error}") from error


def _model_message(body: str) -> str:
    """The model server's `{"error": ...}` text when present, else the raw (truncated) body."""
    try:
        document = json.loads(body)
    except ValueError:
        return body[:500]
    return (
        str(document.get("error", body[:500]))
        if isinstance(document, dict)
        else body[:500]
    )
