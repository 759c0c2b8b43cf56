"""POST /v1/jobs: accept an inference job, store it, and announce it on the requests topic.

The job is stored before it is announced, so a worker never sees a job whose status is unknown.
Inputs travel inside the SNS message when they fit; bigger ones stay in S3 and the message carries
only their key (SNS messages stop at 256 KiB, the API accepts up to MAX_PAYLOAD_BYTES).
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime
from typing import Any

from lambdas.aws_clients import s3, sns
from lambdas.contract import (
    ATTR_MODEL,
    ATTR_PRIORITY,
    PRIORITIES,
    PRIORITY_NORMAL,
    REQUESTS_TOPIC_ARN,
    RESULTS_BUCKET,
    STATUS_PENDING,
    max_payload_bytes,
    request_key,
    required_env,
)
from lambdas.http import HttpError, error_response, instances, json_object, json_response, request_body
from lambdas.json_logs import json_logger

MODEL_NAME = re.compile(r"[a-z0-9-]{1,64}")
ALLOWED_FIELDS = ("model", "inputs", "priority")
# SNS allows 256 KiB per message including attributes; keep a margin for the envelope.
INLINE_INPUTS_LIMIT = 200 * 1024

log = json_logger(__name__)


def validated_job(document: dict[str, Any]) -> dict[str, Any]:
    """The job fields of a submission, or an HttpError naming the first field at fault."""
    unknown = sorted(set(document) - set(ALLOWED_FIELDS))
    if unknown:
        raise HttpError(
            400,
            f"unknown field {unknown[0]!r}; allowed fields are {', '.join(ALLOWED_FIELDS)}",
            unknown[0],
        )
    model = document.get("model")
    if not isinstance(model, str) or not MODEL_NAME.fullmatch(model):
        raise HttpError(400, "model must be 1-64 characters of a-z, 0-9 and '-'", "model")
    inputs = document.get("inputs")
    if not isinstance(inputs, dict):
        raise HttpError(400, 'inputs must be an object like {"instances": [[...], ...]}', "inputs")
    instances(inputs, "inputs.instances")
    priority = document.get("priority", PRIORITY_NORMAL)
    if priority not in PRIORITIES:
        raise HttpError(400, f"priority must be one of {', '.join(PRIORITIES)}", "priority")
    return {"model": model, "inputs": inputs, "priority": priority}


def accept(job: dict[str, Any]) -> dict[str, Any]:
    """Store the request document, publish the job message, and return the job id."""
    job_id = str(uuid.uuid4())
    bucket, key = required_env(RESULTS_BUCKET), request_key(job_id)
    stored = {
        "job_id": job_id,
        "status": STATUS_PENDING,
        "submitted_at": datetime.now(UTC).isoformat(timespec="milliseconds"),
        **job,
    }
    s3().put_object(
        Bucket=bucket,
        Key=key,
        Body=json.dumps(stored).encode(),
        ContentType="application/json",
    )
    message = {"job_id": job_id, **job}
    if len(json.dumps(job["inputs"])) > INLINE_INPUTS_LIMIT:
        message = {
            "job_id": job_id,
            "model": job["model"],
            "priority": job["priority"],
            "request_key": key,
        }
    try:
        sns().publish(
            TopicArn=required_env(REQUESTS_TOPIC_ARN),
            Message=json.dumps(message),
            MessageAttributes={
                ATTR_MODEL: {"DataType": "String", "StringValue": job["model"]},
                ATTR_PRIORITY: {"DataType": "String", "StringValue": job["priority"]},
            },
        )
    except Exception:
        # No message means no worker: remove the request so its status is 404, not pending forever.
        _forget(bucket, key)
        raise
    return stored


def _forget(bucket: str, key: str) -> None:
    try:
        s3().delete_object(Bucket=bucket, Key=key)
    except Exception:
        log.exception("request document left behind", extra={"fields": {"key": key}})


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    try:
        job = validated_job(json_object(request_body(event, max_payload_bytes())))
    except HttpError as problem:
        log.info(
            "job rejected",
            extra={"fields": {"status": problem.status, "field": problem.field}},
        )
        return error_response(problem)
    try:
        stored = accept(job)
    except Exception:
        log.exception("job could not be accepted")
        return error_response(HttpError(503, "the job could not be accepted; retry later"))
    job_id = stored["job_id"]
    status_url = f"/v1/jobs/{job_id}"
    log.info(
        "job accepted",
        extra={
            "fields": {
                "job_id": job_id,
                "model": job["model"],
                "priority": job["priority"],
            }
        },
    )
    return json_response(
        202,
        {"job_id": job_id, "status": STATUS_PENDING, "status_url": status_url},
        {"location": status_url},
    )
