"""SQS consumer of an asynchronous endpoint's notifications: turn each into the pipeline's results contract.

SageMaker publishes a notification in its own format when an asynchronous inference ends (to the dedicated
notifications topic of the messaging stack, raw-delivered to this function's queue):
`{"eventSource": "aws:sagemaker", "eventName": "InferenceResult", "invocationStatus": "Completed" | "Failed",
"inferenceId": <job id>, "requestParameters": {"inputLocation"}, "responseParameters": {"outputLocation"},
"failureReason"}` (https://docs.aws.amazon.com/sagemaker/latest/dg/async-inference-check-predictions.html).
This function stores the result document under results/<job id>.json and announces it on the results topic,
through the same `jobs.complete` as the synchronous consumers, so GET /v1/jobs/{id} and the results topic's
subscribers cannot tell which mode answered.

- Completed -> status "succeeded" with the model's answer, read from the output location;
- Failed -> status "failed" with SageMaker's failure reason (final, as a model's 4xx is: resubmit the job);
- a result that already exists (a duplicate notification, or a second invocation of a redelivered job) ->
  acknowledged without reading or announcing anything;
- a notification that is not one of ours (not a UUID, an input or output outside this pipeline's prefixes) ->
  reported in batchItemFailures until it reaches the dead-letter queue: never read an S3 key a message names
  unless it is the job's own;
- AWS errors -> reported in batchItemFailures and retried by SQS.
"""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from lambdas import jobs
from lambdas.aws_clients import missing_key
from lambdas.aws_clients import queue_driven_s3 as s3
from lambdas.contract import (
    ASYNC_OUTPUT_PREFIX,
    RESULTS_BUCKET,
    STATUS_FAILED,
    STATUS_SUCCEEDED,
    async_input_key,
    is_job_id,
    json_logger,
    required_env,
    result_key,
)

log = json_logger(__name__)

COMPLETED, FAILED = "Completed", "Failed"


class ForeignNotification(Exception):
    """The message is not a notification about one of this pipeline's jobs; it can never be processed."""


def parse_notification(body: str, bucket: str) -> dict[str, Any]:
    """The notification, checked to be SageMaker's about a job of this pipeline (ForeignNotification if not)."""
    try:
        notification = json.loads(body)
    except ValueError as error:
        raise ForeignNotification(f"body is not JSON: {error}") from error
    if not isinstance(notification, dict) or notification.get("eventSource") != "aws:sagemaker":
        raise ForeignNotification("not a SageMaker notification (eventSource is not aws:sagemaker)")
    job_id = notification.get("inferenceId")
    if not is_job_id(job_id):
        raise ForeignNotification(f"inferenceId {job_id!r} is not a job id (a lowercase UUID)")
    expected_input = f"s3://{bucket}/{async_input_key(job_id)}"
    if (notification.get("requestParameters") or {}).get("inputLocation") != expected_input:
        raise ForeignNotification(f"the input location is not {expected_input}")
    status = notification.get("invocationStatus")
    if status not in (COMPLETED, FAILED):
        raise ForeignNotification(f"invocationStatus {status!r} is neither {COMPLETED} nor {FAILED}")
    if status == COMPLETED:
        _output_key(notification, bucket)
    return notification


def _output_key(notification: dict[str, Any], bucket: str) -> str:
    location = str((notification.get("responseParameters") or {}).get("outputLocation") or "")
    prefix = f"s3://{bucket}/{ASYNC_OUTPUT_PREFIX}"
    if not location.startswith(prefix) or ".." in location:
        raise ForeignNotification(f"the output location {location!r} is not under {prefix}")
    return location.removeprefix(f"s3://{bucket}/")


def job_of(job_id: str, bucket: str) -> dict[str, Any]:
    """The job's model and priority, from the metadata the consumer stored with its input (empty once expired)."""
    try:
        metadata = s3().head_object(Bucket=bucket, Key=async_input_key(job_id)).get("Metadata", {})
    except ClientError as error:
        if not missing_key(error):
            raise
        metadata = {}
    return {"job_id": job_id, "model": metadata.get("model") or None, "priority": metadata.get("priority") or None}


def translate(notification: dict[str, Any], bucket: str) -> dict[str, Any]:
    """The result document the notification stands for."""
    job = job_of(notification["inferenceId"], bucket)
    if notification["invocationStatus"] == FAILED:
        return jobs.result_document(job, STATUS_FAILED, error=str(notification.get("failureReason") or "failed"))
    body = s3().get_object(Bucket=bucket, Key=_output_key(notification, bucket))["Body"].read()
    try:
        answer = json.loads(body)
    except ValueError:
        return jobs.result_document(job, STATUS_FAILED, error="the model's answer is not JSON")
    return jobs.result_document(job, STATUS_SUCCEEDED, result=answer)


def process_notification(body: str) -> str:
    bucket = required_env(RESULTS_BUCKET)
    notification = parse_notification(body, bucket)
    if jobs.result_exists(bucket, result_key(notification["inferenceId"])):
        return jobs.ALREADY_DONE
    return jobs.complete(translate(notification, bucket))


def handler(event: dict[str, Any], context: Any) -> dict[str, list[dict[str, str]]]:
    """Report only the failed records, so SQS deletes the rest (ReportBatchItemFailures)."""
    failures: list[dict[str, str]] = []
    for record in event.get("Records", []):
        fields: dict[str, Any] = {"message_id": record.get("messageId", "")}
        try:
            fields["outcome"] = process_notification(record.get("body", ""))
        except ForeignNotification as foreign:
            log.error("notification refused", extra={"fields": {**fields, "error": str(foreign)}})
            failures.append({"itemIdentifier": fields["message_id"]})
        except Exception as unexpected:
            log.exception("notification failed", extra={"fields": {**fields, "error": str(unexpected)}})
            failures.append({"itemIdentifier": fields["message_id"]})
        else:
            log.info("notification translated", extra={"fields": fields})
    return {"batchItemFailures": failures}
