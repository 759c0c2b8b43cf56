"""The network, storage and messaging sections: every bad value is one line naming the field and what is allowed."""

from __future__ import annotations

import pytest

from modules.config import ConfigError, load_config
from modules.config.network import NetworkConfig
from tests.conftest import PROJECT_ROOT

LOCAL = (PROJECT_ROOT / "config" / "local.toml").read_text()
PROD = (PROJECT_ROOT / "config" / "prod.toml").read_text()


def _error(tmp_path, text: str) -> str:
    path = tmp_path / "broken.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as error:
        load_config(path)
    message = str(error.value)
    assert "\n" not in message
    return message


def _network(**fields) -> str:
    body = "\n".join(f"{key} = {value}" for key, value in fields.items())
    return LOCAL.replace('[network]\ncidr = "10.10.0.0/16"\naz_count = 2\nnat = "none"', f"[network]\n{body}")


@pytest.mark.parametrize(("text", "expected"), [
    (_network(cidr='"10.10.0.0/24"'), "network.cidr: 10.10.0.0/24 is too small: a /20 subnet does not fit in a /24"),
    (_network(cidr='"10.10.0.0/21"', private_subnet_prefix_length=22),
     ("network.cidr: 10.10.0.0/21 is too small for 2 private /22 and 2 public /24 subnets (2560 addresses); "
      "use a /20 or larger")),
    (_network(cidr='"10.10.0.1/16"'), "network.cidr: '10.10.0.1/16' is not an IPv4 network"),
    (_network(cidr='"10.0.0.0/8"'), "a VPC CIDR must be /16 to /28"),
    (_network(az_count=4), "network.az_count: Input should be less than or equal to 3"),
    (_network(availability_zones='["eu-west-1a", "us-east-1b", "eu-west-1a", "eu-west-1c"]'),
     "network.availability_zones: name 2 or 3 zones, got 4"),
    (_network(availability_zones='["eu-west-1a", "us-east-1b"]'),
     "network.availability_zones: us-east-1b not in region eu-west-1"),
    (LOCAL.replace('region = "eu-west-1"', 'region = "us-west-1"').replace("az_count = 2", "az_count = 3"),
     "network.az_count: 3 AZs requested but region us-west-1 has only 2"),
    (_network(nat='"two"'), "network.nat: Input should be 'none', 'single' or 'per_az'"),
    (_network(interface_endpoints='["sqs", "ec2"]'), "network.interface_endpoints: unknown service(s) ec2"),
    (_network(flow_logs_retention_days=8), "network.flow_logs_retention_days: must be one of the CloudWatch retention"),
    (_network(private_subnet_prefix_length=26, public_subnet_prefix_length=24),
     "network.private_subnet_prefix_length: private subnets must be at least as large as public ones"),
], ids=["cidr-smaller-than-a-subnet", "cidr-too-small-for-all", "host-bits", "vpc-too-big", "too-many-azs",
        "five-zones", "zone-of-another-region", "more-azs-than-region", "unknown-nat", "unknown-endpoint",
        "retention-not-cloudwatch", "private-smaller-than-public"])
def test_a_bad_network_section_is_named(tmp_path, text, expected):
    assert expected in _error(tmp_path, text)


def _queue_section(queues: str, messaging_extra: str = "") -> str:
    head = LOCAL.split("[[messaging.queues]]")[0]
    if messaging_extra:
        head = head.replace("[messaging]\n", f"[messaging]\n{messaging_extra}\n")
    return head + queues


@pytest.mark.parametrize(("text", "expected"), [
    (_queue_section('[[messaging.queues]]\nname = "bad name"\n'),
     "messaging.queues.0.name: 'bad name': 1-80 characters of A-Za-z0-9_- with an optional '.fifo' suffix"),
    (_queue_section('[[messaging.queues]]\nname = "jobs.fifo"\n'),
     "queues: FIFO queue(s) jobs.fifo need fifo_topics = true"),
    (_queue_section('[[messaging.queues]]\nname = "a"\n[[messaging.queues]]\nname = "a"\n'),
     "queues: duplicate name(s) a"),
    (_queue_section('[[messaging.queues]]\nname = "a"\nfilter = { colour = ["red"] }\n'),
     "unknown attribute 'colour'; allowed: model, priority"),
    (_queue_section('[[messaging.queues]]\nname = "a"\nfilter = { priority = ["urgent"] }\n'),
     "priority: unknown value(s) urgent; allowed: high, normal"),
    (_queue_section('[[messaging.queues]]\nname = "a"\nreceive_wait_time_seconds = 30\n'),
     "messaging.queues.0.receive_wait_time_seconds: Input should be less than or equal to 20"),
    (_queue_section('[[messaging.queues]]\nname = "' + "q" * 70 + '"\n'),
     "messaging.queues: name(s) inference-broken-" + "q" * 70 + "-dlq longer than 80 characters"),
    (_queue_section('[[messaging.queues]]\nname = "a"\n', 'alarm_email = "not-an-address"'),
     "messaging.alarm_email: String should match pattern"),
], ids=["bad-queue-name", "fifo-queue-standard-topic", "duplicate-queue", "unknown-filter-attribute",
        "unknown-priority", "long-poll-over-20", "physical-name-too-long", "bad-email"])
def test_a_bad_messaging_section_is_named(tmp_path, text, expected):
    assert expected in _error(tmp_path, text)


def test_fifo_queues_are_accepted_with_fifo_topics(tmp_path):
    path = tmp_path / "fifo.toml"
    path.write_text(_queue_section('[[messaging.queues]]\nname = "jobs.fifo"\n', "fifo_topics = true"))
    assert load_config(path).messaging.queues[0].fifo is True


def test_production_never_force_destroys_buckets(tmp_path):
    message = _error(tmp_path, PROD.replace("[storage]\n", "[storage]\nforce_destroy = true\n"))
    assert "storage.force_destroy: must be false when production = true" in message


def test_a_bucket_name_longer_than_s3_allows_is_named(tmp_path):
    text = LOCAL.replace('project = "inference"', f'project = "{"p" * 32}"').replace(
        "[storage]\n", '[storage]\nbucket_suffix = "abcdefghijklmnopqrstuv"\n')
    assert "storage.bucket_suffix: bucket name(s)" in _error(tmp_path, text)


def test_subnets_are_carved_largest_first_without_overlap():
    plan = NetworkConfig(cidr="10.0.0.0/16", az_count=3).subnet_plan("eu-west-1")
    assert [(p.availability_zone, p.private_cidr, p.public_cidr) for p in plan] == [
        ("eu-west-1a", "10.0.0.0/20", "10.0.48.0/24"), ("eu-west-1b", "10.0.16.0/20", "10.0.49.0/24"),
        ("eu-west-1c", "10.0.32.0/20", "10.0.50.0/24")]


def test_default_zones_follow_the_region_table():
    assert NetworkConfig(az_count=2).zones("us-west-1") == ("us-west-1b", "us-west-1c")
    assert NetworkConfig(az_count=3).zones("ap-northeast-1") == ("ap-northeast-1a", "ap-northeast-1c", "ap-northeast-1d")
