"""GET /v1/jobs/{id}: where a job stands, read straight from the results bucket.

200 with the result document when the job is finished (succeeded or failed), 202 while only the
request exists, 404 for an id never accepted, 400 for an id that is not a UUID (checked first, so
arbitrary strings never become S3 keys).
"""

from __future__ import annotations

from typing import Any

from lambdas.aws_clients import key_exists, read_json, s3
from lambdas.contract import RESULTS_BUCKET, STATUS_PENDING, request_key, required_env, result_key
from lambdas.http import HttpError, error_response, json_response, uuid_path_parameter
from lambdas.json_logs import json_logger

log = json_logger(__name__)


def exists(bucket: str, key: str) -> bool:
    return key_exists(s3(), bucket, key)


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    try:
        job_id = uuid_path_parameter(event, "job")
    except HttpError as problem:
        return error_response(problem)
    bucket = required_env(RESULTS_BUCKET)
    result = read_json(bucket, result_key(job_id))
    if result is not None:
        return json_response(200, result)
    if exists(bucket, request_key(job_id)):
        return json_response(202, {"job_id": job_id, "status": STATUS_PENDING}, {"retry-after": "1"})
    log.info("unknown job", extra={"fields": {"job_id": job_id}})
    return error_response(HttpError(404, f"no job {job_id}", "id"))
