"""The role a SageMaker model runs as, granted exactly what hosting needs and nothing else.

Why not AmazonSageMakerFullAccess (what terraform-aws-modules ships): it reads every bucket and image in the
account. This role reads the versions of one model and one repository, writes one log group, one metrics
namespace and the output prefixes it is given, publishes to the topics it is given, describes only the alarms an
update rolls back on, uses only the named keys and manages network interfaces only in the endpoint's VPC.

Why the model's prefix (models/<model name>/*) and not the one current object: the role is shared by every
model of the endpoint, and during a blue/green update or an automatic rollback instances of the PREVIOUS
configuration may start (scale-out while traffic shifts, the old fleet brought back): they download the previous
version. A role reading only the current object would leave them unable to start exactly when the endpoint needs
them; a role listing "current and previous" would change its policy with every release (the release plan would
carry an IAM change, applied before the endpoint update, and a rollback beyond one version would still fail).
The prefix holds only artifacts of this model, written once each (the release tool refuses to overwrite a
version), so the extra reach is other versions of the same model.
"""

from __future__ import annotations

from dataclasses import dataclass

from constructs import Construct

from modules import aws
from modules.constructs.policy_statements import Condition, policy_document, statement
from modules.constructs.service_roles import assume_role_policy

SAGEMAKER_SERVICE = "sagemaker.amazonaws.com"
LOG_GROUP_PREFIX = "/aws/sagemaker/Endpoints/"
METRICS_NAMESPACE = "/aws/sagemaker/Endpoints"  # instance metrics of endpoints


@dataclass(frozen=True, kw_only=True)
class SagemakerExecutionRoleProps:
    """Every ARN the model may touch; each grant is scoped to exactly these."""

    role_name: str  # IAM role name
    account_id: str  # confused-deputy guard in the trust policy; ARNs of the log group and network interfaces
    partition: str = "aws"
    region: str  # region of the log group and network interfaces
    endpoint_name: str  # the model writes to /aws/sagemaker/Endpoints/<endpoint_name>
    artifact_prefix_arn: str  # arn:aws:s3:::<artifacts bucket>/models/<model name>/*: s3:GetObject only
    repository_arn: str  # the ECR repository of the image: pull only
    decrypt_key_arns: tuple[str, ...] = ()  # keys of what it reads: the artifact bucket's (and a topic's, to publish)
    encrypt_key_arns: tuple[str, ...] = ()  # keys of what it writes: output buckets, notification topics
    volume_key_arn: str | None = None  # the endpoint configuration's volume key: granted to EC2/EBS only
    read_prefix_arns: tuple[str, ...] = ()  # arn:aws:s3:::<bucket>/<prefix>/*: async inputs (InputLocation)
    write_prefix_arns: tuple[str, ...] = ()  # arn:aws:s3:::<bucket>/<prefix>/*: data capture, async output
    publish_topic_arns: tuple[str, ...] = ()  # async success/error notifications
    vpc_id: str | None = None  # the endpoint's VPC: network-interface management is limited to it
    rollback_alarm_arns: tuple[str, ...] = ()  # alarms an update rolls back on: SageMaker describes them as the role


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
        statement("ReadModelVersions", ["s3:GetObject"], [props.artifact_prefix_arn]),
        statement("PullInferenceImage", ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer",
                                         "ecr:BatchCheckLayerAvailability"], [props.repository_arn]),
        # ecr:GetAuthorizationToken has no resource-level permissions: AWS only accepts "*" here. The token alone
        # reads nothing; the pull actions above stay limited to the one repository.
        statement("EcrAuthorizationToken", ["ecr:GetAuthorizationToken"], ["*"]),
        # The action list of AWS's "CreateModel API: Execution Role Permissions"
        # (https://docs.aws.amazon.com/sagemaker/latest/dg/sagemaker-roles.html#sagemaker-roles-createmodel-perms),
        # on the endpoint's own group only. CreateLogGroup stays although the stack creates the group (with
        # retention and key): AWS documents it for the role and says nothing of a hosting agent that tolerates a
        # denial; on this one name it can at most recreate our own group.
        statement("WriteEndpointLogs", ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents",
                                        "logs:DescribeLogStreams"],
                  # ":*" covers the streams and the ":*"-suffixed form of the group's own ARN.
                  [log_group, f"{log_group}:*"]),
        # PutMetricData has no resource-level permissions ("*" only); the namespace condition keeps it to the
        # instance metrics SageMaker publishes for endpoints (CPU, memory, disk, GPU: "/aws/sagemaker/Endpoints",
        # https://docs.aws.amazon.com/sagemaker/latest/dg/monitoring-cloudwatch.html). The invocation metrics
        # are published by the service itself under AWS/SageMaker, a namespace no caller may write to.
        statement("PublishEndpointMetrics", ["cloudwatch:PutMetricData"], ["*"],
                  conditions=(Condition("StringEquals", "cloudwatch:namespace", (METRICS_NAMESPACE,)),)),
    ]
    # Each key only for what the role does with it (tools/access_check proves these suffice): reading the artifact
    # decrypts, writing captured data or a notification generates a data key, and the volume key is handed to
    # EC2/EBS as a grant for AWS resources only.
    if props.decrypt_key_arns:
        statements.append(statement("DecryptInputs", ["kms:Decrypt"], list(props.decrypt_key_arns)))
    if props.encrypt_key_arns:
        statements.append(statement("EncryptOutputs", ["kms:GenerateDataKey"], list(props.encrypt_key_arns)))
    if props.volume_key_arn:
        statements.append(statement("GrantVolumeKeyToAwsResources", ["kms:CreateGrant"], [props.volume_key_arn],
                                    conditions=(Condition("Bool", "kms:GrantIsForAWSResource", ("true",)),)))
    if props.read_prefix_arns:
        statements.append(statement("ReadInputs", ["s3:GetObject"], list(props.read_prefix_arns)))
    if props.write_prefix_arns:
        statements.append(statement("WriteOutputs", ["s3:PutObject"], list(props.write_prefix_arns)))
    if props.publish_topic_arns:
        statements.append(statement("PublishNotifications", ["sns:Publish"], list(props.publish_topic_arns)))
    if props.rollback_alarm_arns:
        # "Ensure that your IAM execution role has permission to perform the cloudwatch:DescribeAlarms action on
        # the auto-rollback alarms you specify" (deployment-guardrails-configuration.html).
        statements.append(statement("WatchRollbackAlarms", ["cloudwatch:DescribeAlarms"],
                                    list(props.rollback_alarm_arns)))
    if props.vpc_id:
        statements += _network_interface_statements(props)
    return statements


