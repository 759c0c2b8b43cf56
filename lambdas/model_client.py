"""Call the model, wherever it is hosted: a SageMaker endpoint or the Fargate service over HTTP.

Both hosts run the same image, so both speak the same contract: POST a JSON body
`{"instances": [...]}` to /invocations, get `{"predictions": [...], "model_version": ...}` back.
Failures split in two, because callers must treat them differently:
- ModelInputRejected: the model answered 4xx, or the body is over the size limit; retrying the same input can
  never succeed.
- ModelUnavailable: timeouts (ModelTimeout), 5xx, throttling, connection errors; worth retrying.

An asynchronous SageMaker endpoint (MODEL_BACKEND "sagemaker-async") answers no call directly: `hand_off` stores
the request body under async/input/<job id>.json and calls InvokeEndpointAsync on it; the endpoint's notification
later carries the answer (lambdas/async_results). Every call this module makes depends on the backend, which is
why the access gate evaluates them only for deployments on the backend they were recorded under.

Every call is one attempt bounded by a budget: the configured MODEL_TIMEOUT_SECONDS, cut to the time the caller
has left (a Deadline). No SDK retries: a retry would double the time a caller cannot afford, and the callers
retry anyway (the worker by SQS redelivery, predict's client on a 502/504).
"""

from __future__ import annotations

import json
import math
import urllib.error
import urllib.request
from functools import cache
from typing import Any
from urllib.parse import urlsplit

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, ConnectTimeoutError, ReadTimeoutError

from lambdas.aws_clients import queue_driven_s3
from lambdas.contract import (
    BACKEND_HTTP,
    BACKEND_SAGEMAKER,
    BACKEND_SAGEMAKER_ASYNC,
    ENDPOINT_NAME,
    MODEL_BACKEND,
    MODEL_BACKENDS,
    MODEL_URL,
    RESULTS_BUCKET,
    async_input_key,
    max_payload_bytes,
    model_timeout_seconds,
    required_env,
)
from lambdas.deadline import NO_DEADLINE, Deadline

JSON_TYPE = "application/json"
# Connecting to a VPC endpoint or the internal load balancer takes milliseconds; a second means it is not there.
CONNECT_TIMEOUT_SECONDS = 1
# Below this a call cannot succeed (TLS handshake, the model's own work): do not start it.
MIN_CALL_SECONDS = 0.5
# One attempt, whatever the retry mode: redelivery (worker) or the API client (predict) is the retry.
NO_RETRIES = {"mode": "standard", "total_max_attempts": 1}


class ModelError(Exception):
    """Base of model call failures."""


class ModelUnavailable(ModelError):
    """A transient failure: the same request may succeed later."""


class ModelInputRejected(ModelError):
    """The model refused the input (HTTP 4xx); the message is the model's own explanation."""


class PayloadTooLarge(ModelInputRejected):
    """The encoded body exceeds MAX_PAYLOAD_BYTES, the limit synth derived from the model's own."""


class ModelTimeout(ModelUnavailable):
    """The model did not answer within the budget (or no budget was left to start the call)."""

    def __init__(self, message: str, budget_seconds: float) -> None:
        super().__init__(message)
        self.budget_seconds = budget_seconds


@cache
def sagemaker_runtime(read_timeout_seconds: int | None = None) -> Any:
    """The client whose read timeout is READ_TIMEOUT_SECONDS (default: MODEL_TIMEOUT_SECONDS, rounded down).

    botocore fixes the read timeout per client, so there is one client per whole-second budget, created on
    first use (tests set the endpoint first); a call with the full budget always uses the default client.
    """
    seconds = read_timeout_seconds or _default_read_timeout()
    return boto3.client(
        "sagemaker-runtime",
        config=Config(
            connect_timeout=CONNECT_TIMEOUT_SECONDS,
            read_timeout=seconds,
            retries=NO_RETRIES,
        ),
    )


def _default_read_timeout() -> int:
    return max(1, int(model_timeout_seconds()))


def call_budget(deadline: Deadline = NO_DEADLINE) -> float:
    """Seconds the next model call may take: the configured timeout, cut to what the deadline leaves."""
    return min(model_timeout_seconds(), deadline.remaining())


def answers_later() -> bool:
    """True when the backend is an asynchronous endpoint: jobs are handed off (`hand_off`), not invoked."""
    return required_env(MODEL_BACKEND) == BACKEND_SAGEMAKER_ASYNC


def _checked_body(payload: dict[str, Any], deadline: Deadline) -> tuple[bytes, float]:
    """The encoded body and the call's budget; PayloadTooLarge or ModelTimeout before anything is sent."""
    # Compact separators: the body must not grow past the limit the client's own request was checked against.
    body = json.dumps(payload, separators=(",", ":")).encode()
    limit = max_payload_bytes()
    if len(body) > limit:
        raise PayloadTooLarge(f"the model request is {len(body)} bytes, over the limit of {limit} bytes")
    budget = call_budget(deadline)
    if budget < MIN_CALL_SECONDS:
        raise ModelTimeout(f"no time left for a model call ({max(budget, 0):.1f} s)", max(budget, 0.0))
    return body, budget


