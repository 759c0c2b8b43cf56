import pytest

from modules.constructs.vpc_endpoints import VpcEndpoints, VpcEndpointsProps
from modules.limits import INTERFACE_ENDPOINT_SERVICES
from tests.constructs.helpers import only, synth_with


def _endpoints(stack, **overrides):
    props = {
        "name": "net",
        "vpc_id": "vpc-1",
        "vpc_cidr": "10.0.0.0/16",
        "region": "eu-west-1",
        "private_subnet_ids": ("subnet-a", "subnet-b"),
        "private_route_table_ids": ("rtb-a", "rtb-b"),
        **overrides,
    }
    return VpcEndpoints(stack, "endpoints", props=VpcEndpointsProps(**props))


@pytest.fixture(scope="module")
def default_endpoints():
    return synth_with(_endpoints)


def test_the_security_group_admits_only_https_from_the_vpc_and_has_no_egress(default_endpoints):
    group = only(default_endpoints, "aws_security_group")
    assert "ingress" not in group and "egress" not in group
    rule = only(default_endpoints, "aws_vpc_security_group_ingress_rule")
    assert (rule["cidr_ipv4"], rule["ip_protocol"], rule["from_port"], rule["to_port"]) == (
        "10.0.0.0/16",
        "tcp",
        443,
        443,
    )
    assert rule["description"]


def test_s3_is_a_gateway_endpoint_on_the_private_route_tables(default_endpoints):
    endpoints = default_endpoints["resource"]["aws_vpc_endpoint"].values()
    s3 = next(e for e in endpoints if e["service_name"] == "com.amazonaws.eu-west-1.s3")
    assert s3["vpc_endpoint_type"] == "Gateway" and s3["route_table_ids"] == ["rtb-a", "rtb-b"]


def test_every_interface_endpoint_sits_in_the_private_subnets_with_private_dns(default_endpoints):
    interfaces = [
        e for e in default_endpoints["resource"]["aws_vpc_endpoint"].values() if e["vpc_endpoint_type"] == "Interface"
    ]
    assert sorted(e["service_name"].removeprefix("com.amazonaws.eu-west-1.") for e in interfaces) == sorted(
        INTERFACE_ENDPOINT_SERVICES
    )
    for endpoint in interfaces:
        assert endpoint["subnet_ids"] == ["subnet-a", "subnet-b"] and endpoint["private_dns_enabled"] is True
        assert len(endpoint["security_group_ids"]) == 1


def test_endpoints_can_be_turned_off_while_the_security_group_stays():
    doc = synth_with(lambda s: _endpoints(s, s3_gateway=False, interface_services=()))
    assert "aws_vpc_endpoint" not in doc["resource"]
    only(doc, "aws_security_group")


def test_every_bad_endpoint_setting_is_named_in_one_error():
    with pytest.raises(ValueError) as error:
        synth_with(
            lambda s: _endpoints(
                s, vpc_cidr="0.0.0.0/0", interface_services=("ec2",), private_subnet_ids=(), private_route_table_ids=()
            )
        )
    message = str(error.value)
    for part in (
        "interface_services: unknown ec2; allowed: ecr.api",
        "private_subnet_ids are required",
        "private_route_table_ids are required",
        "never the whole internet",
    ):
        assert part in message
