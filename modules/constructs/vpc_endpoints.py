"""VPC endpoints: private workloads reach AWS APIs without NAT, through a security group open only to the VPC.

The S3 gateway endpoint is free and sits on the private route tables; interface endpoints (ECR, Logs, SQS, SNS,
STS, SageMaker runtime) are ENIs in the private subnets with private DNS, admitting HTTPS from the VPC CIDR only.
"""

from __future__ import annotations

from dataclasses import dataclass

from constructs import Construct

from modules import aws
from modules.limits import HTTPS_PORT, INTERFACE_ENDPOINT_SERVICES, OPTIONAL_INTERFACE_ENDPOINT_SERVICES


@dataclass(frozen=True, kw_only=True)
class VpcEndpointsProps:
    """Which endpoints, in which VPC and subnets."""

    name: str  # prefix of the security group's name
    vpc_id: str
    vpc_cidr: str  # the only source the endpoints' security group admits (on 443)
    region: str  # service names are com.amazonaws.<region>.<service>
    private_subnet_ids: tuple[str, ...] = ()  # where interface endpoints place their network interfaces
    private_route_table_ids: tuple[str, ...] = ()  # where the S3 gateway endpoint adds its route
    s3_gateway: bool = True  # S3 gateway endpoint (no hourly cost)
    interface_services: tuple[str, ...] = INTERFACE_ENDPOINT_SERVICES  # of INTERFACE_ENDPOINT_SERVICES (+ optional)


class VpcEndpoints(Construct):
    """Exposes `security_group_id`, `interface_endpoints` (service -> VpcEndpoint), `s3_gateway_endpoint`."""

    def __init__(self, scope: Construct, id_: str, *, props: VpcEndpointsProps) -> None:
        super().__init__(scope, id_)
        _validate(id_, props)
        # Always created: the interface contract exposes it, and workloads add it to reach the endpoints.
        self.security_group = aws.security_group.SecurityGroup(
            self,
            "security-group",
            name=f"{props.name}-vpc-endpoints",
            vpc_id=props.vpc_id,
            description="Interface VPC endpoints: HTTPS from inside the VPC only",
        )
        self.security_group_id = self.security_group.id
        aws.vpc_security_group_ingress_rule.VpcSecurityGroupIngressRule(
            self,
            "https-from-vpc",
            security_group_id=self.security_group_id,
            cidr_ipv4=props.vpc_cidr,
            ip_protocol="tcp",
            from_port=HTTPS_PORT,
            to_port=HTTPS_PORT,
            description="HTTPS from the VPC CIDR",
        )

        self.s3_gateway_endpoint = None
        if props.s3_gateway:
            self.s3_gateway_endpoint = aws.vpc_endpoint.VpcEndpoint(
                self,
                "s3",
                vpc_id=props.vpc_id,
                service_name=f"com.amazonaws.{props.region}.s3",
                vpc_endpoint_type="Gateway",
                route_table_ids=list(props.private_route_table_ids),
                tags={"Name": f"{props.name}-s3"},
            )
        self.interface_endpoints: dict[str, object] = {}
        for service in props.interface_services:
            self.interface_endpoints[service] = aws.vpc_endpoint.VpcEndpoint(
                self,
                service.replace(".", "-"),
                vpc_id=props.vpc_id,
                service_name=f"com.amazonaws.{props.region}.{service}",
                vpc_endpoint_type="Interface",
                subnet_ids=list(props.private_subnet_ids),
                security_group_ids=[self.security_group_id],
                private_dns_enabled=True,
                tags={"Name": f"{props.name}-{service}"},
            )


def _validate(id_: str, props: VpcEndpointsProps) -> None:
    problems = []
    allowed = INTERFACE_ENDPOINT_SERVICES + OPTIONAL_INTERFACE_ENDPOINT_SERVICES
    unknown = [s for s in props.interface_services if s not in allowed]
    if unknown:
        problems.append(f"interface_services: unknown {', '.join(unknown)}; allowed: {', '.join(allowed)}")
    if props.interface_services and not props.private_subnet_ids:
        problems.append("private_subnet_ids are required for interface endpoints")
    if props.s3_gateway and not props.private_route_table_ids:
        problems.append("private_route_table_ids are required for the S3 gateway endpoint")
    if props.vpc_cidr in ("0.0.0.0/0", "::/0"):
        problems.append("vpc_cidr must be the VPC's own range, never the whole internet")
    if problems:
        raise ValueError(f"{id_}: " + "; ".join(problems))
