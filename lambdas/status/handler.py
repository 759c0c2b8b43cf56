"""GET /v1/jobs/{id}: where a job stands, read straight from the results bucket.

200 with the result document when the job is finished (succeeded or failed), 202 while only the
request exists, 404 for an id never accepted, 400 for an id that is not a UUID (checked first, so
arbitrary strings never become S3 keys).
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from botocore.exceptions import ClientError

from lambdas.aws_clients import key_exists, missing_key, s3
from lambdas.contract import (
    RESULTS_BUCKET,
    STATUS_PENDING,
    json_logger,
    request_key,
    required_env,
    result_key,
)
from lambdas.http import HttpError, error_response, json_response

log = json_logger(__name__)


def job_id_from(event: dict[str, Any]) -> str:
    raw = (event.get("pathParameters") or {}).get("id")
    try:
        if not isinstance(raw, str) or str(uuid.UUID(raw)) != raw.lower():
            raise ValueError
    except ValueError as error:
        raise HttpError(
            400, "job id must be a UUID like 3f1c0b7e-5d2a-4e8b-9c1f-2a7d6e4b8c90", "id"
        ) from error
    return raw.lower()


def read_json(bucket: str, key: str) -> dict[str, Any] | None:
    try:
        return json.loads(s3().get_object(Bucket=bucket, Key=key)["Body"].read())
    except ClientError as error:
        if missing_key(error):
            return None
        raise


def exists(bucket: str, key: str) -> bool:
    return key_exists(s3(), bucket, key)


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    try:
        job_id = job_id_from(event)
    except HttpError as problem:
        return error_response(problem)
    bucket = required_env(RESULTS_BUCKET)
    result = read_json(bucket, result_key(job_id))
    if result is not None:
        return json_response(200, result)
    if exists(bucket, request_key(job_id)):
        return json_response(
            202, {"job_id": job_id, "status": STATUS_PENDING}, {"retry-after": "1"}
        )
    log.info("unknown job", extra={"fields": {"job_id": job_id}})
    return error_response(HttpError(404, f"no job {job_id}", "id"))
