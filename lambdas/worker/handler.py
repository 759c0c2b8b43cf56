"""SQS consumer: run each job through the model, store the result once, announce it on the results topic.

Messages arrive from the requests topic by raw delivery, so a record's body is the job itself:
`{"job_id", "model", "priority", "inputs"}` (or `"request_key"` instead of `"inputs"` for large jobs).
Delivery is at least once, so the result object doubles as the idempotency record: a job whose
result exists is acknowledged without calling the model or notifying again.

Outcomes per record:
- succeeded, or the model rejected the input (4xx) -> result stored with status "failed"; acknowledged.
  Retrying input the model refuses can never help, and a stored failure ends "pending" for the client.
- malformed message, model unavailable, AWS errors -> reported in batchItemFailures, so SQS retries
  it and, after maxReceiveCount receives, moves it to the dead-letter queue.
- not started because the invocation has too little time left for one more job -> reported in
  batchItemFailures too, so SQS redelivers it to a fresh invocation instead of the function timing out
  (a timed-out invocation returns the whole batch, finished jobs included).

Time: a job is started only with MODEL_TIMEOUT_SECONDS + JOB_OVERHEAD_SECONDS left, so its model call always
gets its full budget; synth refuses a batch size whose jobs cannot all fit the function's timeout. The AWS
calls make one attempt each: redelivery is the retry.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from lambdas import model_client
from lambdas.aws_clients import missing_key
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
    json_logger,
    model_timeout_seconds,
    request_key,
    required_env,
    result_key,
)
from lambdas.deadline import NO_DEADLINE, Deadline

log = json_logger(__name__)

WRITTEN, ALREADY_DONE = "written", "already_done"


class MalformedJob(Exception):
    """The message can never be processed; it should end in the dead-letter queue for inspection."""



def parse_job(body: str) -> dict[str, Any]:
    try:
        job = json.loads(body)
    except ValueError as error:
        raise MalformedJob(f"body is not JSON: {error}") from error
    if not isinstance(job, dict):
        raise MalformedJob("body is not a JSON object")
    job_id = job.get("job_id")
    try:
        if not isinstance(job_id, str) or str(uuid.UUID(job_id)) != job_id:
            raise ValueError
    except ValueError as error:
        raise MalformedJob(f"job_id {job_id!r} is not a lowercase UUID") from error
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
    stored = json.loads(
        s3().get_object(Bucket=bucket, Key=job["request_key"])["Body"].read()
    )
    return stored["inputs"]


def result_exists(bucket: str, key: str) -> bool:
    """Whether the job is done; a 403 (no s3:ListBucket, see aws_clients.MISSING_KEY_CODES) raises."""
    try:
        s3().head_object(Bucket=bucket, Key=key)
    except ClientError as error:
        if missing_key(error):
            return False
        raise
    return True


def store_result_once(bucket: str, key: str, document: dict[str, Any]) -> str:
    """Create the result object only if absent, so two concurrent deliveries cannot both 'win'."""
    try:
        s3().put_object(
            Bucket=bucket,
            Key=key,
            Body=json.dumps(document).encode(),
            ContentType="application/json",
            IfNoneMatch="*",
        )
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in (
            "PreconditionFailed",
            "ConditionalRequestConflict",
        ):
            return ALREADY_DONE
        raise
    return WRITTEN


def run_model(
    job: dict[str, Any], inputs: dict[str, Any], deadline: Deadline = NO_DEADLINE
) -> dict[str, Any]:
    """The result document: predictions, or the model's reason for refusing the input."""
    base = {
        "job_id": job["job_id"],
        "model": job.get("model"),
        "priority": job.get("priority"),
    }
    try:
        output = model_client.invoke(inputs, deadline)
    except model_client.ModelInputRejected as rejection:
        document = {**base, "status": STATUS_FAILED, "error": str(rejection)}
    else:
        document = {**base, "status": STATUS_SUCCEEDED, "result": output}
    document["completed_at"] = datetime.now(UTC).isoformat(timespec="milliseconds")
    return document


