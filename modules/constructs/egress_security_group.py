"""A security group for a workload that only calls out: nothing in, and out only on one port to the VPC's own
range (interface endpoints, internal load balancers) and, optionally, to S3 through its gateway endpoint.

Why: the SageMaker endpoint's network interfaces and the API's VPC link never accept connections; what they
may reach is the whole of their attack surface, so it is written down here, port by port.
"""

from __future__ import annotations

from dataclasses import dataclass

from constructs import Construct

from modules import aws


@dataclass(frozen=True, kw_only=True)
class EgressSecurityGroupProps:
    """Where the group lives and the one port it may call."""

    name: str  # security group name
    description: str  # what the group is for (shown in the console)
    vpc_id: str
    vpc_cidr: str  # the VPC's own range: the only IPv4 destination besides S3
    port: int = 443  # TCP port of the destinations
    s3_prefix_list_region: str | None = None  # region of the S3 gateway endpoint to reach (prefix list); None: no S3


class EgressSecurityGroup(Construct):
    """Exposes `security_group`, `id`."""

    def __init__(self, scope: Construct, id_: str, *, props: EgressSecurityGroupProps) -> None:
        super().__init__(scope, id_)
        problems = []
        if not 1 <= props.port <= 65535:
            problems.append(f"port must be 1-65535, got {props.port}")
        if props.vpc_cidr in ("0.0.0.0/0", "::/0"):
            problems.append("vpc_cidr must be the VPC's own range, never the whole internet")
        if problems:
            raise ValueError(f"{id_}: " + "; ".join(problems))
        self.security_group = aws.security_group.SecurityGroup(
            self, "security-group", name=props.name, vpc_id=props.vpc_id, description=props.description
        )
        self.id = self.security_group.id
        aws.vpc_security_group_egress_rule.VpcSecurityGroupEgressRule(
            self,
            "to-vpc",
            security_group_id=self.id,
            cidr_ipv4=props.vpc_cidr,
            ip_protocol="tcp",
            from_port=props.port,
            to_port=props.port,
            description=f"TCP {props.port} to the VPC CIDR only",
        )
        if props.s3_prefix_list_region:
            s3 = aws.data_aws_prefix_list.DataAwsPrefixList(
                self, "s3-prefix-list", name=f"com.amazonaws.{props.s3_prefix_list_region}.s3"
            )
            aws.vpc_security_group_egress_rule.VpcSecurityGroupEgressRule(
                self,
                "to-s3",
                security_group_id=self.id,
                prefix_list_id=s3.id,
                ip_protocol="tcp",
                from_port=443,
                to_port=443,
                description="HTTPS to S3 through the gateway endpoint",
            )
