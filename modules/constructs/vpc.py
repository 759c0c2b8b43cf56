"""A VPC over 2-3 AZs: public subnets for load balancers and NAT, private subnets for every workload.

Secure defaults: the default security group loses all its rules (nothing can use it by accident), no subnet
hands out public IPs on launch, and private subnets reach the internet only through NAT when asked for.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from constructs import Construct

from modules import aws
from modules.config.network import SubnetPlan

NAT_MODES = ("none", "single", "per_az")


@dataclass(frozen=True, kw_only=True)
class VpcProps:
    """Address plan and NAT mode of the VPC."""

    name: str  # Name tag prefix, e.g. inference-dev
    cidr: str  # IPv4 CIDR of the VPC
    subnets: tuple[SubnetPlan, ...]  # one public and one private subnet per AZ (modules.config.network.subnet_plan)
    nat: str = "single"  # none: no egress from private subnets; single: one NAT; per_az: one NAT per AZ


class Vpc(Construct):
    """Exposes `vpc`, `vpc_id`, `vpc_cidr`, `public_subnet_ids`, `private_subnet_ids`, `private_route_table_ids`."""

    def __init__(self, scope: Construct, id_: str, *, props: VpcProps) -> None:
        super().__init__(scope, id_)
        _validate(id_, props)
        self.vpc = aws.vpc.Vpc(
            self,
            "vpc",
            cidr_block=props.cidr,
            enable_dns_support=True,
            enable_dns_hostnames=True,  # interface endpoints' private DNS needs both
            tags={"Name": props.name},
        )
        self.vpc_id = self.vpc.id
        self.vpc_cidr = self.vpc.cidr_block
        # Rules removed: a resource launched without a security group gets no access instead of all-to-all.
        aws.default_security_group.DefaultSecurityGroup(
            self, "default-security-group", vpc_id=self.vpc_id, tags={"Name": f"{props.name}-default-unused"}
        )
        gateway = aws.internet_gateway.InternetGateway(
            self, "internet-gateway", vpc_id=self.vpc_id, tags={"Name": props.name}
        )
        public_routes = aws.route_table.RouteTable(
            self, "public-routes", vpc_id=self.vpc_id, tags={"Name": f"{props.name}-public"}
        )
        aws.route.Route(
            self,
            "public-default-route",
            route_table_id=public_routes.id,
            destination_cidr_block="0.0.0.0/0",
            gateway_id=gateway.id,
        )

        public, private, private_tables, nat_ids = [], [], [], []
        for index, plan in enumerate(props.subnets):
            zone = plan.availability_zone
            subnet = aws.subnet.Subnet(
                self,
                f"public-{zone}",
                vpc_id=self.vpc_id,
                cidr_block=plan.public_cidr,
                availability_zone=zone,
                map_public_ip_on_launch=False,
                tags={"Name": f"{props.name}-public-{zone}", "tier": "public"},
            )
            aws.route_table_association.RouteTableAssociation(
                self, f"public-{zone}-routes", subnet_id=subnet.id, route_table_id=public_routes.id
            )
            public.append(subnet)
            if props.nat == "per_az" or (props.nat == "single" and index == 0):
                address = aws.eip.Eip(
                    self, f"nat-{zone}-address", domain="vpc", tags={"Name": f"{props.name}-nat-{zone}"}
                )
                nat = aws.nat_gateway.NatGateway(
                    self,
                    f"nat-{zone}",
                    allocation_id=address.id,
                    subnet_id=subnet.id,
                    tags={"Name": f"{props.name}-nat-{zone}"},
                    depends_on=[gateway],
                )
                nat_ids.append(nat.id)

        for index, plan in enumerate(props.subnets):
            zone = plan.availability_zone
            subnet = aws.subnet.Subnet(
                self,
                f"private-{zone}",
                vpc_id=self.vpc_id,
                cidr_block=plan.private_cidr,
                availability_zone=zone,
                map_public_ip_on_launch=False,
                tags={"Name": f"{props.name}-private-{zone}", "tier": "private"},
            )
            table = aws.route_table.RouteTable(
                self, f"private-{zone}-routes-table", vpc_id=self.vpc_id, tags={"Name": f"{props.name}-private-{zone}"}
            )
            aws.route_table_association.RouteTableAssociation(
                self, f"private-{zone}-routes", subnet_id=subnet.id, route_table_id=table.id
            )
            if nat_ids:
                aws.route.Route(
                    self,
                    f"private-{zone}-default-route",
                    route_table_id=table.id,
                    destination_cidr_block="0.0.0.0/0",
                    nat_gateway_id=nat_ids[index if props.nat == "per_az" else 0],
                )
            private.append(subnet)
            private_tables.append(table)

        self.public_subnet_ids = [subnet.id for subnet in public]
        self.private_subnet_ids = [subnet.id for subnet in private]
        self.private_route_table_ids = [table.id for table in private_tables]


def _validate(id_: str, props: VpcProps) -> None:
    problems = []
    if props.nat not in NAT_MODES:
        problems.append(f"nat must be one of {', '.join(NAT_MODES)}, got {props.nat!r}")
    if not 2 <= len(props.subnets) <= 3:
        problems.append(f"subnets: 2 or 3 availability zones, got {len(props.subnets)}")
    try:
        vpc = ipaddress.IPv4Network(props.cidr)
    except ValueError:
        problems.append(f"cidr {props.cidr!r} is not an IPv4 network")
        vpc = None
    blocks = []
    for plan in props.subnets:
        for cidr in (plan.public_cidr, plan.private_cidr):
            block = ipaddress.IPv4Network(cidr)
            if vpc is not None and not block.subnet_of(vpc):
                problems.append(f"subnet {cidr} ({plan.availability_zone}) is outside the VPC {props.cidr}")
            if any(block.overlaps(other) for other in blocks):
                problems.append(f"subnet {cidr} ({plan.availability_zone}) overlaps another subnet")
            blocks.append(block)
    zones = [plan.availability_zone for plan in props.subnets]
    if len(set(zones)) != len(zones):
        problems.append("subnets: each availability zone at most once")
    if problems:
        raise ValueError(f"{id_}: " + "; ".join(problems))
