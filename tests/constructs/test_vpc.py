import pytest

from modules.config.network import SubnetPlan
from modules.constructs.vpc import Vpc, VpcProps
from tests.constructs.helpers import only, synth_with

PLAN = (
    SubnetPlan(availability_zone="eu-west-1a", private_cidr="10.0.0.0/20", public_cidr="10.0.48.0/24"),
    SubnetPlan(availability_zone="eu-west-1b", private_cidr="10.0.16.0/20", public_cidr="10.0.49.0/24"),
    SubnetPlan(availability_zone="eu-west-1c", private_cidr="10.0.32.0/20", public_cidr="10.0.50.0/24"),
)


def _vpc(stack, **overrides):
    props = {"name": "net", "cidr": "10.0.0.0/16", "subnets": PLAN[:2], **overrides}
    return Vpc(stack, "vpc", props=VpcProps(**props))


@pytest.fixture(scope="module")
def default_vpc():
    return synth_with(_vpc)


def _resources(doc, kind):
    return list(doc["resource"].get(kind, {}).values())


def test_the_vpc_resolves_private_dns_for_interface_endpoints(default_vpc):
    vpc = only(default_vpc, "aws_vpc")
    assert vpc["cidr_block"] == "10.0.0.0/16"
    assert vpc["enable_dns_support"] is True and vpc["enable_dns_hostnames"] is True


def test_the_default_security_group_is_locked_down_with_no_rules(default_vpc):
    group = only(default_vpc, "aws_default_security_group")
    assert "ingress" not in group and "egress" not in group


def test_one_public_and_one_private_subnet_per_zone_and_none_assigns_public_ips(default_vpc):
    subnets = _resources(default_vpc, "aws_subnet")
    assert sorted((s["availability_zone"], s["tags"]["tier"], s["cidr_block"]) for s in subnets) == [
        ("eu-west-1a", "private", "10.0.0.0/20"),
        ("eu-west-1a", "public", "10.0.48.0/24"),
        ("eu-west-1b", "private", "10.0.16.0/20"),
        ("eu-west-1b", "public", "10.0.49.0/24"),
    ]
    assert all(s["map_public_ip_on_launch"] is False for s in subnets)


def test_a_single_nat_serves_every_private_route_table(default_vpc):
    assert len(_resources(default_vpc, "aws_nat_gateway")) == 1
    assert only(default_vpc, "aws_eip")["domain"] == "vpc"
    nat_routes = [r for r in _resources(default_vpc, "aws_route") if "nat_gateway_id" in r]
    assert len(nat_routes) == 2 and len({r["nat_gateway_id"] for r in nat_routes}) == 1


def test_per_az_nat_gives_each_zone_its_own_gateway():
    doc = synth_with(lambda s: _vpc(s, subnets=PLAN, nat="per_az"))
    assert len(_resources(doc, "aws_nat_gateway")) == 3
    nat_routes = [r for r in _resources(doc, "aws_route") if "nat_gateway_id" in r]
    assert len({r["nat_gateway_id"] for r in nat_routes}) == 3


def test_without_nat_private_subnets_have_no_default_route():
    doc = synth_with(lambda s: _vpc(s, nat="none"))
    assert "aws_nat_gateway" not in doc["resource"] and "aws_eip" not in doc["resource"]
    routes = _resources(doc, "aws_route")
    assert len(routes) == 1 and "gateway_id" in routes[0]  # only the public route to the internet gateway


def test_every_bad_address_plan_is_named_in_one_error():
    overlapping = (
        PLAN[0],
        SubnetPlan(availability_zone="eu-west-1a", private_cidr="10.0.0.0/24", public_cidr="192.168.0.0/24"),
    )
    with pytest.raises(ValueError) as error:
        synth_with(lambda s: _vpc(s, subnets=overlapping, nat="two"))
    message = str(error.value)
    for part in (
        "nat must be one of none, single, per_az, got 'two'",
        "10.0.0.0/24 (eu-west-1a) overlaps",
        "192.168.0.0/24 (eu-west-1a) is outside the VPC 10.0.0.0/16",
        "each availability zone at most once",
    ):
        assert part in message


def test_one_zone_is_refused():
    with pytest.raises(ValueError, match="2 or 3 availability zones, got 1"):
        synth_with(lambda s: _vpc(s, subnets=PLAN[:1]))
