"""One rule for reaching AWS APIs: HTTPS to the VPC's endpoints and the S3 gateway, or to the internet when asked."""

import pytest

from modules import aws
from modules.constructs.aws_api_egress import S3_GATEWAY, VPC_ENDPOINTS, allow_https_to_aws_apis
from tests.conftest import PROJECT_ROOT
from tests.constructs.helpers import synth_with


def _rules(**overrides) -> dict:
    def build(stack):
        group = aws.security_group.SecurityGroup(stack, "group", name="g", vpc_id="vpc-1")
        allow_https_to_aws_apis(
            stack, "worker-egress", security_group_id=group.id, **{"vpc_cidr": "10.0.0.0/16", **overrides}
        )

    return synth_with(build)["resource"]["aws_vpc_security_group_egress_rule"]


def test_without_internet_https_goes_to_the_vpc_range_and_to_s3_through_its_prefix_list():
    rules = _rules(s3_prefix_list_id="pl-s3")
    assert {
        name: (r.get("cidr_ipv4") or r["prefix_list_id"], r["from_port"], r["to_port"]) for name, r in rules.items()
    } == {
        "worker-egress-vpc-endpoints": ("10.0.0.0/16", 443, 443),
        "worker-egress-s3-gateway": ("pl-s3", 443, 443),
    }
    assert {r["description"] for r in rules.values()} == {
        "HTTPS to AWS APIs (vpc-endpoints)",
        "HTTPS to AWS APIs (s3-gateway)",
    }


def test_with_internet_the_one_rule_is_https_to_anywhere_and_the_vpc_rules_are_not_added():
    rules = _rules(s3_prefix_list_id="pl-s3", to_internet=True)
    assert list(rules) == ["worker-egress-internet"]
    assert (rules["worker-egress-internet"]["cidr_ipv4"], rules["worker-egress-internet"]["from_port"]) == (
        "0.0.0.0/0",
        443,
    )


def test_s3_is_left_out_without_a_prefix_list():
    assert list(_rules()) == ["worker-egress-vpc-endpoints"]


def test_a_caller_keeps_the_ids_and_texts_its_rules_were_deployed_with():
    rules = _rules(
        s3_prefix_list_id="pl-s3",
        vpc_port=8080,
        rule_ids={VPC_ENDPOINTS: "to-vpc", S3_GATEWAY: "to-s3"},
        descriptions={VPC_ENDPOINTS: "TCP 8080 to the VPC CIDR only"},
    )
    assert (rules["to-vpc"]["from_port"], rules["to-vpc"]["description"]) == (8080, "TCP 8080 to the VPC CIDR only")
    assert rules["to-s3"]["from_port"] == 443, "S3's gateway endpoint is only ever reached over HTTPS"


@pytest.mark.parametrize("cidr", ["0.0.0.0/0", "::/0"])
def test_the_whole_internet_passed_as_the_vpc_range_is_refused(cidr):
    with pytest.raises(ValueError, match="never the whole internet"):
        _rules(vpc_cidr=cidr)


def test_no_construct_or_stack_writes_its_own_egress_to_aws_apis():
    """Three copies of this rule had drifted apart (compute, Fargate, batch): the remaining egress rules reach the
    pipeline's own load balancers, not AWS."""
    not_aws_apis = {"application_load_balancer.py", "compute.py"}  # to the targets; to the model load balancer
    writers = {
        path.name
        for path in sorted((PROJECT_ROOT / "modules").rglob("*.py"))
        if "VpcSecurityGroupEgressRule(" in path.read_text() and path.name != "aws_api_egress.py"
    }
    assert writers == not_aws_apis
