"""A work queue with everything it needs to be safe to depend on: customer-key encryption, its own dead-letter
queue (with a redrive allow policy naming only this queue), a policy that admits only the subscribed topic over
TLS, and alarms on a non-empty DLQ and on messages waiting too long.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from constructs import Construct

from modules import aws
from modules.constructs.policy_statements import (
    Condition,
    deny_insecure_transport,
    policy_document,
    statement,
)
from modules.limits import FIFO_SUFFIX, QUEUE_NAME, SQS_MESSAGE_RETENTION, SQS_QUEUE_NAME, dead_letter_queue_name

MAX_QUEUE_NAME = SQS_QUEUE_NAME.value
MAX_RETENTION_SECONDS = SQS_MESSAGE_RETENTION.value
DEAD_LETTER_RETENTION_SECONDS = MAX_RETENTION_SECONDS  # 14 days, the SQS maximum: time to inspect and redrive
KMS_DATA_KEY_REUSE_SECONDS = 300  # the SQS default: fewer KMS calls, a key is never reused for long


@dataclass(frozen=True, kw_only=True)
class EncryptedQueueProps:
    """One queue, its dead-letter queue and alarms; FIFO when the name ends in .fifo."""

    name: str  # physical queue name (1-80 of A-Za-z0-9_-, optional .fifo suffix)
    kms_key_arn: str  # CMK of both queues; its policy must admit sqs and the publishing service (sns)
    account_id: str  # owning account and region: the queue ARNs in the inline policies are built from them
    region: str
    partition: str = "aws"
    source_topic_arn: str | None = None  # the only SNS topic allowed to send (aws:SourceArn); None: IAM senders only
    visibility_timeout_seconds: int  # >= 6x the consumer's timeout (the event source refuses less)
    receive_wait_time_seconds: int  # long polling, 0-20
    message_retention_seconds: int
    max_receive_count: int  # receives before a message moves to the dead-letter queue
    dead_letter_retention_seconds: int = DEAD_LETTER_RETENTION_SECONDS  # >= message_retention_seconds
    alarm_topic_arn: str | None = None  # SNS topic notified by both alarms (alarm and back to OK)
    oldest_message_age_alarm_seconds: int  # alarm when the oldest message is older than this


class EncryptedQueue(Construct):
    """Exposes `queue`, `dead_letter_queue`, `visibility_timeout_seconds`, `arn`, `url`, `name`, `alarms`, `alarm_names`."""

    def __init__(self, scope: Construct, id_: str, *, props: EncryptedQueueProps) -> None:
        super().__init__(scope, id_)
        _validate(id_, props)
        fifo = props.name.endswith(FIFO_SUFFIX)
        dead_letter_name = dead_letter_queue_name(props.name)
        common = {
            "kms_master_key_id": props.kms_key_arn,
            "kms_data_key_reuse_period_seconds": KMS_DATA_KEY_REUSE_SECONDS,
            "fifo_queue": fifo or None,
        }
        # Policies are inline, on ARNs built from the names: a separate aws_sqs_queue_policy would wait for the
        # queue and then for its own attribute propagation (~25 s each in the provider), on every deploy path.
        queue_arn, dead_letter_arn = (
            f"arn:{props.partition}:sqs:{props.region}:{props.account_id}:{name}"
            for name in (props.name, dead_letter_name)
        )
        self.dead_letter_queue = aws.sqs_queue.SqsQueue(
            self,
            "dead-letter-queue",
            name=dead_letter_name,
            message_retention_seconds=props.dead_letter_retention_seconds,
            policy=policy_document(
                self, "dead-letter-queue-policy-document", [deny_insecure_transport([dead_letter_arn], "sqs:*")]
            ).json,
            **common,
        )
        queue_statements = [deny_insecure_transport([queue_arn], "sqs:*")]
        if props.source_topic_arn:
            queue_statements.append(
                statement(
                    "SubscribedTopicSends",
                    ["sqs:SendMessage"],
                    [queue_arn],
                    principals={"Service": ["sns.amazonaws.com"]},
                    conditions=(Condition("ArnEquals", "aws:SourceArn", (props.source_topic_arn,)),),
                )
            )
        self.queue = aws.sqs_queue.SqsQueue(
            self,
            "queue",
            name=props.name,
            visibility_timeout_seconds=props.visibility_timeout_seconds,
            receive_wait_time_seconds=props.receive_wait_time_seconds,
            message_retention_seconds=props.message_retention_seconds,
            redrive_policy=json.dumps(
                {"deadLetterTargetArn": self.dead_letter_queue.arn, "maxReceiveCount": props.max_receive_count}
            ),
            policy=policy_document(self, "queue-policy-document", queue_statements).json,
            **common,
        )
        # A separate resource: inline on the DLQ it would make the DLQ wait for the queue that waits for the DLQ.
        aws.sqs_queue_redrive_allow_policy.SqsQueueRedriveAllowPolicy(
            self,
            "dead-letter-redrive-allow",
            queue_url=self.dead_letter_queue.id,
            redrive_allow_policy=json.dumps({"redrivePermission": "byQueue", "sourceQueueArns": [self.queue.arn]}),
        )
        self.arn = self.queue.arn
        self.url = self.queue.url
        self.name = props.name
        self.visibility_timeout_seconds = props.visibility_timeout_seconds

        actions = [props.alarm_topic_arn] if props.alarm_topic_arn else None
        # Plain names, for whatever lists the alarms without depending on this stack (the dashboard).
        self.alarm_names = {
            "dead_letters": f"{props.name}-dead-letters",
            "oldest_message_age": f"{props.name}-oldest-message-age",
        }
        self.alarms = {
            "dead_letters": aws.cloudwatch_metric_alarm.CloudwatchMetricAlarm(
                self,
                "dead-letters-alarm",
                alarm_name=self.alarm_names["dead_letters"],
                alarm_description=f"messages failed {props.max_receive_count} times and wait in {dead_letter_name}: "
                "inspect, fix, then redrive",
                namespace="AWS/SQS",
                metric_name="ApproximateNumberOfMessagesVisible",
                dimensions={"QueueName": dead_letter_name},
                statistic="Maximum",
                period=60,
                evaluation_periods=1,
                threshold=0,
                comparison_operator="GreaterThanThreshold",
                treat_missing_data="notBreaching",
                actions_enabled=True,
                alarm_actions=actions,
                ok_actions=actions,
            ),
            "oldest_message_age": aws.cloudwatch_metric_alarm.CloudwatchMetricAlarm(
                self,
                "oldest-message-age-alarm",
                alarm_name=self.alarm_names["oldest_message_age"],
                alarm_description=f"the oldest message in {props.name} waited more than "
                f"{props.oldest_message_age_alarm_seconds} s: consumers are stuck or too few",
                namespace="AWS/SQS",
                metric_name="ApproximateAgeOfOldestMessage",
                dimensions={"QueueName": props.name},
                statistic="Maximum",
                period=60,
                evaluation_periods=5,
                datapoints_to_alarm=3,
                threshold=props.oldest_message_age_alarm_seconds,
                comparison_operator="GreaterThanThreshold",
                treat_missing_data="notBreaching",
                actions_enabled=True,
                alarm_actions=actions,
                ok_actions=actions,
            ),
        }


def _validate(id_: str, props: EncryptedQueueProps) -> None:
    problems = []
    for label, name in (("name", props.name), ("dead-letter queue name", dead_letter_queue_name(props.name))):
        if not 1 <= len(name) <= MAX_QUEUE_NAME or not QUEUE_NAME.fullmatch(name) or name == FIFO_SUFFIX:
            problems.append(
                f"{label} {name!r}: 1-{MAX_QUEUE_NAME} characters of A-Za-z0-9_- with an optional "
                f"'{FIFO_SUFFIX}' suffix"
            )
    if not props.kms_key_arn:
        problems.append("kms_key_arn is required (queues are encrypted with a customer key)")
    ranges = {
        "visibility_timeout_seconds": (props.visibility_timeout_seconds, 0, 43_200),
        "receive_wait_time_seconds": (props.receive_wait_time_seconds, 0, 20),
        "message_retention_seconds": (props.message_retention_seconds, 60, MAX_RETENTION_SECONDS),
        "dead_letter_retention_seconds": (props.dead_letter_retention_seconds, 60, MAX_RETENTION_SECONDS),
        "max_receive_count": (props.max_receive_count, 1, 1000),
        "oldest_message_age_alarm_seconds": (props.oldest_message_age_alarm_seconds, 60, MAX_RETENTION_SECONDS),
    }
    for field, (value, low, high) in ranges.items():
        if not low <= value <= high:
            problems.append(f"{field} must be {low}-{high}, got {value}")
    if props.dead_letter_retention_seconds < props.message_retention_seconds:
        # A message keeps its original enqueue time in a standard DLQ: a shorter DLQ retention deletes it unseen.
        problems.append(
            "dead_letter_retention_seconds must be >= message_retention_seconds "
            f"({props.dead_letter_retention_seconds} < {props.message_retention_seconds})"
        )
    if problems:
        raise ValueError(f"{id_}: " + "; ".join(problems))
