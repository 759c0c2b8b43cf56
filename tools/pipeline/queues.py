"""The work queues seen from an operator's seat: how deep each is, what sits in its dead-letter queue, and moving
those messages back once the cause is fixed.

Read straight from SQS (the API has no routes for this): on AWS with the caller's credentials, which need
sqs:GetQueueAttributes, sqs:ReceiveMessage, sqs:ChangeMessageVisibility and, to redrive,
sqs:StartMessageMoveTask and sqs:ListMessageMoveTasks (plus kms:Decrypt on the messaging key: the queues are
encrypted with it).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from tools.pipeline.deployment import WorkQueue

DEPTH_ATTRIBUTES = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
                    "ApproximateNumberOfMessagesDelayed"]
# A peeked message stays hidden this long while the rest are read, then is made visible again at once.
PEEK_HOLD_SECONDS = 30
MOVE_TASK_TIMEOUT_SECONDS = 300


@dataclass(frozen=True)
class QueueDepth:
    """Messages waiting (visible), being worked on (in flight), delayed, and in the dead-letter queue."""

    queue: str
    visible: int
    in_flight: int
    delayed: int
    dead_letters: int
    dead_letters_in_flight: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class DeadLetter:
    """One message of a dead-letter queue, with what the job says about itself."""

    message_id: str
    job_id: str | None
    model: str | None
    priority: str | None
    receive_count: int
    sent_at: str
    body: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _counts(sqs: Any, url: str) -> list[int]:
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=DEPTH_ATTRIBUTES)["Attributes"]
    return [int(attributes.get(name, 0)) for name in DEPTH_ATTRIBUTES]


def depths(sqs: Any, queues: tuple[WorkQueue, ...]) -> list[QueueDepth]:
    rows = []
    for queue in queues:
        visible, in_flight, delayed = _counts(sqs, queue.url)
        dead, dead_in_flight, _ = _counts(sqs, queue.dead_letter_url)
        rows.append(QueueDepth(queue=queue.name, visible=visible, in_flight=in_flight, delayed=delayed,
                               dead_letters=dead, dead_letters_in_flight=dead_in_flight))
    return rows


def _dead_letter(message: dict[str, Any]) -> DeadLetter:
    try:
        job = json.loads(message["Body"])
    except ValueError:
        job = {}
    job = job if isinstance(job, dict) else {}
    attributes = message.get("Attributes", {})
    sent = int(attributes.get("SentTimestamp", "0") or 0) / 1000
    return DeadLetter(
        message_id=message["MessageId"], job_id=job.get("job_id"), model=job.get("model"),
        priority=job.get("priority"), receive_count=int(attributes.get("ApproximateReceiveCount", "0") or 0),
        sent_at=datetime.fromtimestamp(sent, tz=UTC).isoformat(timespec="seconds") if sent else "",
        body=message["Body"])


def peek(sqs: Any, url: str, limit: int = 10) -> list[DeadLetter]:
    """Up to LIMIT messages of the queue at URL, left in it: each batch is held while the next is read (so no
    message is read twice), then all are made visible again."""
    held: dict[str, dict[str, Any]] = {}
    try:
        while len(held) < limit:
            batch = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=min(10, limit - len(held)),
                                        VisibilityTimeout=PEEK_HOLD_SECONDS, WaitTimeSeconds=0,
                                        AttributeNames=["All"]).get("Messages", [])
            new = [message for message in batch if message["MessageId"] not in held]
            if not new:
                break
            held.update((message["MessageId"], message) for message in new)
    finally:
        _release(sqs, url, list(held.values()))
    return [_dead_letter(message) for message in held.values()]


def _release(sqs: Any, url: str, messages: list[dict[str, Any]]) -> None:
    for start in range(0, len(messages), 10):
        sqs.change_message_visibility_batch(QueueUrl=url, Entries=[
            {"Id": str(index), "ReceiptHandle": message["ReceiptHandle"], "VisibilityTimeout": 0}
            for index, message in enumerate(messages[start:start + 10])])


def queue_arn(sqs: Any, url: str) -> str:
    return sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


def redrive_with_move_task(sqs: Any, queue: WorkQueue, progress: Callable[[str], None],
                           timeout: float = MOVE_TASK_TIMEOUT_SECONDS, poll_seconds: float = 2.0) -> int:
    """SQS's own dead-letter redrive (StartMessageMoveTask), followed until it completes; the number moved."""
    source, destination = queue_arn(sqs, queue.dead_letter_url), queue_arn(sqs, queue.url)
    sqs.start_message_move_task(SourceArn=source, DestinationArn=destination)
    deadline = time.monotonic() + timeout
    while True:
        task = sqs.list_message_move_tasks(SourceArn=source, MaxResults=1)["Results"][0]
        moved = int(task.get("ApproximateNumberOfMessagesMoved", 0))
        if task["Status"] == "COMPLETED":
            return moved
        if task["Status"] in ("FAILED", "CANCELLED"):
            raise RuntimeError(f"the move task from {queue.name}'s dead-letter queue ended {task['Status']}: "
                               f"{task.get('FailureReason', 'no reason given')} ({moved} moved)")
        if time.monotonic() > deadline:
            raise RuntimeError(f"the move task from {queue.name}'s dead-letter queue is still running after "
                               f"{timeout:.0f} s ({moved} moved); `pipeline queues` shows its progress")
        progress(f"moving {queue.name}'s dead letters: {moved} of "
                 f"{task.get('ApproximateNumberOfMessagesToMove', '?')} so far")
        time.sleep(poll_seconds)


def redrive_by_copy(sqs: Any, queue: WorkQueue, progress: Callable[[str], None]) -> int:
    """Receive from the dead-letter queue, send each message (body and attributes) to the work queue, then delete
    it: for the emulator, which lacks StartMessageMoveTask. Each message is deleted only after it was sent."""
    fifo = queue.url.endswith(".fifo")
    moved = 0
    while True:
        batch = sqs.receive_message(QueueUrl=queue.dead_letter_url, MaxNumberOfMessages=10, WaitTimeSeconds=0,
                                    VisibilityTimeout=PEEK_HOLD_SECONDS, AttributeNames=["All"],
                                    MessageAttributeNames=["All"]).get("Messages", [])
        if not batch:
            return moved
        entries = []
        for index, message in enumerate(batch):
            entry: dict[str, Any] = {"Id": str(index), "MessageBody": message["Body"]}
            if message.get("MessageAttributes"):
                entry["MessageAttributes"] = message["MessageAttributes"]
            if fifo:
                entry["MessageGroupId"] = message.get("Attributes", {}).get("MessageGroupId", "redrive")
                entry["MessageDeduplicationId"] = message["MessageId"]
            entries.append(entry)
        sent = sqs.send_message_batch(QueueUrl=queue.url, Entries=entries)
        delivered = {item["Id"] for item in sent.get("Successful", [])}
        if delivered:
            sqs.delete_message_batch(QueueUrl=queue.dead_letter_url, Entries=[
                {"Id": str(index), "ReceiptHandle": message["ReceiptHandle"]}
                for index, message in enumerate(batch) if str(index) in delivered])
        if sent.get("Failed"):
            failure = sent["Failed"][0]
            raise RuntimeError(f"{len(sent['Failed'])} message(s) could not be sent back to {queue.name} "
                               f"({failure.get('Code')}: {failure.get('Message')}); they stay in the dead-letter "
                               f"queue ({moved + len(delivered)} moved)")
        moved += len(delivered)
        progress(f"moved {moved} of {queue.name}'s dead letters back")
