"""POST /v1/batches: plan a batch over JSON Lines in the pipeline's bucket and submit it to AWS Batch, or hand out
upload URLs for an input that is not there yet.

- `{"input": "s3://<bucket>/batch-inputs/<prefix/ or key>", "options": {"array_size": 8}}` -> 202 with a batch id.
  Every non-empty object under a prefix (or the one object) is cut into parts of about BATCH_PART_BYTES at byte
  offsets (the job keeps each line with the part its first byte lies in), the plan is stored as the batch's
  manifest, and one AWS Batch job is submitted: an array job of `array_size` children (at most one per part), or a
  plain job for a single child.
- `{"upload": {"parts": 3}}` -> 201 with an input location under batch-inputs/ and one presigned PUT URL per part;
  PUT the JSON Lines there, then POST `{"input": <that location>}`.

The manifest is stored before the job is submitted (a child never starts without it) and removed again when the
submission fails, so a batch id answered here always has a job; the job's id is added to the manifest afterwards.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from lambdas.aws_clients import batch, presigning_s3, s3
from lambdas.contract import (
    BATCH_INPUTS_PREFIX,
    BATCH_JOB_DEFINITION,
    BATCH_JOB_QUEUE,
    BATCH_MANIFEST_VERSION,
    BATCH_MAX_ARRAY_SIZE,
    BATCH_MAX_INPUT_BYTES,
    BATCH_MAX_PARTS,
    BATCH_MAX_UPLOAD_PARTS,
    BATCH_PART_BYTES,
    BATCH_UPLOAD_URL_SECONDS,
    RESULTS_BUCKET,
    batch_request_key,
    batch_results_prefix,
    required_env,
)
from lambdas.http import HttpError, error_response, json_object, json_response, request_body
from lambdas.json_logs import json_logger

# The request is a small JSON object; anything larger is not a batch request.
REQUEST_LIMIT_BYTES = 16 * 1024
ALLOWED_FIELDS = ("input", "options", "upload")
ALLOWED_OPTIONS = ("array_size",)
SAFE_KEY = re.compile(r"^[A-Za-z0-9!_.*'()/=+@,-]+$")  # S3's safe characters: no spaces, no control characters
# AWS Batch runs a single child as a plain job: an array job has at least two (modules/limits.py BATCH_ARRAY_SIZE).
MIN_ARRAY_SIZE = 2
STATE_SUBMITTED = "submitted"

log = json_logger(__name__)


@dataclass(frozen=True)
class InputObject:
    key: str
    size: int
    etag: str


def _int_env(name: str) -> int:
    return int(required_env(name))


# --- planning (pure) ---------------------------------------------------------------------------------------


def plan_parts(objects: list[InputObject], part_bytes: int) -> list[dict[str, Any]]:
    """Byte ranges of about PART_BYTES over OBJECTS (in key order), numbered from 0; empty objects have none."""
    parts = []
    for item in sorted(objects, key=lambda item: item.key):
        for start in range(0, item.size, part_bytes):
            parts.append(
                {
                    "index": len(parts),
                    "key": item.key,
                    "start": start,
                    "end": min(item.size, start + part_bytes),
                    "etag": item.etag,
                }
            )
    return parts


def manifest_document(
    batch_id: str, bucket: str, input_uri: str, parts: list[dict[str, Any]], array_size: int, options: dict[str, Any]
) -> dict[str, Any]:
    return {
        "version": BATCH_MANIFEST_VERSION,
        "batch_id": batch_id,
        "bucket": bucket,
        "input": input_uri,
        "output_prefix": batch_results_prefix(batch_id),
        "array_size": array_size,
        "parts": parts,
        "options": options,
        "submitted_at": datetime.now(UTC).isoformat(timespec="milliseconds"),
        "job_id": None,
    }


# --- validation --------------------------------------------------------------------------------------------


def validated_request(document: dict[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(document) - set(ALLOWED_FIELDS))
    if unknown:
        raise HttpError(
            400, f"unknown field {unknown[0]!r}; allowed fields are {', '.join(ALLOWED_FIELDS)}", unknown[0]
        )
    if ("input" in document) == ("upload" in document):
        raise HttpError(
            400, 'send either "input" (an s3:// location to score) or "upload" (to get upload URLs)', "input"
        )
    options = document.get("options", {})
    if not isinstance(options, dict):
        raise HttpError(400, 'options must be an object like {"array_size": 8}', "options")
    unknown = sorted(set(options) - set(ALLOWED_OPTIONS))
    if unknown:
        raise HttpError(
            400,
            f"unknown option {unknown[0]!r}; allowed options are {', '.join(ALLOWED_OPTIONS)}",
            f"options.{unknown[0]}",
        )
    maximum = _int_env(BATCH_MAX_ARRAY_SIZE)
    array_size = options.get("array_size", maximum)
    if type(array_size) is not int or array_size < 1:
        raise HttpError(
            400, "options.array_size must be a positive integer (the most tasks to fan out to)", "options.array_size"
        )
    if array_size > maximum:
        raise HttpError(
            400,
            f"options.array_size {array_size} exceeds the maximum of {maximum} tasks per batch",
            "options.array_size",
        )
    return {"input": document.get("input"), "upload": document.get("upload"), "options": {"array_size": array_size}}


def input_location(uri: Any, bucket: str) -> str:
    """The key or prefix of an input URI, which must lie under s3://<bucket>/batch-inputs/."""
    where = f"s3://{bucket}/{BATCH_INPUTS_PREFIX}"
    if not isinstance(uri, str) or not uri.startswith("s3://"):
        raise HttpError(400, f"input must be an s3:// URI under {where}", "input")
    parts = urlsplit(uri)
    key = parts.path.lstrip("/")
    if parts.netloc != bucket or not key.startswith(BATCH_INPUTS_PREFIX) or parts.query or parts.fragment:
        raise HttpError(
            400, f"input {uri!r} is outside the pipeline's batch inputs; use a key or prefix under {where}", "input"
        )
    if not SAFE_KEY.fullmatch(key) or any(segment in (".", "..") for segment in key.split("/")):
        raise HttpError(400, f"input {uri!r} has characters or path segments outside S3's safe set", "input")
    return key


