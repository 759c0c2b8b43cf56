"""The network stack's wiring in every environment: NAT per config, endpoints, flow logs, outputs, and the
attributes of docs/stack_interfaces.md (resolved through remote state when another stack uses them)."""

from __future__ import annotations

import json

import pytest

from tests.conftest import ENVIRONMENTS, PROJECT_ROOT

NAT_GATEWAYS = {"local": 0, "dev": 1, "prod": 3, "local-eks": 0}


def _network(synthesized, env) -> dict:
    return json.loads((synthesized[env] / "stacks" / "network" / "cdk.tf.json").read_text())


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_nat_gateways_follow_the_configured_mode(env, synthesized):
    doc = _network(synthesized, env)
    assert len(doc["resource"].get("aws_nat_gateway", {})) == NAT_GATEWAYS[env]


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_no_security_group_rule_admits_the_internet(env, synthesized):
    doc = _network(synthesized, env)
    for rule in doc["resource"].get("aws_vpc_security_group_ingress_rule", {}).values():
        assert rule.get("cidr_ipv4") not in ("0.0.0.0/0",) and "cidr_ipv6" not in rule
    for group in doc["resource"]["aws_security_group"].values():
        assert "ingress" not in group
    assert len(doc["resource"]["aws_default_security_group"]) == 1


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_flow_logs_are_encrypted_and_kept_for_the_configured_days(env, synthesized):
    from modules.config import load_config

    config = load_config(PROJECT_ROOT / "config" / f"{env}.toml")
    doc = _network(synthesized, env)
    group = next(iter(doc["resource"]["aws_cloudwatch_log_group"].values()))
    assert group["retention_in_days"] == (config.network.flow_logs_retention_days or config.log_retention_days)
    assert group["kms_key_id"].startswith("${aws_kms_key.")
    assert next(iter(doc["resource"]["aws_flow_log"].values()))["traffic_type"] == "ALL"


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_the_network_outputs_what_other_stacks_and_operators_need(env, synthesized):
    outputs = _network(synthesized, env)["output"]
    named = {"vpc_id", "vpc_cidr", "private_subnet_ids", "public_subnet_ids", "endpoint_security_group_id"}
    assert named <= set(outputs)
    assert all(outputs[name]["description"] for name in named)  # cross-stack-output-* ones are cdktf's own


def test_prod_spreads_subnets_over_three_zones(synthesized):
    subnets = _network(synthesized, "prod")["resource"]["aws_subnet"].values()
    assert sorted({s["availability_zone"] for s in subnets}) == ["eu-west-1a", "eu-west-1b", "eu-west-1c"]


def test_a_consumer_of_the_network_reads_it_through_the_s3_backend(tmp_path):
    """cdktf turns a use of `network.private_subnet_ids` in another stack into terraform_remote_state."""
    from cdktf import App, TerraformOutput

    from modules.config import load_config
    from modules.stacks.base import PipelineStack
    from modules.stacks.network import NetworkStack

    app = App(
        outdir=str(tmp_path), context={"excludeStackIdFromLogicalIds": "true", "allowSepCharsInLogicalIds": "true"}
    )
    config = load_config(PROJECT_ROOT / "config" / "dev.toml")
    network = NetworkStack(app, config=config)
    for attribute in ("vpc_id", "vpc_cidr", "private_subnet_ids", "public_subnet_ids", "endpoint_security_group_id"):
        assert getattr(network, attribute) is not None
    assert len(network.private_subnet_ids) == len(network.public_subnet_ids) == 2
    consumer = PipelineStack(app, "consumer", config=config)
    TerraformOutput(consumer, "subnets", value=network.private_subnet_ids)
    TerraformOutput(consumer, "group", value=network.endpoint_security_group_id)
    app.synth()
    doc = json.loads((tmp_path / "stacks" / "consumer" / "cdk.tf.json").read_text())
    remote = next(iter(doc["data"]["terraform_remote_state"].values()))
    assert remote["backend"] == "s3"
    assert remote["config"]["key"] == "inference-pipeline/dev/network.tfstate"
    assert remote["config"]["bucket"] == "inference-dev-tfstate-111111111111"
