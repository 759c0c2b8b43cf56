"""A security group for a workload that only calls out: nothing in, and out only on one port to the VPC's own
range (interface endpoints, internal load balancers) and, optionally, to S3 through its gateway endpoint.

Why: the SageMaker endpoint's network interfaces and the API's VPC link never accept connections; what they
may reach is the whole of their attack surface, so it is written down here, port by port. The rules themselves
are the one egress rule of `aws_api_egress.py`, under the ids this construct has always given them.
"""

from __future__ import annotations

from dataclasses import dataclass

from constructs import Construct

from modules import aws
from modules.constructs.aws_api_egress import (
    S3_GATEWAY,
    VPC_ENDPOINTS,
    allow_https_to_aws_apis,
    aws_api_egress_problems,
)
from modules.limits import HTTPS_PORT


@dataclass(frozen=True, kw_only=True)
class EgressSecurityGroupProps:
    """Where the group lives and the one port it may call."""

    name: str  # security group name
    description: str  # what the group is for (shown in the console)
    vpc_id: str
    vpc_cidr: str  # the VPC's own range: the only IPv4 destination besides S3
    port: int = HTTPS_PORT  # TCP port on the VPC's range (S3 is always HTTPS)
    s3_prefix_list_region: str | None = None  # region of the S3 gateway endpoint to reach (prefix list); None: no S3


class EgressSecurityGroup(Construct):
    """Exposes `security_group`, `id`."""

    def __init__(self, scope: Construct, id_: str, *, props: EgressSecurityGroupProps) -> None:
        super().__init__(scope, id_)
        problems = aws_api_egress_problems(props.vpc_cidr, props.port)
        if problems:
            raise ValueError(f"{id_}: " + "; ".join(problems))
        self.security_group = aws.security_group.SecurityGroup(
            self, "security-group", name=props.name, vpc_id=props.vpc_id, description=props.description
        )
        self.id = self.security_group.id
        s3 = None
        if props.s3_prefix_list_region:
            s3 = aws.data_aws_prefix_list.DataAwsPrefixList(
                self, "s3-prefix-list", name=f"com.amazonaws.{props.s3_prefix_list_region}.s3"
            )
        # The ids and texts this construct's rules were deployed with: new ones would replace or update them.
        allow_https_to_aws_apis(
            self,
            "to",
            security_group_id=self.id,
            vpc_cidr=props.vpc_cidr,
            vpc_port=props.port,
            s3_prefix_list_id=s3.id if s3 else None,
            rule_ids={VPC_ENDPOINTS: "to-vpc", S3_GATEWAY: "to-s3"},
            descriptions={
                VPC_ENDPOINTS: f"TCP {props.port} to the VPC CIDR only",
                S3_GATEWAY: "HTTPS to S3 through the gateway endpoint",
            },
        )
