"""SQS consumer: run each job of a batch through the shared job library (lambdas/jobs.py).

What a job is, how it is stored once and announced, and which failures are poison or retryable are the job
library's; this handler only maps them onto Lambda's partial batch response:
- processed, already done or handed off to an asynchronous endpoint -> acknowledged (SQS deletes it);
- any failure (malformed message, model unavailable, AWS errors) -> reported in batchItemFailures, so SQS
  retries it and, after maxReceiveCount receives, moves it to the dead-letter queue;
- not started because the invocation has too little time left for one more job -> reported in
  batchItemFailures too, so SQS redelivers it to a fresh invocation instead of the function timing out
  (a timed-out invocation returns the whole batch, finished jobs included).

Time: a job is started only with MODEL_TIMEOUT_SECONDS + JOB_OVERHEAD_SECONDS left, so its model call always
gets its full budget; synth refuses a batch size whose jobs cannot all fit the function's timeout. The AWS
calls make one attempt each: redelivery is the retry.
"""

from __future__ import annotations

from typing import Any

from lambdas import jobs, model_client
from lambdas.contract import json_logger
from lambdas.deadline import Deadline

log = json_logger(__name__)


def handler(event: dict[str, Any], context: Any) -> dict[str, list[dict[str, str]]]:
    """Report only the failed records, so SQS deletes the rest (ReportBatchItemFailures)."""
    failures: list[dict[str, str]] = []
    deadline = Deadline.from_context(context)
    job_seconds = jobs.job_seconds()
    records = event.get("Records", [])
    for index, record in enumerate(records):
        if deadline.remaining() < job_seconds:
            _defer(records[index:], deadline, job_seconds, failures)
            break
        fields: dict[str, Any] = {"message_id": record.get("messageId", "")}
        try:
            job = jobs.parse_job(record.get("body", ""))
            fields["job_id"] = job["job_id"]
            fields["outcome"] = jobs.process_job(job, deadline)
        except (jobs.MalformedJob, model_client.ModelUnavailable) as expected:
            # Anticipated failures: the reason is enough, a traceback would only bury it.
            log.error("record failed", extra={"fields": _failure(fields, record, expected)})
            failures.append({"itemIdentifier": fields["message_id"]})
        except Exception as unexpected:
            log.exception("record failed", extra={"fields": _failure(fields, record, unexpected)})
            failures.append({"itemIdentifier": fields["message_id"]})
        else:
            log.info("record processed", extra={"fields": fields})
    return {"batchItemFailures": failures}


def _defer(records: list[dict[str, Any]], deadline: Deadline, job_seconds: float,
           failures: list[dict[str, str]]) -> None:
    """Hand back the records this invocation has no time to start: SQS redelivers them, none is lost."""
    for record in records:
        message_id = record.get("messageId", "")
        failures.append({"itemIdentifier": message_id})
        log.warning("record deferred: too little time left for another job", extra={"fields": {
            "message_id": message_id, "remaining_seconds": round(deadline.remaining(), 1),
            "job_seconds": job_seconds, "receive_count": _receive_count(record)}})


def _failure(fields: dict[str, Any], record: dict[str, Any], error: Exception) -> dict[str, Any]:
    return {**fields, "error": f"{type(error).__name__}: {error}", "verdict": jobs.verdict(error),
            "receive_count": _receive_count(record)}


def _receive_count(record: dict[str, Any]) -> int:
    raw = record.get("attributes", {}).get("ApproximateReceiveCount", "0")
    return int(raw) if str(raw).isdigit() else 0
