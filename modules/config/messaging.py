"""Messaging: the requests and results topics, the work queues they fan out to, and their alarms.

The filter attribute names come from lambdas/contract.py, the one place the submit Lambda also reads them.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from lambdas.contract import ATTR_MODEL, ATTR_PRIORITY, PRIORITIES
from modules.config.base import StrictModel
from modules.limits import (
    DEAD_LETTER_SUFFIX,
    FIFO_SUFFIX,
    QUEUE_NAME,
    SQS_LONG_POLL,
    SQS_MESSAGE_RETENTION,
    SQS_QUEUE_NAME,
    SQS_VISIBILITY_TIMEOUT,
    dead_letter_queue_name,
    name_problem,
)

FILTER_ATTRIBUTES = (ATTR_MODEL, ATTR_PRIORITY)
MAX_QUEUE_NAME = SQS_QUEUE_NAME.value  # including the .fifo suffix
SQS_MAX_RETENTION_SECONDS = SQS_MESSAGE_RETENTION.value
# The queue of an asynchronous endpoint's notifications (messaging stack): no work queue may take its name.
ASYNC_NOTIFICATIONS = "async-notifications"


def physical_queue_name(name_prefix: str, name: str, *, dead_letter: bool = False) -> str:
    """`<project>-<environment>-<name>[-dlq][.fifo]`: the .fifo suffix must stay last."""
    physical = f"{name_prefix}-{name}"
    return dead_letter_queue_name(physical) if dead_letter else physical


# The settings every queue of the pipeline has, declared once for the work queues and the notifications queue.
VISIBILITY_TIMEOUT = Field(
    default=180,
    ge=0,
    le=SQS_VISIBILITY_TIMEOUT.value,
    description="how long a received message stays hidden; at least 6x the timeout of the function that consumes "
    "the queue (checked at synth)",
)
RECEIVE_WAIT_TIME = Field(
    default=20, ge=0, le=SQS_LONG_POLL.value, description="long polling wait (20: fewest empty receives)"
)
MESSAGE_RETENTION = Field(
    default=345_600,
    ge=60,
    le=SQS_MAX_RETENTION_SECONDS,
    description="how long an unprocessed message is kept (default 4 days)",
)


class QueueTimings(StrictModel):
    """How long a queue hides, waits for and keeps messages."""

    visibility_timeout_seconds: int = VISIBILITY_TIMEOUT
    receive_wait_time_seconds: int = RECEIVE_WAIT_TIME
    message_retention_seconds: int = MESSAGE_RETENTION


class QueueConfig(StrictModel):
    """One work queue subscribed to the requests topic; every queue gets its own dead-letter queue."""

    name: str = Field(
        description="queue name (1-80 of A-Za-z0-9_-, optional .fifo suffix); prefixed with <project>-<environment>-"
    )
    filter: dict[str, tuple[str, ...]] = Field(
        default_factory=dict,
        description=f"SNS filter on message attributes ({', '.join(FILTER_ATTRIBUTES)}); empty: every request",
    )
    visibility_timeout_seconds: int = VISIBILITY_TIMEOUT
    receive_wait_time_seconds: int = RECEIVE_WAIT_TIME
    message_retention_seconds: int = MESSAGE_RETENTION

    @field_validator("name")
    @classmethod
    def _valid_name(cls, value: str) -> str:
        if not 1 <= len(value) <= MAX_QUEUE_NAME or not QUEUE_NAME.fullmatch(value) or value == FIFO_SUFFIX:
            raise ValueError(
                f"{value!r}: 1-{MAX_QUEUE_NAME} characters of A-Za-z0-9_- with an optional "
                f"'{FIFO_SUFFIX}' suffix (only at the end, after at least one character)"
            )
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
                problems.append(
                    f"{attribute}: unknown value(s) {', '.join(sorted(set(allowed) - set(PRIORITIES)))}; "
                    f"allowed: {', '.join(PRIORITIES)}"
                )
        if problems:
            raise ValueError("; ".join(problems))
        return value

    @property
    def fifo(self) -> bool:
        return self.name.endswith(FIFO_SUFFIX)


# How each alarm-subscription protocol's endpoint must look (SNS Subscribe: the endpoint is protocol-specific).
ENDPOINT_FORMATS: dict[str, tuple[re.Pattern[str], str]] = {
    "email": (re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$"), "an e-mail address (name@example.com)"),
    "https": (re.compile(r"^https://[^\s/]+(/\S*)?$"), "an https:// URL (e.g. a chat integration's webhook)"),
    "lambda": (
        re.compile(r"^arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:function:[A-Za-z0-9_-]{1,64}(:[A-Za-z0-9$_-]+)?$"),
        "a Lambda function ARN (arn:aws:lambda:<region>:<account>:function:<name>)",
    ),
    "sqs": (
        re.compile(r"^arn:aws[a-z-]*:sqs:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,80}(\.fifo)?$"),
        "an SQS queue ARN (arn:aws:sqs:<region>:<account>:<name>)",
    ),
}


class AlarmSubscription(StrictModel):
    """One subscriber of the alarm topic: who hears that work is stuck."""

    protocol: Literal["email", "https", "lambda", "sqs"] = Field(
        description="email (confirm the mail), https (confirm the request; chat integrations such as Amazon Q "
        "Developer in chat applications), lambda or sqs (the receiver must allow sns.amazonaws.com "
        "from the alarm topic)"
    )
    endpoint: str = Field(description="address, URL or ARN, as the protocol requires")

    @model_validator(mode="after")
    def _endpoint_fits_protocol(self) -> AlarmSubscription:
        pattern, shape = ENDPOINT_FORMATS[self.protocol]
        if self.protocol == "sqs" and self.endpoint.endswith(FIFO_SUFFIX):
            raise ValueError(
                f"endpoint: {self.endpoint!r} is a FIFO queue; SNS delivers a standard topic's "
                "messages only to standard queues"
            )
        if not pattern.fullmatch(self.endpoint):
            raise ValueError(f"endpoint: {self.endpoint!r} does not fit protocol {self.protocol!r}; expected {shape}")
        return self


def _default_queues() -> tuple[QueueConfig, ...]:
    return (
        QueueConfig(name="default", filter={ATTR_PRIORITY: ("normal",)}),
        QueueConfig(name="priority", filter={ATTR_PRIORITY: ("high",)}),
    )


class MessagingConfig(StrictModel):
    """Topics, work queues, dead-letter handling and the alarms that say when work is stuck."""

    fifo_topics: bool = Field(default=False, description="FIFO requests/results topics (needed by .fifo queues)")
    queues: tuple[QueueConfig, ...] = Field(
        default_factory=_default_queues, description="work queues fed by the requests topic"
    )
    async_notifications_queue: QueueTimings = Field(
        default_factory=QueueTimings,
        description="[inference.mode = async] the queue of the endpoint's notifications, which the async_results "
        "function consumes",
    )
    max_receive_count: int = Field(
        default=5, ge=1, le=1000, description="receives before a message moves to the queue's dead-letter queue"
    )
    oldest_message_age_alarm_seconds: int = Field(
        default=900,
        ge=60,
        le=SQS_MAX_RETENTION_SECONDS,
        description="alarm when the oldest message of a work queue is older than this",
    )
    alarm_subscriptions: tuple[AlarmSubscription, ...] = Field(
        default=(),
        description="subscribers of the alarm topic ({protocol, endpoint}); production = true needs "
        "at least one, or alarms reach nobody",
    )

    @model_validator(mode="before")
    @classmethod
    def _alarm_email_was_replaced(cls, data: object) -> object:
        if isinstance(data, dict) and "alarm_email" in data:
            raise ValueError(
                f"alarm_email: replaced by alarm_subscriptions; write alarm_subscriptions = "
                f'[{{ protocol = "email", endpoint = "{data["alarm_email"]}" }}]'
            )
        return data

    @model_validator(mode="after")
    def _queues_fit_topics(self) -> MessagingConfig:
        problems = []
        if not self.queues:
            problems.append("queues: list at least one work queue")
        names = [queue.name for queue in self.queues]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            problems.append(f"queues: duplicate name(s) {', '.join(duplicates)}")
        if ASYNC_NOTIFICATIONS in names:
            problems.append(
                f"queues: {ASYNC_NOTIFICATIONS!r} is the name of the asynchronous endpoint's notifications "
                "queue; choose another name"
            )
        subscribers = [(subscription.protocol, subscription.endpoint) for subscription in self.alarm_subscriptions]
        repeated = sorted(
            {
                f"{protocol} {endpoint}"
                for protocol, endpoint in subscribers
                if subscribers.count((protocol, endpoint)) > 1
            }
        )
        if repeated:
            problems.append(f"alarm_subscriptions: listed more than once: {', '.join(repeated)}")
        fifo_queues = [queue.name for queue in self.queues if queue.fifo]
        if fifo_queues and not self.fifo_topics:
            problems.append(
                f"queues: FIFO queue(s) {', '.join(fifo_queues)} need fifo_topics = true "
                "(a FIFO queue can only subscribe to a FIFO topic)"
            )
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def problems(self, name_prefix: str, production: bool = False) -> list[str]:
        """Checks that need the root config: physical queue names (with -dlq) must fit SQS's 80 characters, and
        production alarms must reach someone."""
        problems = []
        for index, queue in enumerate(self.queues):
            # The dead-letter queue's name is the longer of the two: it alone decides whether both fit.
            name = f"messaging.queues.{index}.name" + (f" without {FIFO_SUFFIX}" if queue.fifo else "")
            problem = name_problem(
                SQS_QUEUE_NAME,
                physical_queue_name(name_prefix, queue.name, dead_letter=True),
                "dead-letter queue",
                f"<project>-<environment>-<{name}>{DEAD_LETTER_SUFFIX}{FIFO_SUFFIX if queue.fifo else ''}",
                f"project, environment, messaging.queues.{index}.name",
            )
            if problem:
                problems.append(problem)
        if production and not self.alarm_subscriptions:
            problems.append(
                "messaging.alarm_subscriptions: at least one is required when production = true; e.g. "
                'alarm_subscriptions = [{ protocol = "email", endpoint = "oncall@example.com" }] '
                "(protocols: email, https, lambda, sqs)"
            )
        return problems
