"""Process one job: the one implementation behind both consumers of the work queues.

The worker function (lambdas/worker/handler.py, fed by SQS event source mappings) and the queue worker container
(containers/inference/queue_worker, `serve.py work`) both call `process_job` on each message body and `verdict` on
each failure; only how they receive, acknowledge and hand back messages differs. The async_results function uses
`complete` to store and announce what an asynchronous endpoint answered. Pure boto3 and stdlib, so this file ships
in every Lambda zip (lambdas/*.py) and in the inference image (lambdas/ is copied beside serve.py).

A message body is the job itself: `{"job_id", "model", "priority", "inputs"}` (or `"request_key"` instead of
`"inputs"` for jobs too large for a message). Delivery is at least once, so the result object doubles as the
idempotency record: a job whose result exists is acknowledged without calling the model or notifying again.

Outcomes of `process_job`:
- WRITTEN: the model answered, or refused the input (4xx, a final "failed" result); stored and announced.
- ALREADY_DONE: another delivery stored the result first; nothing was announced again.
- HANDED_OFF: an asynchronous endpoint took the job; its notification completes it later.
Anything raised is a failure of this delivery, judged by `verdict`: POISON (the message can never be processed)
or RETRY (the model or AWS failed; a later delivery may succeed). Neither is acknowledged: the queue's redrive
policy moves the message to its dead-letter queue after maxReceiveCount receives.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from lambdas import model_client
from lambdas.aws_clients import key_exists
from lambdas.aws_clients import queue_driven_s3 as s3
from lambdas.aws_clients import queue_driven_sns as sns
from lambdas.contract import (
    ATTR_MODEL,
    ATTR_STATUS,
    JOB_OVERHEAD_SECONDS,
    RESULTS_BUCKET,
    RESULTS_TOPIC_ARN,
    STATUS_FAILED,
    STATUS_SUCCEEDED,
    is_job_id,
    model_timeout_seconds,
    request_key,
    required_env,
    result_key,
)
from lambdas.deadline import NO_DEADLINE, Deadline

WRITTEN, ALREADY_DONE, HANDED_OFF = "written", "already_done", "handed_off"
POISON, RETRY = "poison", "retry"
# What S3 answers a conditional write whose condition (IfNoneMatch="*": the key is absent) does not hold.
_ALREADY_WRITTEN_CODES = ("PreconditionFailed", "ConditionalRequestConflict")


class MalformedJob(Exception):
    """The message can never be processed; it should end in the dead-letter queue for inspection."""


def verdict(error: BaseException) -> str:
    """POISON for a message no delivery can ever process, RETRY for everything else (model or AWS failures).

    Both leave the message to the redrive policy; a consumer that controls its own retries (the container) makes
    a poison message visible again at once, so it reaches the dead-letter queue without waiting out retry delays.
    """
    return POISON if isinstance(error, MalformedJob) else RETRY


def job_seconds() -> float:
    """The most one job may take: the model call's budget plus the job's own S3 and SNS calls."""
    return model_timeout_seconds() + JOB_OVERHEAD_SECONDS


def parse_job(body: str) -> dict[str, Any]:
    try:
        job = json.loads(body)
    except ValueError as error:
        raise MalformedJob(f"body is not JSON: {error}") from error
    if not isinstance(job, dict):
        raise MalformedJob("body is not a JSON object")
    job_id = job.get("job_id")
    if not is_job_id(job_id):
        raise MalformedJob(f"job_id {job_id!r} is not a lowercase UUID")
    if isinstance(job.get("inputs"), dict):
        return job
    # Only this job's own request document may be read, whatever the message says.
    if job.get("request_key") != request_key(job_id):
        raise MalformedJob("job has neither inputs nor its own request_key")
    return job


def job_inputs(job: dict[str, Any], bucket: str) -> dict[str, Any]:
    """Inline inputs, or those of the stored request for jobs too large for a message."""
    if isinstance(job.get("inputs"), dict):
        return job["inputs"]
    stored = json.loads(s3().get_object(Bucket=bucket, Key=job["request_key"])["Body"].read())
    return stored["inputs"]


def result_exists(bucket: str, key: str) -> bool:
    """Whether the job is done; a 403 (no s3:ListBucket, see aws_clients.MISSING_KEY_CODES) raises."""
    return key_exists(s3(), bucket, key)


def store_result_once(bucket: str, key: str, document: dict[str, Any]) -> str:
    """Create the result object only if absent, so two concurrent deliveries cannot both 'win'."""
    try:
        s3().put_object(Bucket=bucket, Key=key, Body=json.dumps(document).encode(), ContentType="application/json",
                        IfNoneMatch="*")
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in _ALREADY_WRITTEN_CODES:
            return ALREADY_DONE
        raise
    return WRITTEN


def result_document(job: dict[str, Any], status: str, **outcome: Any) -> dict[str, Any]:
    """The result contract: `{job_id, model, priority, status, result | error, completed_at}`."""
    return {"job_id": job["job_id"], "model": job.get("model"), "priority": job.get("priority"), "status": status,
            **outcome, "completed_at": datetime.now(UTC).isoformat(timespec="milliseconds")}


def run_model(job: dict[str, Any], inputs: dict[str, Any], deadline: Deadline = NO_DEADLINE) -> dict[str, Any]:
    """The result document: predictions, or the model's reason for refusing the input."""
    try:
        output = model_client.invoke(inputs, deadline)
    except model_client.ModelInputRejected as rejection:
        return result_document(job, STATUS_FAILED, error=str(rejection))
    return result_document(job, STATUS_SUCCEEDED, result=output)


