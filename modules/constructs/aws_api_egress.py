"""The one rule for how a private workload reaches AWS APIs: HTTPS to the VPC's own range (interface endpoints)
and to S3 through its gateway endpoint (a prefix list), or, only when compute.egress_to_internet says so, HTTPS to
the whole internet through NAT. Never both, and never 0.0.0.0/0 passed off as "the VPC".

Why one function and not a construct: the rules are created in the caller's scope under the caller's ids, so the
Lambda group (compute stack), the Fargate services, the batch groups and `EgressSecurityGroup` keep their logical
IDs and Terraform addresses, while which destinations, which port and the refusal live here once.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from constructs import Construct

from modules import aws
from modules.limits import HTTPS_PORT

WHOLE_INTERNET = ("0.0.0.0/0", "::/0")
# Destination names: the default rule ids end with them and the default descriptions show them.
INTERNET, VPC_ENDPOINTS, S3_GATEWAY = "internet", "vpc-endpoints", "s3-gateway"
_NONE: Mapping[str, str] = MappingProxyType({})


def aws_api_egress_problems(vpc_cidr: str, vpc_port: int = HTTPS_PORT) -> list[str]:
    """What a construct's validation reports about the VPC destination (one list, raised once with the rest)."""
    problems = []
    if not 1 <= vpc_port <= 65535:
        problems.append(f"port must be 1-65535, got {vpc_port}")
    if vpc_cidr in WHOLE_INTERNET:
        problems.append("vpc_cidr must be the VPC's own range, never the whole internet")
    return problems


def allow_https_to_aws_apis(
    scope: Construct,
    id_prefix: str,
    *,
    security_group_id: str,
    vpc_cidr: str,
    s3_prefix_list_id: str | None = None,
    to_internet: bool = False,
    vpc_port: int = HTTPS_PORT,
    rule_ids: Mapping[str, str] = _NONE,
    descriptions: Mapping[str, str] = _NONE,
) -> dict[str, aws.vpc_security_group_egress_rule.VpcSecurityGroupEgressRule]:
    """Egress rules of SECURITY_GROUP_ID, created as SCOPE/<ID_PREFIX>-<destination>, keyed by destination.

    TO_INTERNET: HTTPS to anywhere (the caller's configuration chose NAT). Otherwise HTTPS to VPC_CIDR (VPC_PORT:
    443 for interface endpoints, a listener's port for an internal load balancer) and, with S3_PREFIX_LIST_ID, to S3.
    RULE_IDS and DESCRIPTIONS override the id and text of a destination for callers whose rules predate this
    function: changing either would replace or update a deployed rule."""
    problems = aws_api_egress_problems(vpc_cidr, vpc_port)
    if problems:
        raise ValueError(f"{id_prefix}: " + "; ".join(problems))
    destinations: dict[str, tuple[int, dict[str, str]]] = (
        {INTERNET: (HTTPS_PORT, {"cidr_ipv4": "0.0.0.0/0"})}
        if to_internet
        else {
            VPC_ENDPOINTS: (vpc_port, {"cidr_ipv4": vpc_cidr}),
            **({S3_GATEWAY: (HTTPS_PORT, {"prefix_list_id": s3_prefix_list_id})} if s3_prefix_list_id else {}),
        }
    )
    return {
        name: aws.vpc_security_group_egress_rule.VpcSecurityGroupEgressRule(
            scope,
            rule_ids.get(name, f"{id_prefix}-{name}"),
            security_group_id=security_group_id,
            ip_protocol="tcp",
            from_port=port,
            to_port=port,
            description=descriptions.get(name, f"HTTPS to AWS APIs ({name})"),
            **destination,
        )
        for name, (port, destination) in destinations.items()
    }
