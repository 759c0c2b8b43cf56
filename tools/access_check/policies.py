"""Every policy the stacks attach, found by what it applies to: identity policies by role, resource policies
(bucket, queue, topic, KMS key, Lambda function, role trust, ECR repository) by the resource's ARN.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tools.access_check import documents
from tools.access_check.inventory import Inventory
from tools.access_check.stacks import Block, InputError


@dataclass(frozen=True)
class Policy:
    """One policy document; `id` is unique in a run and `label` says where it comes from (construct path)."""

    id: str
    label: str
    kind: str  # "identity" or "resource"
    document: dict[str, Any]


class Policies:
    def __init__(self, inventory: Inventory) -> None:
        self.inventory = inventory
        self._identity: dict[str, list[Policy]] = {}
        self._resource: dict[str, Policy] = {}
        self._collect_identity()
        self._collect_resource()

    @property
    def all(self) -> list[Policy]:
        seen = {policy.id: policy for policies in self._identity.values() for policy in policies}
        seen.update({policy.id: policy for key, policy in self._resource.items() if not key.startswith("vpce:")})
        return list(seen.values())

    def identity(self, role_arn: str) -> list[Policy]:
        return self._identity.get(role_arn, [])

    def endpoint(self, endpoint_id: str) -> Policy | None:
        """The policy of a VPC endpoint (none: the default policy, which allows everything)."""
        return self._resource.get(f"vpce:{endpoint_id}")

    def resource(self, action: str, resource_arn: str) -> Policy | None:
        """The resource-based policy AWS consults for `action` on `resource_arn`, if the resource has one."""
        # A role's trust policy decides who may assume it and who may tag the session (EKS Pod Identity, EKS).
        if action.lower() in ("sts:assumerole", "sts:tagsession"):
            return self._resource.get(f"trust:{resource_arn}")
        if resource_arn.startswith(f"arn:{self.inventory.partition}:s3:::"):
            bucket = resource_arn.split(":::", 1)[1].split("/", 1)[0]
            return self._resource.get(f"bucket:{bucket}")
        if ":lambda:" in resource_arn:
            return self._resource.get(":".join(resource_arn.split(":")[:7]))
        return self._resource.get(resource_arn)

    # --- identity ----------------------------------------------------------------------------------------

    def _collect_identity(self) -> None:
        inventory = self.inventory
        self.aws_managed: list[tuple[str, str]] = []  # (role ARN, AWS managed policy ARN), not evaluated
        for role in inventory.blocks("aws_iam_role"):
            arn = inventory.attr(role, "arn")
            policies = self._identity.setdefault(arn, [])
            for index, inline in enumerate(inventory.arg(role, "inline_policy") or []):
                if inline.get("policy"):
                    policies.append(
                        self._document(
                            f"{role.path}/inline/{inline.get('name', index)}", "identity", inline["policy"], role
                        )
                    )
            for managed in inventory.arg(role, "managed_policy_arns") or []:
                policies.append(self._managed(managed, role))
        for attached in inventory.blocks("aws_iam_role_policy"):
            role = self._role(inventory.arg(attached, "role"), attached)
            self._identity[inventory.attr(role, "arn")].append(
                self._document(attached.path, "identity", inventory.arg(attached, "policy"), attached)
            )
        for attachment in inventory.blocks("aws_iam_role_policy_attachment"):
            role = self._role(inventory.arg(attachment, "role"), attachment)
            policy_arn = str(inventory.arg(attachment, "policy_arn"))
            if policy_arn.startswith(f"arn:{inventory.partition}:iam::aws:policy/"):
                # An AWS managed policy (the EKS cluster and node roles'): AWS maintains its content, which is not
                # in the stacks. Leaving it out can only make the gate deny more, never allow more.
                self.aws_managed.append((inventory.attr(role, "arn"), policy_arn))
                continue
            self._identity[inventory.attr(role, "arn")].append(self._managed(policy_arn, attachment))

    def _role(self, name: str, where: Block) -> Block:
        role = self.inventory.find("aws_iam_role", str(name))
        if role is None:
            raise InputError(f"{where}: role {name} is not defined in the stacks")
        return role

    def _managed(self, arn: str, where: Block) -> Policy:
        for block in self.inventory.blocks("aws_iam_policy"):
            if self.inventory.attr(block, "arn") == arn:
                return self._document(block.path, "identity", self.inventory.arg(block, "policy"), block)
        raise InputError(f"{where}: managed policy {arn} is not in the stacks, so its content is unknown offline")

    # --- resource ----------------------------------------------------------------------------------------

    def _collect_resource(self) -> None:
        inventory = self.inventory
        for role in inventory.blocks("aws_iam_role"):
            self._add(f"trust:{inventory.attr(role, 'arn')}", role, "assume_role_policy", "trust policy")
        for bucket in inventory.blocks("aws_s3_bucket"):
            if inventory.arg(bucket, "policy"):
                self._add(f"bucket:{inventory.attr(bucket, 'bucket')}", bucket, "policy", "bucket policy")
        for block in inventory.blocks("aws_s3_bucket_policy"):
            self._add(f"bucket:{inventory.arg(block, 'bucket')}", block, "policy", "bucket policy")
        for queue in inventory.blocks("aws_sqs_queue"):
            if inventory.arg(queue, "policy"):
                self._add(inventory.attr(queue, "arn"), queue, "policy", "queue policy")
        for block in inventory.blocks("aws_sqs_queue_policy"):
            self._add(inventory.queue_arn(inventory.arg(block, "queue_url")), block, "policy", "queue policy")
        for topic in inventory.blocks("aws_sns_topic"):
            if inventory.arg(topic, "policy"):
                self._add(inventory.attr(topic, "arn"), topic, "policy", "topic policy")
        for block in inventory.blocks("aws_sns_topic_policy"):
            self._add(inventory.arg(block, "arn"), block, "policy", "topic policy")
        for key in inventory.blocks("aws_kms_key"):
            arn = inventory.attr(key, "arn")
            if inventory.arg(key, "policy"):
                self._add(arn, key, "policy", "key policy")
            else:
                self._resource[arn] = Policy(
                    f"{key.path} (key policy)",
                    f"{key.path} (default key policy)",
                    "resource",
                    self._default_key_policy(),
                )
        for block in inventory.blocks("aws_kms_key_policy"):
            self._add(inventory.key_arn(inventory.arg(block, "key_id")), block, "policy", "key policy")
        for block in inventory.blocks("aws_ecr_repository_policy"):
            repository = inventory.find("aws_ecr_repository", str(inventory.arg(block, "repository")))
            if repository is not None:
                self._add(inventory.attr(repository, "arn"), block, "policy", "repository policy")
        for endpoint in inventory.blocks("aws_vpc_endpoint"):
            if inventory.arg(endpoint, "policy"):
                self._add(f"vpce:{inventory.attr(endpoint, 'id')}", endpoint, "policy", "endpoint policy")
        for block in inventory.blocks("aws_vpc_endpoint_policy"):
            self._add(f"vpce:{inventory.arg(block, 'vpc_endpoint_id')}", block, "policy", "endpoint policy")
        self._collect_lambda_permissions()

    def _collect_lambda_permissions(self) -> None:
        inventory = self.inventory
        statements: dict[str, list[dict[str, Any]]] = {}
        labels: dict[str, str] = {}
        for block in inventory.blocks("aws_lambda_permission"):
            named = str(inventory.arg(block, "function_name"))
            function = inventory.find("aws_lambda_function", named.split(":function:")[-1].split(":")[0])
            if function is None:
                raise InputError(f"{block}: function {named} is not defined in the stacks")
            arn = inventory.attr(function, "arn")
            statements.setdefault(arn, []).append(documents.lambda_permission_statement(inventory.resolver, block, arn))
            labels[arn] = f"{function.path} (function policy from aws_lambda_permission)"
        for arn, items in statements.items():
            self._resource[arn] = Policy(
                labels[arn], labels[arn], "resource", {"Version": documents.VERSION, "Statement": items}
            )

    def _add(self, key: str, block: Block, argument: str, what: str) -> None:
        self._resource[key] = self._document(
            f"{block.path} ({what})", "resource", self.inventory.arg(block, argument), block
        )

    def _document(self, label: str, kind: str, policy: Any, block: Block) -> Policy:
        return Policy(label, label, kind, documents.parse(policy, str(block)))

    def _default_key_policy(self) -> dict[str, Any]:
        # https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html
        root = f"arn:{self.inventory.partition}:iam::{self.inventory.account}:root"
        return {
            "Version": documents.VERSION,
            "Statement": [
                {
                    "Sid": "Enable IAM User Permissions",
                    "Effect": "Allow",
                    "Principal": {"AWS": root},
                    "Action": "kms:*",
                    "Resource": "*",
                }
            ],
        }
