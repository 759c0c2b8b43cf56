"""GET /v1/batches/{id}: where a batch stands, from its manifest, its AWS Batch job and its done markers.

200 with the state (`queued`, `running`, `succeeded`, `failed`; `submitted` while the job is not known yet), the
parts done, failed and pending, the record counts and every finished part's output locations; 404 for an id never
submitted; 400 for an id that is not a UUID (checked first, so arbitrary strings never become S3 keys).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from lambdas.aws_clients import batch, read_json, s3
from lambdas.contract import RESULTS_BUCKET, batch_request_key, required_env
from lambdas.http import HttpError, error_response, json_response, uuid_path_parameter
from lambdas.json_logs import json_logger

# AWS Batch job status -> the batch's state.
STATES = {
    "SUBMITTED": "queued",
    "PENDING": "queued",
    "RUNNABLE": "queued",
    "STARTING": "queued",
    "RUNNING": "running",
    "SUCCEEDED": "succeeded",
    "FAILED": "failed",
}
STATE_SUBMITTED = "submitted"
DONE_SUFFIX = ".done.json"
# Done markers are small objects read in parallel: a status of a batch of thousands of parts stays within seconds.
MARKER_READERS = 16

log = json_logger(__name__)


def done_markers(bucket: str, prefix: str) -> list[dict[str, Any]]:
    keys = [
        item["Key"]
        for page in s3().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        for item in page.get("Contents", [])
        if item["Key"].endswith(DONE_SUFFIX)
    ]
    if not keys:
        return []
    with ThreadPoolExecutor(max_workers=min(MARKER_READERS, len(keys))) as pool:
        markers = list(pool.map(lambda key: read_json(bucket, key), keys))
    return sorted((marker for marker in markers if marker is not None), key=lambda marker: marker["part"])


def job_status(job_id: str | None) -> dict[str, Any] | None:
    """The AWS Batch job as DescribeJobs reports it, or None when it is unknown (not recorded, or expired)."""
    if not job_id:
        return None
    jobs = batch().describe_jobs(jobs=[job_id]).get("jobs", [])
    if not jobs:
        return None
    job = jobs[0]
    report = {"id": job_id, "status": job.get("status")}
    if job.get("statusReason"):
        report["reason"] = job["statusReason"]
    summary = (job.get("arrayProperties") or {}).get("statusSummary")
    if summary:
        report["children"] = {status: count for status, count in sorted(summary.items()) if count}
    return report


def report(manifest: dict[str, Any], markers: list[dict[str, Any]], job: dict[str, Any] | None) -> dict[str, Any]:
    bucket, total = manifest["bucket"], len(manifest["parts"])
    done = len(markers)
    if job is not None:
        state = STATES.get(str(job.get("status")), STATE_SUBMITTED)
    else:
        state = "succeeded" if done == total else STATE_SUBMITTED
    # Once the job has failed, the parts without a marker will not be scored any more.
    failed_parts = total - done if state == "failed" else 0
    succeeded = sum(int(marker.get("succeeded", 0)) for marker in markers)
    failed = sum(int(marker.get("failed", 0)) for marker in markers)
    outputs = [
        {
            "part": marker["part"],
            "predictions": f"s3://{bucket}/{marker['output']}",
            "errors": f"s3://{bucket}/{marker['errors']}" if marker.get("errors") else None,
            "records": marker.get("records"),
            "failed": marker.get("failed"),
        }
        for marker in markers
    ]
    return {
        "batch_id": manifest["batch_id"],
        "state": state,
        "input": manifest.get("input"),
        "submitted_at": manifest.get("submitted_at"),
        "array_size": manifest.get("array_size"),
        "job": job,
        "parts": {"total": total, "done": done, "failed": failed_parts, "pending": total - done - failed_parts},
        "records": {"total": succeeded + failed, "succeeded": succeeded, "failed": failed},
        "outputs": {"prefix": f"s3://{bucket}/{manifest['output_prefix']}", "parts": outputs},
    }


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    try:
        batch_id = uuid_path_parameter(event, "batch")
    except HttpError as problem:
        return error_response(problem)
    bucket = required_env(RESULTS_BUCKET)
    manifest = read_json(bucket, batch_request_key(batch_id))
    if manifest is None:
        log.info("unknown batch", extra={"fields": {"batch_id": batch_id}})
        return error_response(HttpError(404, f"no batch {batch_id}", "id"))
    body = report(manifest, done_markers(bucket, manifest["output_prefix"]), job_status(manifest.get("job_id")))
    return json_response(200, body)
