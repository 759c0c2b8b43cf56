import pytest

from modules.constructs.egress_security_group import EgressSecurityGroup, EgressSecurityGroupProps
from tests.constructs.helpers import synth_with


def _synth(**overrides) -> dict:
    props = {"name": "sg", "description": "d", "vpc_id": "vpc-1", "vpc_cidr": "10.0.0.0/16", **overrides}
    return synth_with(lambda s: EgressSecurityGroup(s, "group", props=EgressSecurityGroupProps(**props)))


def test_nothing_comes_in_and_only_the_port_goes_out_to_the_vpc():
    resources = _synth(port=80)["resource"]
    assert "aws_vpc_security_group_ingress_rule" not in resources
    (group,) = resources["aws_security_group"].values()
    assert "ingress" not in group and "egress" not in group
    (rule,) = resources["aws_vpc_security_group_egress_rule"].values()
    assert (rule["cidr_ipv4"], rule["from_port"], rule["to_port"], rule["ip_protocol"]) == (
        "10.0.0.0/16",
        80,
        80,
        "tcp",
    )
    assert rule["description"]


def test_s3_is_reached_through_its_prefix_list_only_when_asked():
    doc = _synth(s3_prefix_list_region="eu-west-1")
    (prefix_list,) = doc["data"]["aws_prefix_list"].values()
    assert prefix_list["name"] == "com.amazonaws.eu-west-1.s3"
    rules = doc["resource"]["aws_vpc_security_group_egress_rule"].values()
    assert any("prefix_list_id" in rule and rule["from_port"] == 443 for rule in rules)


def test_the_whole_internet_as_vpc_range_is_refused():
    with pytest.raises(ValueError, match="never the whole internet"):
        _synth(vpc_cidr="0.0.0.0/0")
