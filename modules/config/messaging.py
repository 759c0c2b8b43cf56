"""Messaging: the requests and results topics, the work queues they fan out to, and their alarms.

The filter attribute names come from lambdas/contract.py, the one place the submit Lambda also reads them.
"""

from __future__ import annotations

import re

from pydantic import Field, field_validator, model_validator

from lambdas.contract import ATTR_MODEL, ATTR_PRIORITY, PRIORITIES
from modules.config.base import StrictModel

FILTER_ATTRIBUTES = (ATTR_MODEL, ATTR_PRIORITY)
FIFO_SUFFIX = ".fifo"
DEAD_LETTER_SUFFIX = "-dlq"
MAX_QUEUE_NAME = 80  # SQS limit, including the .fifo suffix
QUEUE_NAME = re.compile(r"^[A-Za-z0-9_-]+(\.fifo)?$")
SQS_MAX_RETENTION_SECONDS = 1_209_600  # 14 days


def physical_queue_name(name_prefix: str, name: str, *, dead_letter: bool = False) -> str:
    """`<project>-<environment>-<name>[-dlq][.fifo]`: the .fifo suffix must stay last."""
    base = name.removesuffix(FIFO_SUFFIX)
    suffix = FIFO_SUFFIX if name.endswith(FIFO_SUFFIX) else ""
    return f"{name_prefix}-{base}{DEAD_LETTER_SUFFIX if dead_letter else ''}{suffix}"


class QueueConfig(StrictModel):
    """One work queue subscribed to the requests topic; every queue gets its own dead-letter queue."""

    name: str = Field(description="queue name (1-80 of A-Za-z0-9_-, optional .fifo suffix); prefixed with "
                                  "<project>-<environment>-")
    filter: dict[str, tuple[str, ...]] = Field(
        default_factory=dict,
        description=f"SNS filter on message attributes ({', '.join(FILTER_ATTRIBUTES)}); empty: every request")
    visibility_timeout_seconds: int = Field(
        default=180, ge=0, le=43200,
        description="how long a received message stays hidden; the compute stack enforces >= 6x the consumer timeout")
    receive_wait_time_seconds: int = Field(default=20, ge=0, le=20, description="long polling wait (20: fewest empty receives)")
    message_retention_seconds: int = Field(default=345_600, ge=60, le=SQS_MAX_RETENTION_SECONDS,
                                           description="how long an unprocessed message is kept (default 4 days)")

    @field_validator("name")
    @classmethod
    def _valid_name(cls, value: str) -> str:
        if not 1 <= len(value) <= MAX_QUEUE_NAME or not QUEUE_NAME.fullmatch(value) or value == FIFO_SUFFIX:
            raise ValueError(f"{value!r}: 1-{MAX_QUEUE_NAME} characters of A-Za-z0-9_- with an optional "
                             f"'{FIFO_SUFFIX}' suffix (only at the end, after at least one character)")
        return value

    @field_validator("filter")
    @classmethod
    def _valid_filter(cls, value: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
        problems = []
        for attribute, allowed in value.items():
            if attribute not in FILTER_ATTRIBUTES:
                problems.append(f"unknown attribute {attribute!r}; allowed: {', '.join(FILTER_ATTRIBUTES)}")
            elif not allowed or any(not item for item in allowed):
                problems.append(f"{attribute}: list at least one non-empty value")
            elif attribute == ATTR_PRIORITY and set(allowed) - set(PRIORITIES):
                problems.append(f"{attribute}: unknown value(s) {', '.join(sorted(set(allowed) - set(PRIORITIES)))}; "
                                f"allowed: {', '.join(PRIORITIES)}")
        if problems:
            raise ValueError("; ".join(problems))
        return value

    @property
    def fifo(self) -> bool:
        return self.name.endswith(FIFO_SUFFIX)


def _default_queues() -> tuple[QueueConfig, ...]:
    return (QueueConfig(name="default", filter={ATTR_PRIORITY: ("normal",)}),
            QueueConfig(name="priority", filter={ATTR_PRIORITY: ("high",)}))


class MessagingConfig(StrictModel):
    """Topics, work queues, dead-letter handling and the alarms that say when work is stuck."""

    fifo_topics: bool = Field(default=False, description="FIFO requests/results topics (needed by .fifo queues)")
    queues: tuple[QueueConfig, ...] = Field(default_factory=_default_queues,
                                            description="work queues fed by the requests topic")
    max_receive_count: int = Field(default=5, ge=1, le=1000,
                                   description="receives before a message moves to the queue's dead-letter queue")
    oldest_message_age_alarm_seconds: int = Field(
        default=900, ge=60, le=SQS_MAX_RETENTION_SECONDS,
        description="alarm when the oldest message of a work queue is older than this")
    alarm_email: str | None = Field(default=None, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$",
                                    description="optional e-mail subscribed to the alarm topic (confirm the mail)")

    @model_validator(mode="after")
    def _queues_fit_topics(self) -> MessagingConfig:
        problems = []
        if not self.queues:
            problems.append("queues: list at least one work queue")
        names = [queue.name for queue in self.queues]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            problems.append(f"queues: duplicate name(s) {', '.join(duplicates)}")
        fifo_queues = [queue.name for queue in self.queues if queue.fifo]
        if fifo_queues and not self.fifo_topics:
            problems.append(f"queues: FIFO queue(s) {', '.join(fifo_queues)} need fifo_topics = true "
                            "(a FIFO queue can only subscribe to a FIFO topic)")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def problems(self, name_prefix: str) -> list[str]:
        """Checks that need the name prefix: physical queue names (with -dlq) must fit SQS's 80 characters."""
        too_long = [physical_queue_name(name_prefix, queue.name, dead_letter=True) for queue in self.queues
                    if len(physical_queue_name(name_prefix, queue.name, dead_letter=True)) > MAX_QUEUE_NAME]
        if too_long:
            return [(f"messaging.queues: name(s) {', '.join(too_long)} longer than {MAX_QUEUE_NAME} characters "
                     "with the <project>-<environment>- prefix and -dlq suffix; shorten the queue name")]
        return []
