"""The deployed resources by the identifiers code and services use (bucket names, queue URLs, topic ARNs ...),
and the facts about them that change who needs what: which customer key encrypts a bucket, queue, topic or
log group.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tools.access_check.expressions import Resolver
from tools.access_check.stacks import Block, InputError, Synthesized


@dataclass(frozen=True)
class BucketEncryption:
    """A bucket's default encryption: the customer key (None for SSE-S3) and whether S3 Bucket Keys are on."""

    key_arn: str | None
    bucket_key: bool


class Inventory:
    def __init__(self, synthesized: Synthesized, resolver: Resolver | None = None) -> None:
        self.synthesized = synthesized
        self.resolver = resolver or Resolver(synthesized)
        self.account, self.region, self.partition = synthesized.account, synthesized.region, synthesized.partition
        self._by_id: dict[tuple[str, str], Block] = {}
        for type_, attributes in _IDENTIFIERS.items():
            for block in synthesized.blocks(type_):
                for attribute in attributes:
                    self._by_id[(type_, str(self.attr(block, attribute)))] = block

    # --- lookups -----------------------------------------------------------------------------------------

    def attr(self, block: Block, name: str) -> Any:
        return self.resolver.attribute(block, name)

    def arg(self, block: Block, path: str, default: Any = None) -> Any:
        return self.resolver.arg(block, path, default)

    def blocks(self, type_: str, mode: str = "resource") -> list[Block]:
        return self.synthesized.blocks(type_, mode)

    def find(self, type_: str, identifier: str) -> Block | None:
        """The `type_` resource that `identifier` names (any of its usual identifiers: name, ARN, URL, id)."""
        return self._by_id.get((type_, identifier))

    def arn(self, service: str, resource: str, *, region: bool = True, account: bool = True) -> str:
        return (
            f"arn:{self.partition}:{service}:{self.region if region else ''}:"
            f"{self.account if account else ''}:{resource}"
        )

    def queue_arn(self, queue_url: str) -> str:
        """`https://sqs.<region>.amazonaws.com/<account>/<name>` -> its ARN (what IAM authorizes)."""
        parts = queue_url.rstrip("/").split("/")
        if len(parts) < 2 or not parts[-2].isdigit():
            raise InputError(f"not an SQS queue URL: {queue_url}")
        return f"arn:{self.partition}:sqs:{self.region}:{parts[-2]}:{parts[-1]}"

    def key_arn(self, key: str | None) -> str | None:
        """A customer key given as id, ARN, alias name or alias ARN -> the key ARN; None for AWS-managed keys,
        whose key policies AWS writes and keeps open to every principal of the account through the service."""
        if not key:
            return None
        alias = key.split(":", 5)[-1] if key.startswith("arn:") and ":alias/" in key else key
        if alias.startswith("alias/"):
            if alias.startswith("alias/aws/"):
                return None
            block = self.find("aws_kms_alias", alias)
            if block is None:
                raise InputError(f"KMS alias {alias} is not defined in the stacks")
            key = str(self.arg(block, "target_key_id"))
        block = self.find("aws_kms_key", key)
        if block is None:
            raise InputError(f"KMS key {key} is not defined in the stacks")
        return str(self.attr(block, "arn"))

    # --- network -----------------------------------------------------------------------------------------

    def vpc_of_subnets(self, subnet_ids: list[str]) -> str | None:
        for subnet_id in subnet_ids:
            subnet = self.find("aws_subnet", str(subnet_id))
            if subnet is not None:
                return str(self.arg(subnet, "vpc_id"))
        return None

    def vpc_endpoint(self, vpc_id: str, service: str) -> Block | None:
        """The endpoint through which calls to `service` (s3, sns, sagemaker.runtime ...) leave `vpc_id`: a gateway
        endpoint, or an interface endpoint with private DNS (the SDK's default host then resolves to it)."""
        for endpoint in self.blocks("aws_vpc_endpoint"):
            if str(self.arg(endpoint, "vpc_id")) != vpc_id:
                continue
            if not str(self.arg(endpoint, "service_name", "")).endswith(f".{self.region}.{service}"):
                continue
            if self.arg(endpoint, "vpc_endpoint_type", "Gateway") == "Gateway" or self.arg(
                endpoint, "private_dns_enabled"
            ):
                return endpoint
        return None

    # --- encryption --------------------------------------------------------------------------------------

    def bucket_encryption(self, bucket: str) -> BucketEncryption:
        for block in self.blocks("aws_s3_bucket_server_side_encryption_configuration"):
            if self.arg(block, "bucket") != bucket:
                continue
            rules = self.arg(block, "rule") or []
            for rule in rules if isinstance(rules, list) else [rules]:
                default = rule.get("apply_server_side_encryption_by_default") or {}
                default = default[0] if isinstance(default, list) and default else default
                if str(default.get("sse_algorithm", "")).startswith("aws:kms"):
                    key = self.key_arn(default.get("kms_master_key_id") or "alias/aws/s3")
                    return BucketEncryption(key, bool(rule.get("bucket_key_enabled")))
        return BucketEncryption(None, False)

    def topic_key(self, topic_arn: str) -> str | None:
        block = self.find("aws_sns_topic", topic_arn)
        return self.key_arn(self.arg(block, "kms_master_key_id")) if block else None

    def queue_key(self, queue_arn: str) -> str | None:
        block = self.find("aws_sqs_queue", queue_arn)
        return self.key_arn(self.arg(block, "kms_master_key_id")) if block else None

    def log_group_key(self, log_group_name: str) -> str | None:
        block = self.find("aws_cloudwatch_log_group", log_group_name)
        return self.key_arn(self.arg(block, "kms_key_id")) if block else None


# Which attributes identify a resource when code or a service names it.
_IDENTIFIERS = {
    "aws_s3_bucket": ("bucket", "arn"),
    "aws_sqs_queue": ("arn", "url"),
    "aws_sns_topic": ("arn",),
    "aws_kms_key": ("arn", "key_id"),
    "aws_kms_alias": ("name",),
    "aws_cloudwatch_log_group": ("name", "arn"),
    "aws_iam_role": ("arn", "name"),
    "aws_lambda_function": ("arn", "function_name"),
    "aws_sagemaker_endpoint": ("name", "arn"),
    "aws_subnet": ("id",),
    "aws_security_group": ("id",),
    "aws_vpc": ("id",),
    "aws_ecr_repository": ("repository_url", "arn", "name"),
    "aws_apigatewayv2_integration": ("id",),
    "aws_apigatewayv2_api": ("id",),
    "aws_eks_cluster": ("name", "arn"),
    "aws_lb_target_group": ("name", "arn"),
    "aws_batch_job_queue": ("arn", "name"),
    "aws_batch_job_definition": ("arn", "name"),
    "aws_cloudwatch_event_rule": ("arn", "name"),
}
