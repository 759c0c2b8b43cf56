"""The role a SageMaker model runs as, granted exactly what hosting needs and nothing else.

Why not AmazonSageMakerFullAccess (what terraform-aws-modules ships): it reads every bucket and image in the
account. This role reads one artifact object and one repository, writes one log group and the output prefixes
it is given, publishes to the topics it is given and uses only the named keys.
"""

from __future__ import annotations

from dataclasses import dataclass

from constructs import Construct

from modules import aws
from modules.constructs.policy_statements import Condition, policy_document, statement
from modules.constructs.service_roles import assume_role_policy

SAGEMAKER_SERVICE = "sagemaker.amazonaws.com"
LOG_GROUP_PREFIX = "/aws/sagemaker/Endpoints/"


@dataclass(frozen=True, kw_only=True)
class SagemakerExecutionRoleProps:
    """Every ARN the model may touch; each grant is scoped to exactly these."""

    role_name: str  # IAM role name
    account_id: str  # confused-deputy guard in the trust policy; ARNs of the log group and network interfaces
    partition: str = "aws"
    region: str  # region of the log group and network interfaces
    endpoint_name: str  # the model writes to /aws/sagemaker/Endpoints/<endpoint_name>
    artifact_object_arn: str  # arn:aws:s3:::<artifacts bucket>/<key of model.tar.gz>: s3:GetObject only
    repository_arn: str  # the ECR repository of the image: pull only
    kms_key_arns: tuple[str, ...] = ()  # keys of the artifact bucket, output buckets, topics and volume
    write_prefix_arns: tuple[str, ...] = ()  # arn:aws:s3:::<bucket>/<prefix>/*: data capture, async output
    publish_topic_arns: tuple[str, ...] = ()  # async success/error notifications
    vpc_id: str | None = None  # the endpoint's VPC: network-interface management is limited to it


class SagemakerExecutionRole(Construct):
    """Exposes `role`, `policy` (models should depend on it: SageMaker checks access at creation), `arn`, `name`."""

    def __init__(self, scope: Construct, id_: str, *, props: SagemakerExecutionRoleProps) -> None:
        super().__init__(scope, id_)
        _validate(id_, props)
        self.role = aws.iam_role.IamRole(
            self, "role", name=props.role_name,
            description=f"SageMaker hosting of {props.endpoint_name}",
            assume_role_policy=assume_role_policy(SAGEMAKER_SERVICE, account_id=props.account_id))
        self.arn = self.role.arn
        self.name = props.role_name
        self.policy_document = policy_document(self, "policy-document", _statements(props))
        self.policy = aws.iam_role_policy.IamRolePolicy(self, "policy", role=self.role.id, name="hosting",
                                                        policy=self.policy_document.json)


def log_group_name(endpoint_name: str) -> str:
    """Where SageMaker writes an endpoint's container logs (fixed by AWS)."""
    return f"{LOG_GROUP_PREFIX}{endpoint_name}"


def _statements(props: SagemakerExecutionRoleProps) -> list:
    arn = f"arn:{props.partition}"
    log_group = f"{arn}:logs:{props.region}:{props.account_id}:log-group:{log_group_name(props.endpoint_name)}"
    statements = [
        statement("ReadModelArtifact", ["s3:GetObject"], [props.artifact_object_arn]),
        statement("PullInferenceImage", ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer",
                                         "ecr:BatchCheckLayerAvailability"], [props.repository_arn]),
        # ecr:GetAuthorizationToken has no resource-level permissions: AWS only accepts "*" here. The token alone
        # reads nothing; the pull actions above stay limited to the one repository.
        statement("EcrAuthorizationToken", ["ecr:GetAuthorizationToken"], ["*"]),
        statement("WriteEndpointLogs", ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
                  [log_group, f"{log_group}:log-stream:*"]),
    ]
    if props.kms_key_arns:
        statements.append(statement("UseKeys", ["kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"],
                                    list(props.kms_key_arns)))
        # Volume encryption hands a grant to the EC2/EBS service; only grants for AWS resources are allowed.
        statements.append(statement("GrantKeysToAwsResources", ["kms:CreateGrant"], list(props.kms_key_arns),
                                    conditions=(Condition("Bool", "kms:GrantIsForAWSResource", ("true",)),)))
    if props.write_prefix_arns:
        statements.append(statement("WriteOutputs", ["s3:PutObject", "s3:AbortMultipartUpload"],
                                    list(props.write_prefix_arns)))
    if props.publish_topic_arns:
        statements.append(statement("PublishNotifications", ["sns:Publish"], list(props.publish_topic_arns)))
    if props.vpc_id:
        ec2 = f"{arn}:ec2:{props.region}:{props.account_id}"
        # Describe calls have no resource-level permissions: AWS only accepts "*".
        statements.append(statement("DescribeNetwork", [
            "ec2:DescribeVpcs", "ec2:DescribeDhcpOptions", "ec2:DescribeSubnets", "ec2:DescribeSecurityGroups",
            "ec2:DescribeNetworkInterfaces"], ["*"]))
        statements.append(statement(
            "ManageEndpointNetworkInterfaces",
            ["ec2:CreateNetworkInterface", "ec2:CreateNetworkInterfacePermission", "ec2:DeleteNetworkInterface",
             "ec2:DeleteNetworkInterfacePermission"],
            [f"{ec2}:network-interface/*", f"{ec2}:subnet/*", f"{ec2}:security-group/*"],
            conditions=(Condition("ArnEquals", "ec2:Vpc", (f"{ec2}:vpc/{props.vpc_id}",)),)))
    return statements


def _validate(id_: str, props: SagemakerExecutionRoleProps) -> None:
    problems = []
    for name in ("role_name", "account_id", "region", "endpoint_name", "artifact_object_arn", "repository_arn"):
        if not getattr(props, name):
            problems.append(f"{name} is required")
    if props.artifact_object_arn.endswith(("/*", "*")):
        problems.append("artifact_object_arn must name one object (no wildcard): the model reads only its artifact")
    for prefix in props.write_prefix_arns:
        if not prefix.endswith("/*") or prefix.endswith(":::*") or "/" not in prefix.rstrip("/*"):
            problems.append(f"write_prefix_arns: {prefix!r} must be <bucket ARN>/<prefix>/* (not a whole bucket)")
    if problems:
        raise ValueError(f"{id_}: " + "; ".join(problems))