def _network_interface_statements(props: SagemakerExecutionRoleProps) -> list:
    """The EC2 calls of AWS's list for a model in a VPC
    (https://docs.aws.amazon.com/sagemaker/latest/dg/host-vpc.html), one statement per resource type.

    Why split: a statement only matches a request if its condition keys are present for the resource being
    authorized. Per the service authorization reference for EC2
    (https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonec2.html):
    - CreateNetworkInterface is authorized on the subnet and the security groups, which carry ec2:Vpc, AND on
      the new network-interface, which carries only aws:RequestTag/*, aws:TagKeys and ec2:NetworkInterfaceID
      (no ec2:Vpc, no ec2:Subnet: the interface does not exist yet);
    - CreateNetworkInterfacePermission, DeleteNetworkInterface and DeleteNetworkInterfacePermission are
      authorized on the existing network-interface only, which does carry ec2:Vpc and ec2:Subnet.
    A single statement conditioned on ec2:Vpc never matches the new interface, so CreateNetworkInterface was
    implicitly denied and CreateEndpoint failed.
    """
    ec2 = f"arn:{props.partition}:ec2:{props.region}:{props.account_id}"
    in_vpc = (Condition("ArnEquals", "ec2:Vpc", (f"{ec2}:vpc/{props.vpc_id}",)),)
    return [
        # Describe calls have no resource-level permissions: AWS only accepts "*".
        statement("DescribeNetwork", [
            "ec2:DescribeVpcs", "ec2:DescribeDhcpOptions", "ec2:DescribeSubnets", "ec2:DescribeSecurityGroups",
            "ec2:DescribeNetworkInterfaces"], ["*"]),
        statement("CreateNetworkInterfacesInEndpointVpc", ["ec2:CreateNetworkInterface"],
                  [f"{ec2}:subnet/*", f"{ec2}:security-group/*"], conditions=in_vpc),
        # The new interface itself carries no key that could name the VPC, and its id is not known before it
        # exists. This leaves nothing open: the same request is also authorized on its subnet and its security
        # groups (statement above), so an interface can only be created in the endpoint's VPC.
        statement("CreateNetworkInterfaceResource", ["ec2:CreateNetworkInterface"], [f"{ec2}:network-interface/*"]),
        statement("ManageEndpointNetworkInterfaces",
                  ["ec2:CreateNetworkInterfacePermission", "ec2:DeleteNetworkInterface",
                   "ec2:DeleteNetworkInterfacePermission"],
                  [f"{ec2}:network-interface/*"], conditions=in_vpc),
    ]


def _validate(id_: str, props: SagemakerExecutionRoleProps) -> None:
    problems = []
    for name in ("role_name", "account_id", "region", "endpoint_name", "artifact_prefix_arn", "repository_arn"):
        if not getattr(props, name):
            problems.append(f"{name} is required")
    if props.artifact_prefix_arn and not _is_prefix(props.artifact_prefix_arn):
        problems.append(f"artifact_prefix_arn: {props.artifact_prefix_arn!r} must be <bucket ARN>/models/<model name>/* "
                        "(one model's versions, not a whole bucket)")
    for field in ("read_prefix_arns", "write_prefix_arns"):
        problems += [f"{field}: {prefix!r} must be <bucket ARN>/<prefix>/* (not a whole bucket)"
                     for prefix in getattr(props, field) if not _is_prefix(prefix)]
    problems += [f"rollback_alarm_arns: {arn!r} has a wildcard: the role describes exactly the rollback alarms"
                 for arn in props.rollback_alarm_arns if "*" in arn]
    if problems:
        raise ValueError(f"{id_}: " + "; ".join(problems))


def _is_prefix(arn: str) -> bool:
    """<bucket ARN>/<prefix>/*: objects under a prefix, never a whole bucket."""
    return arn.endswith("/*") and not arn.endswith(":::*") and "/" in arn.removesuffix("/*")
