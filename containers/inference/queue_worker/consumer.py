"""The queue worker: long-poll one work queue and run each message through the shared job library.

Each message is one job, processed by `lambdas.jobs.process_job`, the same code as the worker Lambda function's.
Around it, what a container consumer owes the queue and the service:

- receive: long polls of LONG_POLL_SECONDS (20, SQS's maximum), up to QUEUE_BATCH_SIZE messages, never more than
  free job slots; each message starts hidden for LEASE_SECONDS;
- heartbeat: while a job runs, its message's visibility is extended every HEARTBEAT_SECONDS, so a slow job is
  never delivered twice, and a task that dies lets its messages reappear one lease later (not after the queue's
  own visibility timeout);
- per-job deadline: model timeout + the job's own overhead (lambdas/jobs.py `job_seconds`); the model call is cut
  to it, so a job always ends;
- acknowledge: the message is deleted only after `process_job` returned, i.e. after the result is stored and
  announced (or the job was handed to an asynchronous endpoint);
- failures: never deleted, left to the redrive policy (the dead-letter queue after maxReceiveCount receives). A
  poison message (`jobs.verdict` says it can never succeed) is made visible again at once, so it reaches the
  dead-letter queue in seconds; a retryable failure waits an exponential backoff (RETRY_BASE_SECONDS doubled per
  receive, at most RETRY_MAX_SECONDS) before its next attempt;
- SIGTERM (a deploy, a scale-in, a Fargate Spot interruption's two-minute warning) and SIGINT: stop receiving,
  let the jobs in hand finish (each bounded by its deadline, which synth keeps under the task's stop timeout),
  make every message received but not started visible again at once, clear task protection, exit 0;
- task scale-in protection (task_protection.py) while it holds messages, cleared when a receive finds the queue
  empty and no job is in hand, so scale-in only ever stops idle tasks;
- JSON log lines (lambdas.json_logs.json_logger), and a heartbeat file for the health check (health.py).

Environment: QUEUE_URL, QUEUE_BATCH_SIZE and the job variables of lambdas/contract.py (RESULTS_BUCKET,
RESULTS_TOPIC_ARN, MODEL_BACKEND, ENDPOINT_NAME or MODEL_URL, MODEL_TIMEOUT_SECONDS, MAX_PAYLOAD_BYTES, LOG_LEVEL),
all set by the compute stack on the task definition; ECS_AGENT_URI by ECS itself.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from lambdas import jobs, model_client
from lambdas.contract import LONG_POLL_SECONDS, QUEUE_BATCH_SIZE, QUEUE_URL, required_env
from lambdas.deadline import Deadline
from lambdas.json_logs import json_logger

from .health import beat, health_file
from .task_protection import AGENT_URI, TaskProtection

log = json_logger("queue_worker")

SQS_MAX_BATCH = 10  # ReceiveMessage's MaxNumberOfMessages maximum
# How long a received message stays hidden without a heartbeat: long enough for the heartbeat to renew it twice
# over, short enough that a dead task's jobs come back within a minute.
LEASE_SECONDS = 60
HEARTBEAT_SECONDS = 20
RETRY_BASE_SECONDS = 10
RETRY_MAX_SECONDS = 300
PROTECTION_MINUTES = 10  # renewed at half time while busy; lapses by itself if the task dies protected
# The loop turns at least once per long poll; a promise this far ahead leaves room for a slow receive.
HEALTH_MARGIN_SECONDS = 40


@dataclass(frozen=True)
class Settings:
    """How the consumer polls and retries; `from_env` reads the task definition's environment."""

    queue_url: str
    batch_size: int = 5
    wait_seconds: int = LONG_POLL_SECONDS
    lease_seconds: int = LEASE_SECONDS
    heartbeat_seconds: float = HEARTBEAT_SECONDS
    retry_base_seconds: int = RETRY_BASE_SECONDS
    retry_max_seconds: int = RETRY_MAX_SECONDS
    protection_minutes: int = PROTECTION_MINUTES
    health_file: Path = field(default_factory=health_file)

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> Settings:
        raw = env.get(QUEUE_BATCH_SIZE, "").strip() or "5"
        if not raw.isdigit() or not 1 <= int(raw) <= SQS_MAX_BATCH:
            raise ValueError(f"{QUEUE_BATCH_SIZE} must be 1-{SQS_MAX_BATCH}, got {raw!r}")
        return cls(queue_url=required_env(QUEUE_URL), batch_size=int(raw))

    def retry_delay(self, receive_count: int) -> int:
        """Seconds before a failed job's next attempt: exponential in its receives, capped."""
        return min(self.retry_max_seconds, self.retry_base_seconds * 2 ** max(0, receive_count - 1))


