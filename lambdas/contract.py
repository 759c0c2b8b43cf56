"""The contract between the infrastructure (modules/) and the Lambda code (lambdas/).

Both sides import these names, so a renamed variable or key layout breaks at import time
or in a test, never silently in production. Pure stdlib: this file ships in every zip.
"""

from __future__ import annotations

import json
import logging
import math
import os
import sys
import uuid
from datetime import UTC, datetime
from typing import Any, Final

# --- environment variables set on the functions by the compute stack --------------------

# ARN of the SNS topic that `submit` publishes accepted jobs to.
REQUESTS_TOPIC_ARN: Final = "REQUESTS_TOPIC_ARN"
# ARN of the SNS topic that `worker` publishes a completion notice to.
RESULTS_TOPIC_ARN: Final = "RESULTS_TOPIC_ARN"
# Name of the S3 bucket that holds requests/{job_id}.json and results/{job_id}.json.
RESULTS_BUCKET: Final = "RESULTS_BUCKET"
# Name of the SageMaker endpoint, used when MODEL_BACKEND is "sagemaker" or "sagemaker-async".
ENDPOINT_NAME: Final = "ENDPOINT_NAME"
# HTTP base URL of the Fargate inference service (no trailing path), used when MODEL_BACKEND is "http".
MODEL_URL: Final = "MODEL_URL"
# Which model host to call: one of MODEL_BACKENDS.
MODEL_BACKEND: Final = "MODEL_BACKEND"
# URL of the SQS work queue: the queue worker container consumes it (informational for the worker function, whose
# event source mappings feed it).
QUEUE_URL: Final = "QUEUE_URL"
# Messages the queue worker container receives per long poll and works on at once (1-10, SQS's receive maximum).
QUEUE_BATCH_SIZE: Final = "QUEUE_BATCH_SIZE"
# Largest accepted request body in bytes, derived at synth from the route and the endpoint mode.
MAX_PAYLOAD_BYTES: Final = "MAX_PAYLOAD_BYTES"
# Seconds one model call may take (compute.model_timeout_seconds); the time left in the invocation may cut it.
MODEL_TIMEOUT_SECONDS: Final = "MODEL_TIMEOUT_SECONDS"
# Python logging level name for the functions (DEBUG, INFO, WARNING, ERROR).
LOG_LEVEL: Final = "LOG_LEVEL"

# --- values of those variables --------------------------------------------------------------

BACKEND_SAGEMAKER: Final = "sagemaker"
# An asynchronous SageMaker endpoint: the job is handed off (input to S3, InvokeEndpointAsync) and its result arrives
# later as the endpoint's notification, which the async_results function turns into the result document.
BACKEND_SAGEMAKER_ASYNC: Final = "sagemaker-async"
BACKEND_HTTP: Final = "http"
MODEL_BACKENDS: Final = (BACKEND_SAGEMAKER, BACKEND_SAGEMAKER_ASYNC, BACKEND_HTTP)

# --- commands of the inference image (containers/inference/serve.py) ------------------------------------------

# SageMaker's start command: the HTTP model server.
SERVE_COMMAND: Final = "serve"
# The queue consumer: the queue worker's task definition runs the image with this command.
WORK_COMMAND: Final = "work"

# Fallback when MAX_PAYLOAD_BYTES is unset (the stacks always set it): a serverless endpoint's 4 MB, the smallest
# model limit of any route (modules/limits.py), so an unconfigured function never accepts what no model can take.
DEFAULT_MAX_PAYLOAD_BYTES: Final = 4_000_000

# --- time budgets: the synth checks (modules/config/compute.py) and the handlers use the same numbers ---------

DEFAULT_MODEL_TIMEOUT_SECONDS: Final = 10
# What one job needs besides its model call: HeadObject, GetObject (large jobs), PutObject and Publish take well
# under a second together; the rest is slack for a slow answer. A worker starts a job only with this much plus
# the model timeout left, and synth refuses a batch that cannot fit its function's timeout.
JOB_OVERHEAD_SECONDS: Final = 2
# How long the queue worker container's receives wait for a message: SQS's maximum, the fewest empty receives
# (modules/limits.py SQS_LONG_POLL). A stop waits for one such receive plus the jobs in hand, so synth keeps that
# under the task's stop timeout.
LONG_POLL_SECONDS: Final = 20
# Time `predict` keeps after the model call to answer 504 itself, before its own timeout cuts it.
REPLY_MARGIN_SECONDS: Final = 1

