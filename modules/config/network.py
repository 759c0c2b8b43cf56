"""The VPC: address range, availability zones, NAT, VPC endpoints and flow logs.

Why the subnet plan is computed here: a CIDR that cannot hold the subnets, or more AZs than the region has,
must stop synth with one line naming the field, not fail half-way through `terraform apply`.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Literal

from pydantic import Field, field_validator

from modules.config.base import RetentionDays, StrictModel
from modules.limits import (
    IAM_ROLE_NAME,
    INTERFACE_ENDPOINT_SERVICES,
    OPTIONAL_INTERFACE_ENDPOINT_SERVICES,
    VPC_FLOW_LOG_AGGREGATION_INTERVALS,
    name_problem,
)

# Availability zones a new account can use, per region (AWS's published counts). Most regions have 3;
# us-west-1 has 3 names but any one account sees only 2; ap-northeast-1's "1b" is closed to new accounts.
REGION_AZ_COUNTS: dict[str, int] = {
    "us-east-1": 6,
    "us-west-1": 2,
    "us-west-2": 4,
    "ap-northeast-2": 4,
    "ap-northeast-1": 3,
}
DEFAULT_REGION_AZ_COUNT = 3
# Letters of the default AZs where "a, b, c" is not what a new account gets.
DEFAULT_AZ_LETTERS: dict[str, str] = {"us-west-1": "bc", "ap-northeast-1": "acd"}

MIN_VPC_PREFIX, MAX_VPC_PREFIX = 16, 28  # the sizes AWS accepts for a VPC CIDR block
MAX_SUBNET_PREFIX = 28  # the smallest subnet AWS accepts


def region_az_count(region: str) -> int:
    """How many AZs REGION offers a new account."""
    return REGION_AZ_COUNTS.get(region, DEFAULT_REGION_AZ_COUNT)


@dataclass(frozen=True)
class SubnetPlan:
    """The two subnets of one availability zone."""

    availability_zone: str
    public_cidr: str
    private_cidr: str


class NetworkConfig(StrictModel):
    """One VPC over 2-3 AZs; private subnets for every workload, public subnets only for load balancers and NAT."""

    cidr: str = Field(default="10.0.0.0/16", description="IPv4 CIDR of the VPC (/16 to /28)")
    az_count: int = Field(default=2, ge=2, le=3, description="availability zones used when availability_zones is empty")
    availability_zones: tuple[str, ...] = Field(
        default=(), description="AZ names (e.g. eu-west-1a); empty: the region's first az_count zones"
    )
    private_subnet_prefix_length: int = Field(
        default=20, ge=16, le=MAX_SUBNET_PREFIX, description="size of each private subnet (workloads, endpoints)"
    )
    public_subnet_prefix_length: int = Field(
        default=24, ge=16, le=MAX_SUBNET_PREFIX, description="size of each public subnet (load balancers, NAT)"
    )
    nat: Literal["none", "single", "per_az"] = Field(
        default="single",
        description="NAT gateways: none (endpoints only), single (cheap), per_az (no shared AZ failure)",
    )
    s3_gateway_endpoint: bool = Field(default=True, description="S3 gateway endpoint on the private route tables")
    interface_endpoints: tuple[str, ...] = Field(
        default=INTERFACE_ENDPOINT_SERVICES,
        description="interface endpoints in the private subnets; allowed: "
        f"{', '.join(INTERFACE_ENDPOINT_SERVICES + OPTIONAL_INTERFACE_ENDPOINT_SERVICES)}",
    )
    flow_logs: bool = Field(default=True, description="VPC flow logs (all traffic) to an encrypted log group")
    flow_logs_retention_days: RetentionDays | None = Field(
        default=None, description="retention of the flow-log group; default: log_retention_days"
    )
    flow_logs_aggregation_seconds: Literal[VPC_FLOW_LOG_AGGREGATION_INTERVALS.value] = Field(  # type: ignore[valid-type]
        default=600,
        description="longest a flow is aggregated before it is recorded: 600, or 60 for faster, costlier records",
    )

    @field_validator("cidr")
    @classmethod
    def _valid_cidr(cls, value: str) -> str:
        try:
            network = ipaddress.IPv4Network(value, strict=True)
        except ValueError as exc:
            raise ValueError(
                f"{value!r} is not an IPv4 network in CIDR notation with no host bits set ({exc})"
            ) from None
        if not MIN_VPC_PREFIX <= network.prefixlen <= MAX_VPC_PREFIX:
            raise ValueError(f"{value!r}: a VPC CIDR must be /{MIN_VPC_PREFIX} to /{MAX_VPC_PREFIX}")
        return value

    @field_validator("interface_endpoints")
    @classmethod
    def _known_endpoints(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        allowed = INTERFACE_ENDPOINT_SERVICES + OPTIONAL_INTERFACE_ENDPOINT_SERVICES
        unknown = [name for name in value if name not in allowed]
        if unknown:
            raise ValueError(f"unknown service(s) {', '.join(unknown)}; allowed: {', '.join(allowed)}")
        if len(set(value)) != len(value):
            raise ValueError("each service at most once")
        return value

    def zones(self, region: str) -> tuple[str, ...]:
        """The AZ names in use: the configured ones, or the region's first `az_count`."""
        if self.availability_zones:
            return self.availability_zones
        letters = DEFAULT_AZ_LETTERS.get(region, "abcdef")
        return tuple(f"{region}{letter}" for letter in letters[: self.az_count])

    def problems(self, region: str) -> list[str]:
        """Checks that need the environment's region; each names its field and what is allowed."""
        problems = []
        zones = self.zones(region)
        available = region_az_count(region)
        if self.availability_zones:
            if not 2 <= len(zones) <= 3:
                problems.append(f"network.availability_zones: name 2 or 3 zones, got {len(zones)}")
            wrong = [zone for zone in zones if not re.fullmatch(rf"{re.escape(region)}[a-z]", zone)]
            if wrong:
                problems.append(
                    f"network.availability_zones: {', '.join(wrong)} not in region {region} "
                    f"(allowed: {region}a, {region}b, ...)"
                )
            if len(set(zones)) != len(zones):
                problems.append("network.availability_zones: each zone at most once")
        requested = len(self.availability_zones) or self.az_count
        if requested > available:
            field = "availability_zones" if self.availability_zones else "az_count"
            problems.append(f"network.{field}: {requested} AZs requested but region {region} has only {available}")
        if self.private_subnet_prefix_length > self.public_subnet_prefix_length:
            problems.append(
                "network.private_subnet_prefix_length: private subnets must be at least as large as "
                f"public ones (/{self.private_subnet_prefix_length} > /{self.public_subnet_prefix_length})"
            )
        try:
            self.subnet_plan(region)
        except ValueError as exc:
            problems.append(f"network.cidr: {exc}")
        return problems

    @staticmethod
    def flow_logs_role_name(name_prefix: str) -> str:
        """The role the flow-logs service assumes: `<project>-<environment>-vpc-flow-logs`."""
        return f"{name_prefix}-vpc-flow-logs"

    def name_problems(self, name_prefix: str) -> list[str]:
        """Names AWS would refuse as too long, each naming the settings that compose it."""
        if not self.flow_logs:
            return []
        problem = name_problem(
            IAM_ROLE_NAME,
            self.flow_logs_role_name(name_prefix),
            "flow-logs IAM role",
            "<project>-<environment>-vpc-flow-logs",
            "project, environment",
        )
        return [problem] if problem else []

    def subnet_plan(self, region: str) -> tuple[SubnetPlan, ...]:
        """Private subnets first (the larger blocks, aligned), then public; raises when the CIDR is too small."""
        zones = self.zones(region)
        vpc = ipaddress.IPv4Network(self.cidr)
        blocks = _carve(
            vpc, [self.private_subnet_prefix_length] * len(zones) + [self.public_subnet_prefix_length] * len(zones)
        )
        return tuple(
            SubnetPlan(availability_zone=zone, private_cidr=str(blocks[i]), public_cidr=str(blocks[len(zones) + i]))
            for i, zone in enumerate(zones)
        )


