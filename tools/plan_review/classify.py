"""Turn Terraform's action lists into the review's categories, and decide which resources hold state.

Why not Terraform's own summary: its "Plan: N to add, M to change, K to destroy" line counts a replacement
twice (once under add, once under destroy) and folds imports, moves and forgets into other numbers. A reviewer
wants to see "1 replace" and to know at a glance whether anything that holds data is about to go.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum

from tools.plan_review.model import ResourceChange, StackPlan


class Kind(StrEnum):
    """What a resource change does, one word each (the column names of the summary)."""

    ADD = "add"
    CHANGE = "change"
    REPLACE = "replace"
    DESTROY = "destroy"
    FORGET = "forget"
    READ = "read"
    NO_OP = "no-op"


COUNTED_COLUMNS: tuple[str, ...] = ("add", "change", "replace", "destroy", "import", "move", "forget")


def kind_of(actions: Iterable[str]) -> Kind:
    """The category of an action list.

    A create paired with a delete (either order) or with a forget (`CreateThenForget`: replaced, the old object
    left in place because of `destroy = false`) is one replacement. Anything unrecognised counts as no-op, so
    a future action never inflates a count it does not belong to.
    """
    acts = set(actions)
    if "create" in acts and acts & {"delete", "forget"}:
        return Kind.REPLACE
    single = {
        "create": Kind.ADD,
        "update": Kind.CHANGE,
        "delete": Kind.DESTROY,
        "forget": Kind.FORGET,
        "read": Kind.READ,
    }
    for action, kind in single.items():
        if acts == {action}:
            return kind
    return Kind.NO_OP


def destroys_existing_object(change: ResourceChange) -> bool:
    """True when applying deletes a real object: a destroy, or a replacement that deletes the old one."""
    return change.mode == "managed" and "delete" in change.change.actions


@dataclass(frozen=True)
class PlanFacts:
    """What the stateful rules need to know about the whole plan, gathered in one pass over it."""

    subscribed_topics: frozenset[str]

    @classmethod
    def of(cls, plan: StackPlan) -> PlanFacts:
        return cls(
            subscribed_topics=frozenset(
                str(other.change.before["topic_arn"])
                for other in plan.resource_changes
                if other.type == "aws_sns_topic_subscription"
                and isinstance(other.change.before, dict)
                and other.change.before.get("topic_arn")
            )
        )


@dataclass(frozen=True)
class StatefulRule:
    """Why a resource type holds state, and (for some types) the condition under which it does."""

    label: str
    applies: Callable[[ResourceChange, PlanFacts], bool] | None = None


def _topic_has_subscriptions(change: ResourceChange, facts: PlanFacts) -> bool:
    """A topic holds state when something subscribes to it: deleting it silently cuts those subscribers off."""
    before = change.change.before if isinstance(change.change.before, dict) else {}
    return before.get("arn") in facts.subscribed_topics


# The one list of resource types whose destruction loses data, history or the ability to decrypt it. Keep it
# here: the markdown warning, the JSON `stateful_destructive` list and `--fail-on-destroy` all read it.
STATEFUL_RESOURCE_TYPES: dict[str, StatefulRule] = {
    "aws_s3_bucket": StatefulRule("S3 bucket: objects"),
    "aws_ecr_repository": StatefulRule("ECR repository: images"),
    "aws_kms_key": StatefulRule("KMS key: everything encrypted under it"),
    "aws_kms_replica_key": StatefulRule("KMS replica key: everything encrypted under it"),
    "aws_sqs_queue": StatefulRule("SQS queue: messages in flight"),
    "aws_sns_topic": StatefulRule("SNS topic with subscriptions", _topic_has_subscriptions),
    "aws_sagemaker_endpoint": StatefulRule("SageMaker endpoint: serving traffic, data capture"),
    "aws_cloudwatch_log_group": StatefulRule("log group: log history"),
    "aws_dynamodb_table": StatefulRule("DynamoDB table: items"),
    "aws_efs_file_system": StatefulRule("EFS file system: files"),
    "aws_ebs_volume": StatefulRule("EBS volume: data"),
    "aws_db_instance": StatefulRule("RDS instance: database"),
    "aws_rds_cluster": StatefulRule("RDS cluster: database"),
    "aws_elasticache_replication_group": StatefulRule("ElastiCache replication group: cached data"),
    "aws_secretsmanager_secret": StatefulRule("Secrets Manager secret: secret value"),
    "aws_kinesis_stream": StatefulRule("Kinesis stream: records"),
    "aws_backup_vault": StatefulRule("Backup vault: recovery points"),
    "aws_cognito_user_pool": StatefulRule("Cognito user pool: users"),
}

STATE_STACK = "state"


def stateful_label(change: ResourceChange, plan: StackPlan, facts: PlanFacts) -> str | None:
    """Why losing this resource loses data, or None when it holds none."""
    rule = STATEFUL_RESOURCE_TYPES.get(change.type)
    if rule is None or change.mode != "managed":
        return None
    if rule.applies is not None and not rule.applies(change, facts):
        return None
    if plan.stack == STATE_STACK and change.type == "aws_s3_bucket":
        return "Terraform state bucket: the state of every stack"
    return rule.label


# Terraform's action_reason values, in words a reviewer reads at a glance.
ACTION_REASONS: dict[str, str] = {
    "replace_because_cannot_update": "an argument that cannot change in place changed",
    "replace_because_tainted": "the object is tainted",
    "replace_by_request": "replacement requested with -replace",
    "replace_by_triggers": "replace_triggered_by fired",
    "delete_because_no_resource_config": "removed from the configuration",
    "delete_because_no_module": "its module was removed",
    "delete_because_wrong_repetition": "count/for_each was added or removed",
    "delete_because_count_index": "its count index no longer exists",
    "delete_because_each_key": "its for_each key no longer exists",
    "delete_because_no_move_target": "its moved target does not exist",
    "read_because_config_unknown": "configuration unknown until apply",
    "read_because_dependency_pending": "a dependency has pending changes",
    "read_because_check_nested": "a check block reads it",
}


def describe_reason(reason: str | None) -> str | None:
    if reason is None:
        return None
    words = ACTION_REASONS.get(reason)
    return f"{reason} ({words})" if words else reason


@dataclass(frozen=True)
class DestructiveChange:
    """A resource the plan destroys or replaces, with what a reviewer needs to judge it."""

    stack: str
    change: ResourceChange
    kind: Kind
    stateful: str | None


@dataclass(frozen=True)
class StackSummary:
    """Counts per column plus the destructive changes of one stack."""

    stack: str
    counts: dict[str, int]
    destructive: tuple[DestructiveChange, ...]

    @property
    def stateful_destructive(self) -> tuple[DestructiveChange, ...]:
        return tuple(d for d in self.destructive if d.stateful)

    @property
    def has_changes(self) -> bool:
        return any(self.counts.values())


def summarize(plan: StackPlan) -> StackSummary:
    """Count each resource change once under its kind, plus once under import and/or move when it is one."""
    counts = dict.fromkeys(COUNTED_COLUMNS, 0)
    destructive = []
    facts = PlanFacts.of(plan)
    for change in plan.resource_changes:
        kind = kind_of(change.change.actions)
        if kind.value in counts:
            counts[kind.value] += 1
        if change.change.importing:
            counts["import"] += 1
        if change.previous_address and change.previous_address != change.address:
            counts["move"] += 1
        if destroys_existing_object(change):
            destructive.append(DestructiveChange(plan.stack, change, kind, stateful_label(change, plan, facts)))
    return StackSummary(plan.stack, counts, tuple(destructive))
