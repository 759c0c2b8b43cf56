"""The messaging stack: the requests topic fans out to work queues by filter policy, the results topic tells
subscribers a job (or, with the batch stack, a batch) finished, and an alarm topic collects every queue alarm. One CMK encrypts all of them.

With an asynchronous SageMaker endpoint (inference.mode = "async") it also holds the endpoint's own notifications
topic and the queue the async_results function consumes: SageMaker's notifications have their own format, so they
never reach the results topic's subscribers untranslated.
"""

from __future__ import annotations

import hashlib
import json

from constructs import Construct

from modules import aws
from modules.config import PipelineConfig
from modules.config.messaging import ASYNC_NOTIFICATIONS, physical_queue_name
from modules.constructs.encrypted_queue import EncryptedQueue, EncryptedQueueProps
from modules.constructs.encrypted_topic import EncryptedTopic, EncryptedTopicProps
from modules.stacks.base import PipelineStack

# SNS encrypts into the queues and CloudWatch publishes alarms to the encrypted topic. SQS itself is kept although no
# call proves it needed (tools/access_check/accepted_unused.yaml says why: dead-letter moves).
# The Lambdas that consume or publish are granted kms:Decrypt/GenerateDataKey in IAM by the compute stack.
KEY_SERVICE_PRINCIPALS = ("sns.amazonaws.com", "sqs.amazonaws.com", "cloudwatch.amazonaws.com")
# With the batch stack, EventBridge publishes batch completions to the results topic (its job-state rule).
EVENTBRIDGE = "events.amazonaws.com"