def process_job(job: dict[str, Any], deadline: Deadline = NO_DEADLINE) -> str:
    """Run one job to completion at most once; return WRITTEN or ALREADY_DONE."""
    bucket, job_id = required_env(RESULTS_BUCKET), job["job_id"]
    key = result_key(job_id)
    if result_exists(bucket, key):
        return ALREADY_DONE
    # The model call leaves the job's own overhead (store, notify) inside the invocation.
    document = run_model(job, job_inputs(job, bucket), deadline.reserve(JOB_OVERHEAD_SECONDS))
    if store_result_once(bucket, key, document) == ALREADY_DONE:
        return ALREADY_DONE
    try:
        sns().publish(
            TopicArn=required_env(RESULTS_TOPIC_ARN),
            Message=json.dumps(
                {"job_id": job_id, "status": document["status"], "result_key": key}
            ),
            MessageAttributes={
                ATTR_MODEL: {
                    "DataType": "String",
                    "StringValue": str(job.get("model") or "unknown"),
                },
                ATTR_STATUS: {"DataType": "String", "StringValue": document["status"]},
            },
        )
    except Exception:
        # Without the notification the job is not done: drop the result so the retry redoes both.
        s3().delete_object(Bucket=bucket, Key=key)
        raise
    return WRITTEN


def handler(event: dict[str, Any], context: Any) -> dict[str, list[dict[str, str]]]:
    """Report only the failed records, so SQS deletes the rest (ReportBatchItemFailures)."""
    failures: list[dict[str, str]] = []
    deadline = Deadline.from_context(context)
    job_seconds = model_timeout_seconds() + JOB_OVERHEAD_SECONDS
    records = event.get("Records", [])
    for index, record in enumerate(records):
        if deadline.remaining() < job_seconds:
            _defer(records[index:], deadline, job_seconds, failures)
            break
        fields: dict[str, Any] = {"message_id": record.get("messageId", "")}
        try:
            job = parse_job(record.get("body", ""))
            fields["job_id"] = job["job_id"]
            fields["outcome"] = process_job(job, deadline)
        except (MalformedJob, model_client.ModelUnavailable) as expected:
            # Anticipated failures: the reason is enough, a traceback would only bury it.
            log.error(
                "record failed", extra={"fields": _failure(fields, record, expected)}
            )
            failures.append({"itemIdentifier": fields["message_id"]})
        except Exception as unexpected:
            log.exception(
                "record failed", extra={"fields": _failure(fields, record, unexpected)}
            )
            failures.append({"itemIdentifier": fields["message_id"]})
        else:
            log.info("record processed", extra={"fields": fields})
    return {"batchItemFailures": failures}


def _defer(
    records: list[dict[str, Any]],
    deadline: Deadline,
    job_seconds: float,
    failures: list[dict[str, str]],
) -> None:
    """Hand back the records this invocation has no time to start: SQS redelivers them, none is lost."""
    for record in records:
        message_id = record.get("messageId", "")
        failures.append({"itemIdentifier": message_id})
        log.warning(
            "record deferred: too little time left for another job",
            extra={
                "fields": {
                    "message_id": message_id,
                    "remaining_seconds": round(deadline.remaining(), 1),
                    "job_seconds": job_seconds,
                    "receive_count": _receive_count(record),
                }
            },
        )


def _failure(
    fields: dict[str, Any], record: dict[str, Any], error: Exception
) -> dict[str, Any]:
    return {
        **fields,
        "error": f"{type(error).__name__}: {error}",
        "receive_count": _receive_count(record),
    }


def _receive_count(record: dict[str, Any]) -> int:
    raw = record.get("attributes", {}).get("ApproximateReceiveCount", "0")
    return int(raw) if str(raw).isdigit() else 0
