"""VPC flow logs into a KMS-encrypted log group with finite retention, delivered by a role scoped to that group."""

from __future__ import annotations

from dataclasses import dataclass

from constructs import Construct

from modules import aws
from modules.constructs.encrypted_log_group import encrypted_log_group, log_group_problems
from modules.constructs.policy_statements import Condition, policy_document, statement
from modules.constructs.service_roles import role_with_policy
from modules.limits import VPC_FLOW_LOG_AGGREGATION_INTERVALS

TRAFFIC_TYPES = ("ALL", "ACCEPT", "REJECT")
AGGREGATION_INTERVALS = VPC_FLOW_LOG_AGGREGATION_INTERVALS.value


@dataclass(frozen=True, kw_only=True)
class VpcFlowLogsProps:
    """Which VPC, where its flow logs go and for how long."""

    vpc_id: str  # the VPC whose traffic is logged
    log_group_name: str  # e.g. /aws/vpc/inference-dev/flow-logs
    retention_days: int  # one of CloudWatch's retention values
    kms_key_arn: str  # CMK of the log group (its policy must admit logs.<region>.amazonaws.com)
    role_name: str  # IAM role the flow-logs service assumes to write
    account_id: str  # scopes the service's assume-role to this account
    region: str  # scopes the service's assume-role to this region's flow logs
    partition: str = "aws"
    traffic_type: str = "ALL"  # ALL: accepted and rejected traffic (rejected alone hides exfiltration)
    max_aggregation_interval: int  # seconds, one of VPC_FLOW_LOG_AGGREGATION_INTERVALS (modules/limits.py)


class VpcFlowLogs(Construct):
    """Exposes `log_group`, `flow_log`, `role`."""

    def __init__(self, scope: Construct, id_: str, *, props: VpcFlowLogsProps) -> None:
        super().__init__(scope, id_)
        _validate(id_, props)
        self.log_group = encrypted_log_group(
            self,
            "log-group",
            name=props.log_group_name,
            retention_days=props.retention_days,
            kms_key_arn=props.kms_key_arn,
        )
        trust = policy_document(
            self,
            "trust",
            [
                statement(
                    "FlowLogsService",
                    ["sts:AssumeRole"],
                    None,
                    principals={"Service": ["vpc-flow-logs.amazonaws.com"]},
                    conditions=(
                        Condition("StringEquals", "aws:SourceAccount", (props.account_id,)),
                        Condition(
                            "ArnLike",
                            "aws:SourceArn",
                            (f"arn:{props.partition}:ec2:{props.region}:{props.account_id}:vpc-flow-log/*",),
                        ),
                    ),
                )
            ],
        )
        self.role = role_with_policy(
            self,
            "role",
            name=props.role_name,
            description="VPC flow logs delivery into one log group",
            trust=trust.json,  # also bound to this account's flow logs (aws:SourceArn), hence its own document
            statements=[
                statement(
                    "WriteFlowLogs",
                    ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
                    [self.log_group.arn, f"{self.log_group.arn}:*"],
                ),
                # The flow-logs service looks its destination up before delivering (AWS's documented role policy:
                # https://docs.aws.amazon.com/vpc/latest/userguide/flow-logs-iam-role.html); the action has no
                # resource-level permissions, so "*" is the only resource it accepts. It reads names, never events.
                statement("FindLogGroup", ["logs:DescribeLogGroups"], ["*"]),
            ],
            policy_name="write-flow-logs",
            policy_id="write-policy",
            document_id="write",
        ).role
        self.flow_log = aws.flow_log.FlowLog(
            self,
            "flow-log",
            vpc_id=props.vpc_id,
            traffic_type=props.traffic_type,
            log_destination_type="cloud-watch-logs",
            log_destination=self.log_group.arn,
            iam_role_arn=self.role.arn,
            max_aggregation_interval=props.max_aggregation_interval,
        )


def _validate(id_: str, props: VpcFlowLogsProps) -> None:
    problems = []
    problems += log_group_problems("retention_days", props.retention_days)
    if props.traffic_type not in TRAFFIC_TYPES:
        problems.append(f"traffic_type must be one of {', '.join(TRAFFIC_TYPES)}, got {props.traffic_type!r}")
    if props.max_aggregation_interval not in AGGREGATION_INTERVALS:
        problems.append(
            f"max_aggregation_interval must be one of {', '.join(map(str, AGGREGATION_INTERVALS))}, "
            f"got {props.max_aggregation_interval}"
        )
    if not props.kms_key_arn:
        problems.append("kms_key_arn is required (log groups are encrypted with a customer key)")
    if problems:
        raise ValueError(f"{id_}: " + "; ".join(problems))