def list_inputs(bucket: str, key: str, max_parts: int) -> list[InputObject]:
    """The objects of an input: all non-empty ones under a prefix (KEY ending in /), else the one named KEY.
    Listing, not HeadObject, answers both: the function needs s3:ListBucket on the inputs prefix and nothing else."""
    found = []
    for page in s3().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=key):
        for item in page.get("Contents", []):
            if item["Size"] == 0 or item["Key"].endswith("/") or (not key.endswith("/") and item["Key"] != key):
                continue
            found.append(InputObject(item["Key"], int(item["Size"]), str(item["ETag"])))
            if len(found) > max_parts:
                raise HttpError(
                    400, f"input has more than {max_parts} objects, the most parts a batch may have", "input"
                )
    return found


# --- the two requests --------------------------------------------------------------------------------------


def submit(request: dict[str, Any]) -> dict[str, Any]:
    bucket = required_env(RESULTS_BUCKET)
    key = input_location(request["input"], bucket)
    max_parts, part_bytes = _int_env(BATCH_MAX_PARTS), _int_env(BATCH_PART_BYTES)
    objects = list_inputs(bucket, key, max_parts)
    if not objects:
        raise HttpError(400, f"no non-empty object at {request['input']}", "input")
    total, limit = sum(item.size for item in objects), _int_env(BATCH_MAX_INPUT_BYTES)
    if total > limit:
        raise HttpError(413, f"input of {total} bytes exceeds the limit of {limit} bytes per batch", "input")
    parts = plan_parts(objects, part_bytes)
    if len(parts) > max_parts:
        raise HttpError(
            400,
            f"input needs {len(parts)} parts of {part_bytes} bytes, more than the {max_parts} a batch may have",
            "input",
        )
    array_size = min(request["options"]["array_size"], len(parts))
    batch_id = str(uuid.uuid4())
    manifest_key = batch_request_key(batch_id)
    manifest = manifest_document(batch_id, bucket, request["input"], parts, array_size, request["options"])
    _put_json(bucket, manifest_key, manifest)
    try:
        job = {
            "jobName": f"batch-{batch_id}",
            "jobQueue": required_env(BATCH_JOB_QUEUE),
            "jobDefinition": required_env(BATCH_JOB_DEFINITION),
            # batch_id reaches the job-state events (the completion message); manifest is the job's argument.
            "parameters": {"batch_id": batch_id, "manifest": f"s3://{bucket}/{manifest_key}"},
        }
        if array_size >= MIN_ARRAY_SIZE:
            job["arrayProperties"] = {"size": array_size}
        job_id = batch().submit_job(**job)["jobId"]
    except Exception:
        _forget(bucket, manifest_key)  # no job: the id must be unknown (404), never "submitted" forever
        raise
    try:
        _put_json(bucket, manifest_key, {**manifest, "job_id": job_id})
    except Exception:
        # The job runs from the first copy (same parts); only the state reported by GET falls back to the outputs.
        log.exception("job id not recorded", extra={"fields": {"batch_id": batch_id, "job_id": job_id}})
    return {
        "batch_id": batch_id,
        "state": STATE_SUBMITTED,
        "status_url": f"/v1/batches/{batch_id}",
        "parts": len(parts),
        "array_size": array_size,
        "input_bytes": total,
        "output": f"s3://{bucket}/{batch_results_prefix(batch_id)}",
    }


