"""Attributes that AWS computes (ARNs, URLs, ids), built from a resource's arguments the way AWS builds them.

Ids that AWS invents (vpc-..., subnet-..., key ids) are fake but deterministic: derived from the stack and the
address, so a value reached through a cross-stack output equals the one reached directly.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tools.access_check.stacks import Block, InputError

if TYPE_CHECKING:
    from tools.access_check.expressions import Resolver

UNKNOWN = object()
_REQUIRED = object()

# The AWS account of Elastic Load Balancing per region (regions opened before August 2022):
# https://docs.aws.amazon.com/elasticloadbalancing/latest/application/enable-access-logging.html
ELB_ACCOUNTS = {
    "us-east-1": "127311923021",
    "us-east-2": "033677994240",
    "us-west-1": "027434742980",
    "us-west-2": "797873946194",
    "af-south-1": "098369216593",
    "ca-central-1": "985666609251",
    "eu-central-1": "054676820928",
    "eu-west-1": "156460612806",
    "eu-west-2": "652711504416",
    "eu-south-1": "635631232127",
    "eu-west-3": "009996457667",
    "eu-north-1": "897822967062",
    "ap-east-1": "754344448648",
    "ap-northeast-1": "582318560864",
    "ap-northeast-2": "600734575887",
    "ap-northeast-3": "383597477331",
    "ap-southeast-1": "114774131450",
    "ap-southeast-2": "783225319266",
    "ap-south-1": "718504428378",
    "me-south-1": "076674570225",
    "sa-east-1": "507241528517",
}


class _Context:
    """What an attribute builder may use: the resolved arguments, account, region, partition, fake ids."""

    def __init__(self, resolver: Resolver, block: Block) -> None:
        self.resolver, self.block = resolver, block
        self.account, self.region, self.partition = resolver.account, resolver.region, resolver.partition

    def arg(self, path: str, default: Any = _REQUIRED) -> Any:
        """A resolved argument; one that an ARN needs and the stack leaves to AWS (`name_prefix`) is an error."""
        value = self.resolver.arg(self.block, path, None if default is _REQUIRED else default)
        if value is None and default is _REQUIRED:
            raise InputError(f"{self.block}: `{path}` is not set (a generated name is unknown offline)")
        return value

    def attr(self, name: str) -> Any:
        return self.resolver.attribute(self.block, name)

    def digest(self, length: int) -> str:
        return hashlib.sha256(f"{self.block.stack}/{self.block.address}".encode()).hexdigest()[:length]

    def fake_id(self, prefix: str) -> str:
        return f"{prefix}-{self.digest(17)}"

    def arn(self, service: str, resource: str, *, region: bool = True, account: bool = True) -> str:
        return (
            f"arn:{self.partition}:{service}:{self.region if region else ''}:"
            f"{self.account if account else ''}:{resource}"
        )


Builder = Callable[[_Context], Any]


def _name(c: _Context) -> Any:
    return c.arg("name")


def _ec2(kind: str, prefix: str) -> dict[str, Builder]:
    return {"id": lambda c: c.fake_id(prefix), "arn": lambda c: c.arn("ec2", f"{kind}/{c.attr('id')}")}


def _lambda_arn(c: _Context) -> str:
    return c.arn("lambda", f"function:{c.arg('function_name')}")


BUILDERS: dict[str, dict[str, Builder]] = {
    "aws_s3_bucket": {
        "id": lambda c: c.arg("bucket"),
        "bucket": lambda c: c.arg("bucket"),
        "arn": lambda c: c.arn("s3", c.arg("bucket"), region=False, account=False),
        "bucket_domain_name": lambda c: f"{c.arg('bucket')}.s3.amazonaws.com",
        "bucket_regional_domain_name": lambda c: f"{c.arg('bucket')}.s3.{c.region}.amazonaws.com",
    },
    "aws_sqs_queue": {
        "arn": lambda c: c.arn("sqs", c.arg("name")),
        "url": lambda c: f"https://sqs.{c.region}.amazonaws.com/{c.account}/{c.arg('name')}",
        "id": lambda c: c.attr("url"),
    },
    "aws_sns_topic": {"arn": lambda c: c.arn("sns", c.arg("name")), "id": lambda c: c.attr("arn")},
    "aws_kms_key": {
        "key_id": lambda c: str(uuid.UUID(c.digest(32))),
        "id": lambda c: c.attr("key_id"),
        "arn": lambda c: c.arn("kms", f"key/{c.attr('key_id')}"),
    },
    "aws_kms_alias": {"arn": lambda c: c.arn("kms", c.arg("name")), "id": _name},
    "aws_iam_role": {
        "id": _name,
        "name": _name,
        "unique_id": lambda c: "AROA" + c.digest(17).upper(),
        "arn": lambda c: c.arn("iam", f"role{c.arg('path', '/')}{c.arg('name')}", region=False),
    },
    "aws_iam_policy": {
        "arn": lambda c: c.arn("iam", f"policy{c.arg('path', '/')}{c.arg('name')}", region=False),
        "id": lambda c: c.attr("arn"),
    },
    "aws_lambda_function": {
        "arn": _lambda_arn,
        "id": lambda c: c.arg("function_name"),
        "qualified_arn": lambda c: f"{_lambda_arn(c)}:$LATEST",
        "invoke_arn": lambda c: (
            f"arn:{c.partition}:apigateway:{c.region}:lambda:path/2015-03-31/functions/{_lambda_arn(c)}/invocations"
        ),
    },
    "aws_cloudwatch_log_group": {"arn": lambda c: c.arn("logs", f"log-group:{c.arg('name')}"), "id": _name},
    "aws_cloudwatch_metric_alarm": {
        "arn": lambda c: c.arn("cloudwatch", f"alarm:{c.arg('alarm_name')}"),
        "id": lambda c: c.arg("alarm_name"),
    },
    "aws_sagemaker_endpoint": {"arn": lambda c: c.arn("sagemaker", f"endpoint/{c.arg('name').lower()}"), "id": _name},
    "aws_sagemaker_endpoint_configuration": {
        "arn": lambda c: c.arn("sagemaker", f"endpoint-config/{c.arg('name').lower()}"),
        "id": _name,
    },
    "aws_sagemaker_model": {"arn": lambda c: c.arn("sagemaker", f"model/{c.arg('name').lower()}"), "id": _name},
    "aws_ecr_repository": {
        "arn": lambda c: c.arn("ecr", f"repository/{c.arg('name')}"),
        "id": _name,
        "registry_id": lambda c: c.account,
        "repository_url": lambda c: f"{c.account}.dkr.ecr.{c.region}.amazonaws.com/{c.arg('name')}",
    },
    "aws_vpc": _ec2("vpc", "vpc"),
    "aws_subnet": _ec2("subnet", "subnet"),
    "aws_security_group": _ec2("security-group", "sg"),
    "aws_route_table": _ec2("route-table", "rtb"),
    "aws_internet_gateway": _ec2("internet-gateway", "igw"),
    "aws_nat_gateway": _ec2("natgateway", "nat"),
    "aws_eip": {"id": lambda c: c.fake_id("eipalloc"), "allocation_id": lambda c: c.fake_id("eipalloc")},
    "aws_vpc_endpoint": _ec2("vpc-endpoint", "vpce"),
    "aws_flow_log": _ec2("vpc-flow-log", "fl"),
    "aws_default_security_group": _ec2("security-group", "sg"),
    "aws_apigatewayv2_api": {
        "id": lambda c: c.digest(10),
        "arn": lambda c: f"arn:{c.partition}:apigateway:{c.region}::/apis/{c.attr('id')}",
        "execution_arn": lambda c: c.arn("execute-api", c.attr("id")),
        "api_endpoint": lambda c: f"https://{c.attr('id')}.execute-api.{c.region}.amazonaws.com",
    },
    "aws_apigatewayv2_stage": {
        "id": _name,
        "invoke_url": lambda c: f"https://{c.digest(10)}.execute-api.{c.region}.amazonaws.com/{c.arg('name')}",
    },
    "aws_apigatewayv2_integration": {"id": lambda c: c.digest(7)},
    "aws_apigatewayv2_route": {"id": lambda c: c.digest(7)},
    "aws_apigatewayv2_vpc_link": {"id": lambda c: c.digest(6)},
    "aws_apigatewayv2_authorizer": {"id": lambda c: c.digest(6)},
    "aws_lb": {
        "arn": lambda c: c.arn("elasticloadbalancing", f"loadbalancer/app/{c.arg('name')}/{c.digest(16)}"),
        "arn_suffix": lambda c: f"app/{c.arg('name')}/{c.digest(16)}",
        "id": lambda c: c.attr("arn"),
        "dns_name": lambda c: f"internal-{c.arg('name')}-{c.digest(10)}.{c.region}.elb.amazonaws.com",
    },
    "aws_lb_target_group": {
        "arn": lambda c: c.arn("elasticloadbalancing", f"targetgroup/{c.arg('name')}/{c.digest(16)}"),
        "arn_suffix": lambda c: f"targetgroup/{c.arg('name')}/{c.digest(16)}",
        "id": lambda c: c.attr("arn"),
    },
    "aws_lb_listener": {
        "arn": lambda c: c.arn("elasticloadbalancing", f"listener/app/{c.digest(8)}/{c.digest(16)}"),
        "id": lambda c: c.attr("arn"),
    },
    "aws_ecs_cluster": {"arn": lambda c: c.arn("ecs", f"cluster/{c.arg('name')}"), "id": lambda c: c.attr("arn")},
    "aws_eks_cluster": {"arn": lambda c: c.arn("eks", f"cluster/{c.arg('name')}"), "id": _name},
    "aws_ecs_service": {"id": lambda c: c.arn("ecs", f"service/{c.digest(8)}/{c.arg('name')}"), "name": _name},
    "aws_ecs_task_definition": {
        "arn": lambda c: c.arn("ecs", f"task-definition/{c.arg('family')}:1"),
        "revision": lambda c: 1,
        "arn_without_revision": lambda c: c.arn("ecs", f"task-definition/{c.arg('family')}"),
    },
    "aws_appautoscaling_policy": {
        "arn": lambda c: c.arn("autoscaling", f"scalingPolicy:{c.digest(8)}:resource/{c.arg('name')}"),
    },
    "aws_appautoscaling_target": {"id": lambda c: c.arg("resource_id")},
    "aws_batch_job_queue": {
        "arn": lambda c: c.arn("batch", f"job-queue/{c.arg('name')}"),
        "id": lambda c: c.attr("arn"),
    },
    "aws_batch_job_definition": {
        "arn": lambda c: c.arn("batch", f"job-definition/{c.arg('name')}:1"),
        "revision": lambda c: 1,
        "arn_prefix": lambda c: c.arn("batch", f"job-definition/{c.arg('name')}"),
        "id": lambda c: c.attr("arn"),
    },
    # Unnamed in the stacks (the argument's name differs between provider 5 and 6): AWS's generated name, faked.
    "aws_batch_compute_environment": {
        "arn": lambda c: c.arn("batch", f"compute-environment/terraform-{c.digest(26)}"),
        "id": lambda c: c.attr("arn"),
    },
    "aws_cloudwatch_event_rule": {"arn": lambda c: c.arn("events", f"rule/{c.arg('name')}"), "id": _name},
}

DATA_BUILDERS: dict[str, dict[str, Builder]] = {
    "aws_caller_identity": {
        "account_id": lambda c: c.account,
        "id": lambda c: c.account,
        "arn": lambda c: f"arn:{c.partition}:iam::{c.account}:root",
    },
    "aws_partition": {
        "partition": lambda c: c.partition,
        "id": lambda c: c.partition,
        "dns_suffix": lambda c: "amazonaws.com",
    },
    "aws_region": {"name": lambda c: c.region, "region": lambda c: c.region, "id": lambda c: c.region},
    "aws_elb_service_account": {
        "id": lambda c: ELB_ACCOUNTS.get(c.region, "000000000000"),
        "arn": lambda c: f"arn:{c.partition}:iam::{ELB_ACCOUNTS.get(c.region, '000000000000')}:root",
    },
    "aws_ec2_managed_prefix_list": {"id": lambda c: c.fake_id("pl")},
    "aws_prefix_list": {"id": lambda c: c.fake_id("pl")},
}


# A data source that looks up a resource the stacks themselves create is that resource: matched on these arguments.
LOOKUP_ARGUMENTS = {
    "aws_s3_bucket": ("bucket",),
    "aws_sqs_queue": ("name",),
    "aws_sns_topic": ("name",),
    "aws_iam_role": ("name",),
    "aws_lambda_function": ("function_name",),
    "aws_cloudwatch_log_group": ("name",),
    "aws_ecr_repository": ("name",),
    "aws_kms_alias": ("name",),
    "aws_sagemaker_endpoint": ("name",),
    "aws_vpc": ("id", "tags"),
    "aws_subnet": ("id", "tags"),
    "aws_security_group": ("id", "name", "tags"),
}


def compute(resolver: Resolver, block: Block, name: str) -> Any:
    """The attribute as AWS would compute it, or UNKNOWN when this module has no rule for it."""
    builders = (DATA_BUILDERS if block.mode == "data" else BUILDERS).get(block.type, {})
    builder = builders.get(name)
    if builder is not None:
        return builder(_Context(resolver, block))
    if block.mode == "data" and (block.type in LOOKUP_ARGUMENTS or block.type == "aws_kms_key"):
        return _looked_up(resolver, block, name)
    return UNKNOWN


def _looked_up(resolver: Resolver, block: Block, name: str) -> Any:
    """`data.aws_x.y.attr` for an aws_x the stacks create: the attribute of that resource."""
    if block.type == "aws_kms_key":
        wanted = str(resolver.arg(block, "key_id"))
        alias = _matching(resolver, "aws_kms_alias", {"name": wanted.split(":")[-1]}) if "alias/" in wanted else None
        key = _key(resolver, str(resolver.arg(alias, "target_key_id")) if alias else wanted)
        return resolver.attribute(key, name) if key else UNKNOWN
    wanted_args = {
        argument: resolver.arg(block, argument)
        for argument in LOOKUP_ARGUMENTS[block.type]
        if resolver.arg(block, argument) is not None
    }
    resource = _matching(resolver, block.type, wanted_args) if wanted_args else None
    if resource is None:
        return UNKNOWN
    if block.type == "aws_kms_alias" and name in ("target_key_arn", "target_key_id"):
        key = _key(resolver, str(resolver.arg(resource, "target_key_id")))
        return resolver.attribute(key, {"target_key_arn": "arn", "target_key_id": "key_id"}[name]) if key else UNKNOWN
    return resolver.attribute(resource, name)


def _key(resolver: Resolver, key_id_or_arn: str) -> Block | None:
    for key in resolver.synthesized.blocks("aws_kms_key"):
        if key_id_or_arn in (resolver.attribute(key, "key_id"), resolver.attribute(key, "arn")):
            return key
    return None


def _matching(resolver: Resolver, type_: str, wanted: dict[str, Any]) -> Block | None:
    found = []
    for candidate in resolver.synthesized.blocks(type_):
        for argument, value in wanted.items():
            actual = resolver.attribute(candidate, argument) if argument == "id" else resolver.arg(candidate, argument)
            if argument == "tags" and isinstance(value, dict):
                if not isinstance(actual, dict) or any(actual.get(k) != v for k, v in value.items()):
                    break
            elif actual != value:
                break
        else:
            found.append(candidate)
    return found[0] if len(found) == 1 else None