def _carve(vpc: ipaddress.IPv4Network, prefixes: list[int]) -> list[ipaddress.IPv4Network]:
    """Consecutive aligned blocks of the given prefix lengths (largest first keeps them aligned without gaps)."""
    count = len(prefixes) // 2
    problem = _does_not_fit(vpc, prefixes, count)
    if problem:
        raise ValueError(problem)
    blocks, cursor = [], int(vpc.network_address)
    for prefix in prefixes:
        size = 2 ** (32 - prefix)
        cursor = -(-cursor // size) * size  # align up
        blocks.append(ipaddress.IPv4Network((cursor, prefix)))
        cursor += size
    if cursor > int(vpc.broadcast_address) + 1:
        raise ValueError(f"{vpc} is too small for the subnets once aligned; use a larger CIDR")
    return blocks


def _does_not_fit(vpc: ipaddress.IPv4Network, prefixes: list[int], count: int) -> str | None:
    smaller_than_vpc = [p for p in set(prefixes) if p < vpc.prefixlen]
    if smaller_than_vpc:
        return f"{vpc} is too small: a /{min(smaller_than_vpc)} subnet does not fit in a /{vpc.prefixlen}"
    needed = sum(2 ** (32 - p) for p in prefixes)
    if needed > vpc.num_addresses:
        smallest_fitting = 32 - (needed - 1).bit_length()
        return (
            f"{vpc} is too small for {count} private /{prefixes[0]} and {count} public /{prefixes[-1]} subnets "
            f"({needed} addresses); use a /{smallest_fitting} or larger, or smaller subnet prefix lengths"
        )
    return None