@cache
def sqs(read_timeout_seconds: int) -> Any:
    """The queue's client: its read timeout must outlast a long poll; a few quick retries for the queue's own calls
    (the job's S3, SNS and model calls make one attempt each, lambdas/aws_clients.py)."""
    return boto3.client(
        "sqs",
        config=Config(
            connect_timeout=2, read_timeout=read_timeout_seconds, retries={"mode": "standard", "total_max_attempts": 3}
        ),
    )


@dataclass
class Held:
    """A received message while its job runs."""

    message_id: str
    receipt: str
    receive_count: int


class Consumer:
    """One consumer process: `run()` until SIGTERM/SIGINT or `stop()`; returns the exit code."""

    def __init__(self, settings: Settings, protection: TaskProtection | None = None) -> None:
        self.settings = settings
        self.protection = protection or TaskProtection(os.environ.get(AGENT_URI), settings.protection_minutes, log)
        self.stopping = threading.Event()
        self._drained = threading.Event()  # every job in hand has ended: the heartbeat may stop
        self._held: dict[str, Held] = {}
        self._lock = threading.Lock()
        self.client = sqs(settings.wait_seconds + 10)

    # --- lifecycle ------------------------------------------------------------------------------------------

    def stop(self, signum: int | None = None, _frame: Any = None) -> None:
        """Stop receiving; the jobs in hand finish. The SIGTERM/SIGINT handler."""
        if not self.stopping.is_set():
            log.info(
                "stopping: no new receives, finishing the jobs in hand",
                extra={
                    "fields": {
                        "signal": signal.Signals(signum).name if signum else None,
                        "jobs_in_hand": len(self._held),
                    }
                },
            )
        self.stopping.set()

    def run(self) -> int:
        previous = (
            {sig: signal.signal(sig, self.stop) for sig in (signal.SIGTERM, signal.SIGINT)}
            if threading.current_thread() is threading.main_thread()
            else {}
        )
        heartbeat = threading.Thread(target=self._heartbeat, name="heartbeat", daemon=True)
        heartbeat.start()
        log.info(
            "consuming",
            extra={"fields": {"queue_url": self.settings.queue_url, "batch_size": self.settings.batch_size}},
        )
        try:
            with ThreadPoolExecutor(self.settings.batch_size, thread_name_prefix="job") as pool:
                self._loop(pool)
            # Leaving the with-block waited for every job in hand.
        finally:
            self.stopping.set()
            self._drained.set()
            heartbeat.join(timeout=self.settings.heartbeat_seconds + 5)
            self.protection.release()
            self.settings.health_file.unlink(missing_ok=True)
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        log.info("stopped", extra={"fields": {"queue_url": self.settings.queue_url}})
        return 0

    def _loop(self, pool: ThreadPoolExecutor) -> None:
        running: set[Future[None]] = set()
        while not self.stopping.is_set():
            beat(self.settings.health_file, self.settings.wait_seconds + HEALTH_MARGIN_SECONDS)
            running = {future for future in running if not future.done()}  # a finished job frees its slot
            free = self.settings.batch_size - len(running)
            if free <= 0:
                wait(running, timeout=1.0, return_when=FIRST_COMPLETED)
                continue
            messages = self._receive(min(free, SQS_MAX_BATCH))
            if self.stopping.is_set():
                self._release(messages, "received while stopping")
                break
            if not messages:
                # An empty queue and no job in hand (jobs may have ended during the long poll): the task is idle,
                # so scale-in may stop it now, not only once its protection expires.
                if all(future.done() for future in running):
                    self.protection.release()
                continue
            self.protection.protect()
            for message in messages:
                held = Held(
                    message["MessageId"],
                    message["ReceiptHandle"],
                    int(message.get("Attributes", {}).get("ApproximateReceiveCount", "1")),
                )
                with self._lock:
                    self._held[held.message_id] = held
                running.add(pool.submit(self._work, held, message.get("Body", "")))

    # --- one job ----------------------------------------------------------------------------------------------

    def _receive(self, count: int) -> list[dict[str, Any]]:
        try:
            return self.client.receive_message(
                QueueUrl=self.settings.queue_url,
                MaxNumberOfMessages=count,
                WaitTimeSeconds=self.settings.wait_seconds,
                VisibilityTimeout=self.settings.lease_seconds,
                AttributeNames=["ApproximateReceiveCount"],
            ).get("Messages", [])
        except Exception:
            log.exception("receive failed; retrying after a pause")
            self.stopping.wait(min(5.0, self.settings.wait_seconds))
            return []

    def _work(self, held: Held, body: str) -> None:
        fields: dict[str, Any] = {"message_id": held.message_id, "receive_count": held.receive_count}
        began = time.monotonic()
        try:
            job = jobs.parse_job(body)
            fields["job_id"] = job["job_id"]
            fields["outcome"] = jobs.process_job(job, Deadline.after(jobs.job_seconds()))
        except Exception as error:
            poison = jobs.verdict(error) == jobs.POISON
            delay = 0 if poison else self.settings.retry_delay(held.receive_count)
            fields.update(error=f"{type(error).__name__}: {error}", verdict=jobs.verdict(error), retry_in_seconds=delay)
            self._forget(held)
            if isinstance(error, jobs.MalformedJob | model_client.ModelUnavailable):  # the reason says it all
                log.error("job failed", extra={"fields": fields})
            else:
                log.exception("job failed", extra={"fields": fields})
            self._change_visibility(held, delay)
            return
        self._forget(held)
        try:
            self.client.delete_message(QueueUrl=self.settings.queue_url, ReceiptHandle=held.receipt)
        except Exception as error:  # the job is done; a redelivery finds the result and is acknowledged then
            fields["delete_error"] = str(error)
        fields["seconds"] = round(time.monotonic() - began, 3)
        log.info("job processed", extra={"fields": fields})

    def _forget(self, held: Held) -> None:
        """Stop the heartbeat from renewing this message (under the lock, so no renewal follows a release)."""
        with self._lock:
            self._held.pop(held.message_id, None)

    def _change_visibility(self, held: Held, seconds: int) -> None:
        try:
            self.client.change_message_visibility(
                QueueUrl=self.settings.queue_url, ReceiptHandle=held.receipt, VisibilityTimeout=seconds
            )
        except Exception as error:  # the lease runs out by itself; the message comes back then
            log.warning(
                "visibility not changed", extra={"fields": {"message_id": held.message_id, "error": str(error)}}
            )

    def _release(self, messages: list[dict[str, Any]], reason: str) -> None:
        """Make messages this consumer will not work on visible again at once, for another consumer."""
        for message in messages:
            self._change_visibility(Held(message["MessageId"], message["ReceiptHandle"], 0), 0)
        if messages:
            log.info("messages released", extra={"fields": {"count": len(messages), "reason": reason}})

    # --- heartbeat ------------------------------------------------------------------------------------------

    def _heartbeat(self) -> None:
        """Renew the lease of every message in hand, and the task protection while any is (also while a stop
        drains the jobs in hand)."""
        while not self._drained.wait(self.settings.heartbeat_seconds):
            with self._lock:
                for held in list(self._held.values()):
                    self._change_visibility(held, self.settings.lease_seconds)
                # Under the lock: a job that ends meanwhile waits to be forgotten, so an idle loop's release can
                # never be followed by a renewal for a job already done.
                if self._held:
                    self.protection.protect()


def main() -> int:
    return Consumer(Settings.from_env()).run()