def upload_urls(upload: Any) -> dict[str, Any]:
    maximum = _int_env(BATCH_MAX_UPLOAD_PARTS)
    count = upload.get("parts", 1) if isinstance(upload, dict) else None
    if not isinstance(upload, dict) or set(upload) - {"parts"} or type(count) is not int or not 1 <= count <= maximum:
        raise HttpError(400, f'upload must be an object like {{"parts": 3}} with 1-{maximum} parts', "upload")
    bucket, seconds = required_env(RESULTS_BUCKET), _int_env(BATCH_UPLOAD_URL_SECONDS)
    prefix = f"{BATCH_INPUTS_PREFIX}{uuid.uuid4()}/"
    uploads = []
    for index in range(count):
        key = f"{prefix}part-{index:05d}.jsonl"
        url = presigning_s3().generate_presigned_url(
            "put_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=seconds, HttpMethod="PUT"
        )
        uploads.append({"part": key.rsplit("/", 1)[1], "method": "PUT", "url": url})
    location = f"s3://{bucket}/{prefix}"
    return {
        "input": location,
        "uploads": uploads,
        "expires_in": seconds,
        "next": {"method": "POST", "path": "/v1/batches", "body": {"input": location}},
    }


def _put_json(bucket: str, key: str, document: dict[str, Any]) -> None:
    s3().put_object(Bucket=bucket, Key=key, Body=json.dumps(document).encode(), ContentType="application/json")


def _forget(bucket: str, key: str) -> None:
    try:
        s3().delete_object(Bucket=bucket, Key=key)
    except Exception:
        log.exception("manifest left behind", extra={"fields": {"key": key}})


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    try:
        request = validated_request(json_object(request_body(event, REQUEST_LIMIT_BYTES)))
        if request["upload"] is not None:
            answer = upload_urls(request["upload"])
            log.info(
                "upload URLs issued", extra={"fields": {"input": answer["input"], "parts": len(answer["uploads"])}}
            )
            return json_response(201, answer)
        accepted = submit(request)
    except HttpError as problem:
        log.info(
            "batch rejected",
            extra={"fields": {"status": problem.status, "field": problem.field, "error": problem.message}},
        )
        return error_response(problem)
    except Exception:
        log.exception("batch could not be submitted")
        return error_response(HttpError(503, "the batch could not be submitted; retry later"))
    log.info("batch submitted", extra={"fields": {key: accepted[key] for key in ("batch_id", "parts", "array_size")}})
    return json_response(202, accepted, {"location": accepted["status_url"]})
