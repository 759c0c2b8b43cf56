"""An SNS topic under a customer KMS key whose policy refuses plain HTTP and names the one service that may publish.

Why a customer key: SNS can deliver to an encrypted SQS queue only when it may use the queue's key, which the
AWS-managed aws/sns and aws/sqs keys never allow.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from constructs import Construct

from modules import aws
from modules.constructs.policy_statements import (
    Condition,
    deny_insecure_transport,
    policy_document,
    statement,
)
from modules.limits import FIFO_SUFFIX

TOPIC_NAME = re.compile(r"^[A-Za-z0-9_-]{1,256}$")


@dataclass(frozen=True, kw_only=True)
class EncryptedTopicProps:
    """Name, key, FIFO-ness and the optional publishing service of one topic."""

    name: str  # topic name without the .fifo suffix (added when fifo)
    kms_key_arn: str  # CMK; its policy must admit sns.amazonaws.com (and the publishing service)
    fifo: bool = False  # FIFO topic (ordered, deduplicated by content); needed for .fifo queue subscribers
    publisher_service: str | None = None  # e.g. cloudwatch.amazonaws.com; account principals publish through IAM
    publisher_source_arn: str | None = None  # aws:SourceArn pattern the publishing service must match
    account_id: str = ""  # required with publisher_service: aws:SourceAccount of the service


class EncryptedTopic(Construct):
    """Exposes `topic`, `arn`, `name`, `fifo`."""

    def __init__(self, scope: Construct, id_: str, *, props: EncryptedTopicProps) -> None:
        super().__init__(scope, id_)
        _validate(id_, props)
        self.name = f"{props.name}{FIFO_SUFFIX if props.fifo else ''}"
        self.fifo = props.fifo
        self.topic = aws.sns_topic.SnsTopic(
            self,
            "topic",
            name=self.name,
            kms_master_key_id=props.kms_key_arn,
            fifo_topic=props.fifo or None,
            content_based_deduplication=props.fifo or None,
        )
        self.arn = self.topic.arn
        statements = [deny_insecure_transport([self.arn], "sns:Publish")]
        if props.publisher_service:
            conditions = [Condition("StringEquals", "aws:SourceAccount", (props.account_id,))]
            if props.publisher_source_arn:
                conditions.append(Condition("ArnLike", "aws:SourceArn", (props.publisher_source_arn,)))
            statements.append(
                statement(
                    "ServicePublish",
                    ["sns:Publish"],
                    [self.arn],
                    principals={"Service": [props.publisher_service]},
                    conditions=tuple(conditions),
                )
            )
        document = policy_document(self, "policy-document", statements)
        aws.sns_topic_policy.SnsTopicPolicy(self, "policy", arn=self.arn, policy=document.json)


def _validate(id_: str, props: EncryptedTopicProps) -> None:
    problems = []
    base_limit = 256 - (len(FIFO_SUFFIX) if props.fifo else 0)
    if not TOPIC_NAME.fullmatch(props.name) or len(props.name) > base_limit:
        problems.append(
            f"name {props.name!r}: 1-{base_limit} characters of A-Za-z0-9_- (the .fifo suffix is added from `fifo`)"
        )
    if not props.kms_key_arn:
        problems.append("kms_key_arn is required (topics are encrypted with a customer key)")
    if props.publisher_service and not props.account_id:
        problems.append("account_id is required with publisher_service (confused-deputy guard)")
    if props.publisher_source_arn and not props.publisher_service:
        problems.append("publisher_source_arn needs publisher_service")
    if problems:
        raise ValueError(f"{id_}: " + "; ".join(problems))
