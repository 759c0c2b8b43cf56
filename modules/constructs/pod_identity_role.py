"""An IAM role for one Kubernetes service account, bound by an EKS Pod Identity association.

Why pod identity and not IRSA: no OIDC provider to create and no role ARN annotation on the service account; the
association (cluster, namespace, service account -> role) lives in AWS, where IAM reviewers look. The trust admits
only the EKS Pod Identity service acting for this cluster of this account (confused-deputy guard), and the role
carries exactly the statements given: nothing when there are none.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from constructs import Construct

from modules import aws
from modules.constructs.service_roles import role_with_policy

POD_IDENTITY_SERVICE = "pods.eks.amazonaws.com"
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")


@dataclass(frozen=True, kw_only=True)
class PodIdentityRoleProps:
    """Who the role is for (cluster, namespace, service account) and what its code may call."""

    role_name: str
    cluster_name: str  # the cluster resource's name attribute (orders the association after the cluster)
    cluster_arn: str  # aws:SourceArn the Pod Identity service sends
    account_id: str  # aws:SourceAccount
    namespace: str
    service_account: str
    purpose: str  # the role's description: whose calls these are
    policy_statements: tuple[Any, ...] = ()  # what the code calls; empty: a role without permissions


def pod_identity_trust(cluster_arn: str, account_id: str) -> str:
    """Trust policy of a pod identity role: the EKS Pod Identity service (AssumeRole plus TagSession, which it
    uses to attach the cluster, namespace and service account as session tags), for this cluster only."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "EksPodIdentityAssumesRole",
                    "Effect": "Allow",
                    "Principal": {"Service": POD_IDENTITY_SERVICE},
                    "Action": ["sts:AssumeRole", "sts:TagSession"],
                    "Condition": {
                        "StringEquals": {"aws:SourceAccount": account_id},
                        "ArnEquals": {"aws:SourceArn": cluster_arn},
                    },
                }
            ],
        },
        sort_keys=True,
    )


class PodIdentityRole(Construct):
    """Exposes `role`, `arn`, `association`, `policy` (None without statements)."""

    def __init__(self, scope: Construct, id_: str, *, props: PodIdentityRoleProps) -> None:
        super().__init__(scope, id_)
        problems = [
            f"{field} must be a Kubernetes name (RFC 1123 label), got {getattr(props, field)!r}"
            for field in ("namespace", "service_account")
            if not DNS_LABEL.match(getattr(props, field))
        ]
        if problems:
            raise ValueError(f"{id_}: " + "; ".join(problems))
        self.role, self.policy, _ = role_with_policy(
            self,
            "role",
            name=props.role_name,
            description=f"{props.namespace}/{props.service_account} by EKS Pod Identity: {props.purpose}",
            trust=pod_identity_trust(props.cluster_arn, props.account_id),
            statements=list(props.policy_statements),
            policy_id="policy",
            document_id="document",
        )
        self.arn = self.role.arn
        self.association = aws.eks_pod_identity_association.EksPodIdentityAssociation(
            self,
            "association",
            cluster_name=props.cluster_name,
            namespace=props.namespace,
            service_account=props.service_account,
            role_arn=self.role.arn,
        )