class MessagingStack(PipelineStack):
    """Exposes `key`, `requests_topic_arn`, `results_topic_arn`, `alarm_topic_arn`, `alarm_subscriptions`,
    `work_queues` (name -> EncryptedQueue), `async_notifications_topic_arn` and `async_notifications_queue` (an
    EncryptedQueue; both None unless inference.mode = "async").
    """

    def __init__(self, scope: Construct, id_: str = "messaging", *, config: PipelineConfig) -> None:
        super().__init__(scope, id_, config=config)
        messaging = config.messaging
        prefix = config.name_prefix
        self.key = self.customer_key(
            "messaging-key",
            alias=f"{prefix}-messaging",
            description=f"topics and queues of {prefix}",
            for_logs=False,
            service_principals=KEY_SERVICE_PRINCIPALS + ((EVENTBRIDGE,) if config.batch.enabled else ()),
        )

        self.requests_topic = EncryptedTopic(
            self,
            "requests-topic",
            props=EncryptedTopicProps(name=f"{prefix}-requests", kms_key_arn=self.key.arn, fifo=messaging.fifo_topics),
        )
        self.results_topic = EncryptedTopic(
            self,
            "results-topic",
            props=EncryptedTopicProps(
                name=f"{prefix}-results",
                kms_key_arn=self.key.arn,
                fifo=messaging.fifo_topics,
                **self._batch_completions(config),
            ),
        )
        # CloudWatch cannot publish to a FIFO topic, so alarms always go to a standard one.
        self.alarm_topic = EncryptedTopic(
            self,
            "alarm-topic",
            props=EncryptedTopicProps(
                name=f"{prefix}-alarms",
                kms_key_arn=self.key.arn,
                publisher_service="cloudwatch.amazonaws.com",
                account_id=self.account_id,
                publisher_source_arn=f"arn:{self.partition}:cloudwatch:{config.region}:{self.account_id}:alarm:*",
            ),
        )
        self.requests_topic_arn = self.requests_topic.arn
        self.results_topic_arn = self.results_topic.arn
        self.alarm_topic_arn = self.alarm_topic.arn
        # Named by protocol and endpoint, so reordering the list in the file replaces nothing.
        self.alarm_subscriptions = [
            aws.sns_topic_subscription.SnsTopicSubscription(
                self,
                f"alarm-{subscription.protocol}-{hashlib.sha256(subscription.endpoint.encode()).hexdigest()[:8]}",
                topic_arn=self.alarm_topic.arn,
                protocol=subscription.protocol,
                endpoint=subscription.endpoint,
            )
            for subscription in messaging.alarm_subscriptions
        ]

        self.work_queues: dict[str, EncryptedQueue] = {}
        for queue_config in messaging.queues:
            label = queue_config.name.removesuffix(".fifo")
            queue = EncryptedQueue(
                self,
                f"queue-{label}",
                props=EncryptedQueueProps(
                    name=physical_queue_name(prefix, queue_config.name),
                    kms_key_arn=self.key.arn,
                    account_id=self.account_id,
                    region=config.region,
                    partition=self.partition,
                    source_topic_arn=self.requests_topic.arn,
                    visibility_timeout_seconds=queue_config.visibility_timeout_seconds,
                    receive_wait_time_seconds=queue_config.receive_wait_time_seconds,
                    message_retention_seconds=queue_config.message_retention_seconds,
                    max_receive_count=messaging.max_receive_count,
                    alarm_topic_arn=self.alarm_topic.arn,
                    oldest_message_age_alarm_seconds=messaging.oldest_message_age_alarm_seconds,
                ),
            )
            aws.sns_topic_subscription.SnsTopicSubscription(
                self,
                f"queue-{label}-subscription",
                topic_arn=self.requests_topic.arn,
                protocol="sqs",
                endpoint=queue.arn,
                raw_message_delivery=True,
                filter_policy=json.dumps(filter_policy(queue_config.filter), sort_keys=True)
                if queue_config.filter
                else None,
                filter_policy_scope="MessageAttributes" if queue_config.filter else None,
            )
            self.work_queues[queue_config.name] = queue
            key = label.replace("-", "_")
            self.output(f"queue_url_{key}", queue.url, f"work queue {queue_config.name} (fed by the requests topic)")
            self.output(
                f"dead_letter_queue_url_{key}",
                queue.dead_letter_queue.url,
                f"dead-letter queue of {queue_config.name}: inspect, fix, redrive",
            )

        self.async_notifications_topic_arn, self.async_notifications_queue = None, None
        if config.inference.mode == "async":
            self._async_notifications(config)

        self.output("messaging_kms_key_arn", self.key.arn, "CMK of topics and queues (publishers/consumers need it)")
        self.output("requests_topic_arn", self.requests_topic_arn, "submit publishes accepted jobs here")
        self.output("results_topic_arn", self.results_topic_arn, "subscribe here to hear about finished jobs")
        self.output("alarm_topic_arn", self.alarm_topic_arn, "queue alarms (dead letters, stuck messages) land here")

    def _batch_completions(self, config: PipelineConfig) -> dict[str, str]:
        """The batch stack's job-state rule may publish to the results topic (named by its ARN: the rule is built
        later, in the batch stack, which reads this topic)."""
        if not config.batch.enabled:
            return {}
        return {
            "publisher_service": EVENTBRIDGE,
            "account_id": self.account_id,
            "publisher_source_arn": config.batch.rule_arn(
                self.partition, config.region, self.account_id, config.name_prefix
            ),
        }

    def _async_notifications(self, config: PipelineConfig) -> None:
        """The endpoint publishes its success and error notifications here (with its execution role); a raw
        subscription hands them to the async_results function's queue, whose dead-letter queue keeps what cannot be
        translated."""
        prefix, messaging = config.name_prefix, config.messaging
        topic = EncryptedTopic(
            self,
            "async-notifications-topic",
            props=EncryptedTopicProps(name=f"{prefix}-{ASYNC_NOTIFICATIONS}", kms_key_arn=self.key.arn),
        )
        queue = EncryptedQueue(
            self,
            "queue-async-notifications",
            props=EncryptedQueueProps(
                name=physical_queue_name(prefix, ASYNC_NOTIFICATIONS),
                kms_key_arn=self.key.arn,
                account_id=self.account_id,
                region=config.region,
                partition=self.partition,
                source_topic_arn=topic.arn,
                visibility_timeout_seconds=messaging.async_notifications_queue.visibility_timeout_seconds,
                receive_wait_time_seconds=messaging.async_notifications_queue.receive_wait_time_seconds,
                message_retention_seconds=messaging.async_notifications_queue.message_retention_seconds,
                max_receive_count=messaging.max_receive_count,
                alarm_topic_arn=self.alarm_topic.arn,
                oldest_message_age_alarm_seconds=messaging.oldest_message_age_alarm_seconds,
            ),
        )
        aws.sns_topic_subscription.SnsTopicSubscription(
            self,
            "async-notifications-subscription",
            topic_arn=topic.arn,
            protocol="sqs",
            endpoint=queue.arn,
            raw_message_delivery=True,
        )
        self.async_notifications_topic_arn, self.async_notifications_queue = topic.arn, queue
        self.output(
            "async_notifications_topic_arn",
            topic.arn,
            "the asynchronous endpoint's success and error notifications (SageMaker's format)",
        )
        self.output("async_notifications_queue_url", queue.url, "async_results consumes the notifications here")
        self.output(
            "async_notifications_dead_letter_queue_url",
            queue.dead_letter_queue.url,
            "notifications async_results could not translate: inspect, fix, redrive",
        )


def filter_policy(filter_config: dict[str, tuple[str, ...]]) -> dict[str, list[str]]:
    """SNS filter policy on message attributes: every listed attribute must match one of its values."""
    return {attribute: sorted(values) for attribute, values in filter_config.items()}