def invoke(payload: dict[str, Any], deadline: Deadline = NO_DEADLINE) -> dict[str, Any]:
    """Send the payload to the backend named by MODEL_BACKEND and return the decoded JSON answer.

    The call is refused before it starts when the body is over MAX_PAYLOAD_BYTES (PayloadTooLarge) or when the
    deadline leaves less than MIN_CALL_SECONDS (ModelTimeout).
    """
    backend = required_env(MODEL_BACKEND)
    if backend == BACKEND_SAGEMAKER_ASYNC:
        raise RuntimeError(f"{MODEL_BACKEND}={backend!r} answers no direct call: use hand_off")
    body, budget = _checked_body(payload, deadline)
    if backend == BACKEND_SAGEMAKER:
        answer = _invoke_sagemaker(body, budget)
    elif backend == BACKEND_HTTP:
        answer = _invoke_http(body, budget)
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


def _invoke_sagemaker(body: bytes, budget: float) -> bytes:
    # Whole seconds, rounded down so the call ends inside the budget (a connect either fails within its own
    # second or takes milliseconds, so the two timeouts do not add up).
    read_timeout = max(1, math.floor(budget))
    client = sagemaker_runtime() if read_timeout == _default_read_timeout() else sagemaker_runtime(read_timeout)
    try:
        response = client.invoke_endpoint(
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
    except (ReadTimeoutError, ConnectTimeoutError) as error:
        raise ModelTimeout(f"SageMaker did not answer within {budget:.1f} s", budget) from error
    except BotoCoreError as error:
        raise ModelUnavailable(f"SageMaker call failed: {error}") from error


def hand_off(payload: dict[str, Any], job_id: str, metadata: dict[str, str],
             deadline: Deadline = NO_DEADLINE) -> None:
    """Give one job to the asynchronous endpoint: its request body to s3://RESULTS_BUCKET/async/input/<job>.json
    (METADATA, such as the job's model and priority, rides along as object metadata for the notification's
    translator), then InvokeEndpointAsync with that InputLocation and the job id as InferenceId.

    Why every delivery invokes again instead of remembering a hand-off: a marker written before the call could
    outlive a crash between the two steps and leave the job pending forever. A second invocation costs one more
    inference, and the result is still stored and announced once (the translator writes it with IfNoneMatch).
    """
    body, budget = _checked_body(payload, deadline)
    bucket, key = required_env(RESULTS_BUCKET), async_input_key(job_id)
    try:
        queue_driven_s3().put_object(Bucket=bucket, Key=key, Body=body, ContentType=JSON_TYPE, Metadata=metadata)
    except (ClientError, BotoCoreError) as error:
        raise ModelUnavailable(f"the async input could not be stored: {error}") from error
    read_timeout = max(1, math.floor(budget))
    client = sagemaker_runtime() if read_timeout == _default_read_timeout() else sagemaker_runtime(read_timeout)
    try:
        client.invoke_endpoint_async(EndpointName=required_env(ENDPOINT_NAME), InputLocation=f"s3://{bucket}/{key}",
                                     ContentType=JSON_TYPE, Accept=JSON_TYPE, InferenceId=job_id)
    except ClientError as error:
        details = error.response.get("Error", {})
        raise ModelUnavailable(f"SageMaker {details.get('Code')}: {details.get('Message')}") from error
    except (ReadTimeoutError, ConnectTimeoutError) as error:
        raise ModelTimeout(f"SageMaker did not accept the job within {budget:.1f} s", budget) from error
    except BotoCoreError as error:
        raise ModelUnavailable(f"SageMaker call failed: {error}") from error


def _invoke_http(body: bytes, budget: float) -> bytes:
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
        # urllib's timeout bounds the connect and each read; no retries happen here.
        with urllib.request.urlopen(request, timeout=budget) as response:
            return response.read()
    except urllib.error.HTTPError as error:
        message = _model_message(error.read().decode("utf-8", "replace"))
        if 400 <= error.code < 500 and error.code not in (408, 429):
            raise ModelInputRejected(message) from error
        raise ModelUnavailable(
            f"model answered HTTP {error.code}: {message}"
        ) from error
    except TimeoutError as error:  # socket.timeout is TimeoutError
        raise ModelTimeout(f"model at {base_url} did not answer within {budget:.1f} s", budget) from error
    except urllib.error.URLError as error:
        if isinstance(error.reason, TimeoutError):
            raise ModelTimeout(f"model at {base_url} did not answer within {budget:.1f} s", budget) from error
        raise ModelUnavailable(f"model unreachable at {base_url}: {error}") from error
    except ConnectionError as error:
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