# --- SNS message attributes that the work-queue filter policies match on --------------------

ATTR_MODEL: Final = "model"
ATTR_PRIORITY: Final = "priority"
# On results-topic notifications only, so a subscriber can take just the failures.
ATTR_STATUS: Final = "status"
PRIORITY_HIGH: Final = "high"
PRIORITY_NORMAL: Final = "normal"
PRIORITIES: Final = (PRIORITY_HIGH, PRIORITY_NORMAL)

# --- job status values, in the S3 documents and in results-topic notifications --------------

STATUS_PENDING: Final = "pending"
STATUS_SUCCEEDED: Final = "succeeded"
STATUS_FAILED: Final = "failed"


# --- S3 key layout (the storage stack's lifecycle rules and IAM policies use these prefixes) --

REQUESTS_PREFIX: Final = "requests/"
RESULTS_PREFIX: Final = "results/"
# Asynchronous inference: what the consumer hands to the endpoint (the model request body of one job), and where
# the endpoint writes its answers and failures (the endpoint configuration names these two).
ASYNC_INPUT_PREFIX: Final = "async/input/"
ASYNC_OUTPUT_PREFIX: Final = "async/output/"
ASYNC_FAILURE_PREFIX: Final = "async/failure/"


def is_job_id(value: object) -> bool:
    """Job ids are lowercase UUIDs (submit makes them): only such a value ever becomes part of an S3 key."""
    try:
        return isinstance(value, str) and str(uuid.UUID(value)) == value
    except ValueError:
        return False


def request_key(job_id: str) -> str:
    """Key of the accepted request document of a job."""
    return f"{REQUESTS_PREFIX}{job_id}.json"


def result_key(job_id: str) -> str:
    """Key of the result document of a job; its presence means the job is finished."""
    return f"{RESULTS_PREFIX}{job_id}.json"


def async_input_key(job_id: str) -> str:
    """Key of the model request a job hands to an asynchronous endpoint (its InputLocation)."""
    return f"{ASYNC_INPUT_PREFIX}{job_id}.json"


def required_env(name: str) -> str:
    """The value of a contract variable; a missing one is a deployment bug, so say which."""
    value = os.environ.get(name, "")
    if not value:
        raise RuntimeError(f"environment variable {name} is not set on this function")
    return value


def max_payload_bytes() -> int:
    """The configured body limit, falling back to DEFAULT_MAX_PAYLOAD_BYTES when unset or invalid."""
    raw = os.environ.get(MAX_PAYLOAD_BYTES, "")
    return int(raw) if raw.isdigit() and int(raw) > 0 else DEFAULT_MAX_PAYLOAD_BYTES


def model_timeout_seconds() -> float:
    """The configured model-call timeout, falling back to DEFAULT_MODEL_TIMEOUT_SECONDS when unset or invalid."""
    raw = os.environ.get(MODEL_TIMEOUT_SECONDS, "")
    try:
        value = float(raw)
    except ValueError:
        return float(DEFAULT_MODEL_TIMEOUT_SECONDS)
    return value if math.isfinite(value) and value > 0 else float(DEFAULT_MODEL_TIMEOUT_SECONDS)


# --- log lines: metric filters and Logs Insights queries match on these field names -----------


class JsonLineFormatter(logging.Formatter):
    """One JSON object per line: `level`, `logger`, `message`, plus the record's `fields`."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, tz=UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        line.update(getattr(record, "fields", {}))
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


class _CurrentStdoutHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever `sys.stdout` is at emit time, so redirected output (tests) is honoured."""

    @property  # type: ignore[override]
    def stream(self) -> Any:
        return sys.stdout

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass


def json_logger(name: str) -> logging.Logger:
    """A logger that writes JSON lines to stdout at LOG_LEVEL, without duplicating into the root logger.

    Log with `logger.info("job completed", extra={"fields": {"job_id": job_id}})`.
    """
    logger = logging.getLogger(name)
    if not logger.handlers:
        handler = _CurrentStdoutHandler()
        handler.setFormatter(JsonLineFormatter())
        logger.addHandler(handler)
        # The Lambda runtime puts a plain-text handler on the root logger; don't print twice.
        logger.propagate = False
    level = os.environ.get(LOG_LEVEL, "INFO").upper()
    logger.setLevel(level if level in logging.getLevelNamesMapping() else logging.INFO)
    return logger
