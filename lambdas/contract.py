"""The contract between the infrastructure (modules/) and the Lambda code (lambdas/).

Both sides import these names, so a renamed variable or key layout breaks at import time
or in a test, never silently in production. Pure stdlib: this file ships in every zip.
"""

from __future__ import annotations

import math
import os
import uuid
from typing import Final

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

# --- batch inference (the batch stack sets these on its functions and on the batch job) -----------------

# ARN of the AWS Batch job queue that batch_submit submits to.
BATCH_JOB_QUEUE: Final = "BATCH_JOB_QUEUE"
# ARN (with revision) of the job definition that runs the inference image in its batch mode.
BATCH_JOB_DEFINITION: Final = "BATCH_JOB_DEFINITION"
# Most child jobs one batch fans out to (batch.max_array_size).
BATCH_MAX_ARRAY_SIZE: Final = "BATCH_MAX_ARRAY_SIZE"
# Largest total input of one batch in bytes (batch.max_input_bytes).
BATCH_MAX_INPUT_BYTES: Final = "BATCH_MAX_INPUT_BYTES"
# Most parts one batch may have (batch.max_parts).
BATCH_MAX_PARTS: Final = "BATCH_MAX_PARTS"
# Target size of one part in bytes: inputs are split at line boundaries near it (batch.part_bytes).
BATCH_PART_BYTES: Final = "BATCH_PART_BYTES"
# Seconds an upload URL of POST /v1/batches stays valid (batch.upload_url_seconds).
BATCH_UPLOAD_URL_SECONDS: Final = "BATCH_UPLOAD_URL_SECONDS"
# Most upload URLs one POST /v1/batches may ask for (batch.max_upload_parts).
BATCH_MAX_UPLOAD_PARTS: Final = "BATCH_MAX_UPLOAD_PARTS"
# Records per model call in the batch job (batch.records_per_call).
BATCH_RECORDS_PER_CALL: Final = "BATCH_RECORDS_PER_CALL"
# Longest input line the batch job reads as a record; longer ones go to the errors part (batch.max_record_bytes).
BATCH_MAX_RECORD_BYTES: Final = "BATCH_MAX_RECORD_BYTES"

# --- values of those variables --------------------------------------------------------------

BACKEND_SAGEMAKER: Final = "sagemaker"
# An asynchronous SageMaker endpoint: the job is handed off (input to S3, InvokeEndpointAsync) and its result arrives
# later as the endpoint's notification, which the async_results function turns into the result document.
BACKEND_SAGEMAKER_ASYNC: Final = "sagemaker-async"
BACKEND_HTTP: Final = "http"
MODEL_BACKENDS: Final = (BACKEND_SAGEMAKER, BACKEND_SAGEMAKER_ASYNC, BACKEND_HTTP)

# --- commands of the inference image (containers/inference/serve.py) ------------------------------------------

# The SageMaker container contract, which the model server keeps on every host (SageMaker, Fargate, EKS): the port
# it listens on, its health check and its inference path. Load balancers, probes and the model client use these.
MODEL_SERVER_PORT: Final = 8080
HEALTH_CHECK_PATH: Final = "/ping"
INVOCATIONS_PATH: Final = "/invocations"

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


# Batch inference: inputs are read only under BATCH_INPUTS_PREFIX (upload URLs point there too); a batch's
# manifest is requests/batches/<id>.json, its outputs results/batches/<id>/ (both expire with their prefix).
BATCH_INPUTS_PREFIX: Final = "batch-inputs/"
BATCH_REQUESTS_PREFIX: Final = f"{REQUESTS_PREFIX}batches/"
BATCH_RESULTS_PREFIX: Final = f"{RESULTS_PREFIX}batches/"
# The manifest layout batch_submit writes and the image's batch mode reads (containers/inference/batch/job.py).
BATCH_MANIFEST_VERSION: Final = 1
# Where `make transform` (SageMaker Batch Transform over the same model) writes its outputs.
TRANSFORM_RESULTS_PREFIX: Final = f"{RESULTS_PREFIX}transforms/"


def batch_request_key(batch_id: str) -> str:
    """Key of a batch's manifest: its parts, options and (once submitted) the AWS Batch job id."""
    return f"{BATCH_REQUESTS_PREFIX}{batch_id}.json"


def batch_results_prefix(batch_id: str) -> str:
    """Prefix of a batch's outputs: part-NNNNN.jsonl, part-NNNNN.errors.jsonl and part-NNNNN.done.json."""
    return f"{BATCH_RESULTS_PREFIX}{batch_id}/"


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