def complete(document: dict[str, Any]) -> str:
    """Store DOCUMENT as the job's result once, then announce it on the results topic; WRITTEN or ALREADY_DONE.

    If the announcement fails the result is withdrawn, so the retry redoes both: a stored result is never left
    unannounced (subscribers key on job_id, so the rare duplicate a retry may cause is harmless).
    """
    bucket, job_id = required_env(RESULTS_BUCKET), document["job_id"]
    key = result_key(job_id)
    if store_result_once(bucket, key, document) == ALREADY_DONE:
        return ALREADY_DONE
    try:
        sns().publish(
            TopicArn=required_env(RESULTS_TOPIC_ARN),
            Message=json.dumps({"job_id": job_id, "status": document["status"], "result_key": key}),
            MessageAttributes={
                ATTR_MODEL: {"DataType": "String", "StringValue": str(document.get("model") or "unknown")},
                ATTR_STATUS: {"DataType": "String", "StringValue": document["status"]},
            },
        )
    except Exception:
        s3().delete_object(Bucket=bucket, Key=key)
        raise
    return WRITTEN


def process_job(job: dict[str, Any], deadline: Deadline = NO_DEADLINE) -> str:
    """Run one parsed job to completion at most once (or hand it to an asynchronous endpoint)."""
    bucket = required_env(RESULTS_BUCKET)
    if result_exists(bucket, result_key(job["job_id"])):
        return ALREADY_DONE
    inputs = job_inputs(job, bucket)
    # The model call leaves the job's own overhead (store, notify) inside the deadline.
    model_deadline = deadline.reserve(JOB_OVERHEAD_SECONDS)
    if model_client.answers_later():
        metadata = {"job-id": job["job_id"], "model": str(job.get("model") or ""),
                    "priority": str(job.get("priority") or "")}
        try:
            model_client.hand_off(inputs, job["job_id"], metadata, model_deadline)
        except model_client.ModelInputRejected as rejection:  # too large for the model: final, as below
            return complete(result_document(job, STATUS_FAILED, error=str(rejection)))
        return HANDED_OFF
    return complete(run_model(job, inputs, model_deadline))
