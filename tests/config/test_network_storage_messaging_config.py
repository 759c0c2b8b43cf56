"""The network, storage and messaging sections: every bad value is one line naming the field and what is allowed."""

from __future__ import annotations

import pytest

from modules.config.network import NetworkConfig
from tests.config.config_text import load_config_text, refusal, shipped_config_text

LOCAL = shipped_config_text("local")
PROD = shipped_config_text("prod")


def _error(tmp_path, text: str) -> str:
    """The one-line refusal of TEXT as broken.toml: the environment "broken" that the names in some messages carry."""
    return refusal(tmp_path, text, "broken.toml")


def _network(**fields) -> str:
    body = "\n".join(f"{key} = {value}" for key, value in fields.items())
    # The local file's own endpoint list (below the four lines replaced) gives way to the one under test.
    local = "".join(
        line
        for line in LOCAL.splitlines(keepends=True)
        if not (line.startswith("interface_endpoints = ") and "interface_endpoints" in fields)
    )
    return local.replace('[network]\ncidr = "10.10.0.0/16"\naz_count = 2\nnat = "none"', f"[network]\n{body}")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            _network(cidr='"10.10.0.0/24"'),
            "network.cidr: 10.10.0.0/24 is too small: a /20 subnet does not fit in a /24",
        ),
        (
            _network(cidr='"10.10.0.0/21"', private_subnet_prefix_length=22),
            (
                "network.cidr: 10.10.0.0/21 is too small for 2 private /22 and 2 public /24 subnets (2560 addresses); "
                "use a /20 or larger"
            ),
        ),
        (_network(cidr='"10.10.0.1/16"'), "network.cidr: '10.10.0.1/16' is not an IPv4 network"),
        (_network(cidr='"10.0.0.0/8"'), "a VPC CIDR must be /16 to /28"),
        (_network(az_count=4), "network.az_count: Input should be less than or equal to 3"),
        (
            _network(availability_zones='["eu-west-1a", "us-east-1b", "eu-west-1a", "eu-west-1c"]'),
            "network.availability_zones: name 2 or 3 zones, got 4",
        ),
        (
            _network(availability_zones='["eu-west-1a", "us-east-1b"]'),
            "network.availability_zones: us-east-1b not in region eu-west-1",
        ),
        (
            LOCAL.replace('region = "eu-west-1"', 'region = "us-west-1"').replace("az_count = 2", "az_count = 3"),
            "network.az_count: 3 AZs requested but region us-west-1 has only 2",
        ),
        (_network(nat='"two"'), "network.nat: Input should be 'none', 'single' or 'per_az'"),
        (_network(interface_endpoints='["sqs", "ec2"]'), "network.interface_endpoints: unknown service(s) ec2"),
        (
            _network(flow_logs_retention_days=8),
            "network.flow_logs_retention_days: must be one of the CloudWatch retention",
        ),
        (
            _network(private_subnet_prefix_length=26, public_subnet_prefix_length=24),
            "network.private_subnet_prefix_length: private subnets must be at least as large as public ones",
        ),
    ],
    ids=[
        "cidr-smaller-than-a-subnet",
        "cidr-too-small-for-all",
        "host-bits",
        "vpc-too-big",
        "too-many-azs",
        "five-zones",
        "zone-of-another-region",
        "more-azs-than-region",
        "unknown-nat",
        "unknown-endpoint",
        "retention-not-cloudwatch",
        "private-smaller-than-public",
    ],
)
def test_a_bad_network_section_is_named(tmp_path, text, expected):
    assert expected in _error(tmp_path, text)


def _queue_section(queues: str, messaging_extra: str = "") -> str:
    head = LOCAL.split("[[messaging.queues]]")[0]
    if messaging_extra:
        head = head.replace("[messaging]\n", f"[messaging]\n{messaging_extra}\n")
    return head + queues


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            _queue_section('[[messaging.queues]]\nname = "bad name"\n'),
            "messaging.queues.0.name: 'bad name': 1-80 characters of A-Za-z0-9_- with an optional '.fifo' suffix",
        ),
        (
            _queue_section('[[messaging.queues]]\nname = "jobs.fifo"\n'),
            "queues: FIFO queue(s) jobs.fifo need fifo_topics = true",
        ),
        (
            _queue_section('[[messaging.queues]]\nname = "a"\n[[messaging.queues]]\nname = "a"\n'),
            "queues: duplicate name(s) a",
        ),
        (
            _queue_section('[[messaging.queues]]\nname = "a"\nfilter = { colour = ["red"] }\n'),
            "unknown attribute 'colour'; allowed: model, priority",
        ),
        (
            _queue_section('[[messaging.queues]]\nname = "a"\nfilter = { priority = ["urgent"] }\n'),
            "priority: unknown value(s) urgent; allowed: high, normal",
        ),
        (
            _queue_section('[[messaging.queues]]\nname = "a"\nreceive_wait_time_seconds = 30\n'),
            "messaging.queues.0.receive_wait_time_seconds: Input should be less than or equal to 20",
        ),
        (
            _queue_section('[[messaging.queues]]\nname = "' + "q" * 70 + '"\n'),
            "project, environment, messaging.queues.0.name: dead-letter queue name 'inference-broken-"
            + "q" * 70
            + "-dlq' is 91 characters, over the 80 AWS allows",
        ),
        (
            _queue_section(
                '[[messaging.queues]]\nname = "a"\n',
                'alarm_subscriptions = [{ protocol = "email", endpoint = "not-an-address" }]',
            ),
            "messaging.alarm_subscriptions.0: endpoint: 'not-an-address' does not fit protocol 'email'; expected an e-mail",
        ),
    ],
    ids=[
        "bad-queue-name",
        "fifo-queue-standard-topic",
        "duplicate-queue",
        "unknown-filter-attribute",
        "unknown-priority",
        "long-poll-over-20",
        "physical-name-too-long",
        "bad-email",
    ],
)
def test_a_bad_messaging_section_is_named(tmp_path, text, expected):
    assert expected in _error(tmp_path, text)


def _subscriptions(entries: str) -> str:
    return LOCAL.replace("[messaging]\n", f"[messaging]\nalarm_subscriptions = [{entries}]\n", 1)


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        (
            '{ protocol = "https", endpoint = "http://hooks.example.com/alarms" }',
            "'http://hooks.example.com/alarms' does not fit protocol 'https'; expected an https:// URL",
        ),
        (
            '{ protocol = "lambda", endpoint = "arn:aws:sqs:eu-west-1:111111111111:pager" }',
            "does not fit protocol 'lambda'; expected a Lambda function ARN",
        ),
        ('{ protocol = "sqs", endpoint = "pager" }', "'pager' does not fit protocol 'sqs'; expected an SQS queue ARN"),
        (
            '{ protocol = "sqs", endpoint = "arn:aws:sqs:eu-west-1:111111111111:pager.fifo" }',
            "is a FIFO queue; SNS delivers a standard topic's messages only to standard queues",
        ),
        (
            '{ protocol = "sms", endpoint = "+15555550100" }',
            "messaging.alarm_subscriptions.0.protocol: Input should be 'email', 'https', 'lambda' or 'sqs'",
        ),
        (
            '{ protocol = "email", endpoint = "a@example.com" }, { protocol = "email", endpoint = "a@example.com" }',
            "alarm_subscriptions: listed more than once: email a@example.com",
        ),
    ],
    ids=[
        "https-needs-https",
        "lambda-needs-a-function-arn",
        "sqs-needs-an-arn",
        "no-fifo-queue",
        "unknown-protocol",
        "duplicate",
    ],
)
def test_each_alarm_subscription_endpoint_is_checked_against_its_protocol(tmp_path, entry, expected):
    assert expected in _error(tmp_path, _subscriptions(entry))


def test_every_protocol_accepts_its_endpoint(tmp_path):
    text = _subscriptions(
        '{ protocol = "email", endpoint = "oncall@example.com" }, '
        '{ protocol = "https", endpoint = "https://global.sns-api.chatbot.amazonaws.com" }, '
        '{ protocol = "lambda", endpoint = "arn:aws:lambda:eu-west-1:111111111111:function:pager" }, '
        '{ protocol = "sqs", endpoint = "arn:aws:sqs:eu-west-1:111111111111:alarms" }'
    )
    config = load_config_text(tmp_path, text, "local.toml")
    assert [s.protocol for s in config.messaging.alarm_subscriptions] == ["email", "https", "lambda", "sqs"]


def test_alarm_email_is_refused_naming_what_replaced_it(tmp_path):
    message = _error(tmp_path, LOCAL.replace("[messaging]\n", '[messaging]\nalarm_email = "oncall@example.com"\n'))
    assert (
        "messaging: alarm_email: replaced by alarm_subscriptions; write alarm_subscriptions = "
        '[{ protocol = "email", endpoint = "oncall@example.com" }]'
    ) in message


def test_production_alarms_must_reach_at_least_one_subscriber(tmp_path):
    text = "\n".join(line for line in PROD.splitlines() if not line.startswith("alarm_subscriptions"))
    assert "alarm_subscriptions" not in text
    assert "messaging.alarm_subscriptions: at least one is required when production = true" in _error(tmp_path, text)


def test_fifo_queues_are_accepted_with_fifo_topics(tmp_path):
    text = _queue_section('[[messaging.queues]]\nname = "jobs.fifo"\n', "fifo_topics = true")
    assert load_config_text(tmp_path, text, "fifo.toml").messaging.queues[0].fifo is True


def test_production_never_force_destroys_buckets(tmp_path):
    message = _error(tmp_path, PROD.replace("[storage]\n", "[storage]\nforce_destroy = true\n"))
    assert "storage.force_destroy: must be false when production = true" in message


def test_a_bucket_name_longer_than_s3_allows_is_named(tmp_path):
    text = LOCAL.replace('project = "inference"', f'project = "{"p" * 32}"').replace(
        "[storage]\n", '[storage]\nbucket_suffix = "abcdefghijklmnopqrstuv"\n'
    )
    message = _error(tmp_path, text)
    assert f"project, environment, storage.bucket_suffix: bucket names '{'p' * 32}-broken-artifacts-" in message
    assert (
        "they are <project>-<environment>-<purpose>-<storage.bucket_suffix>: shorten project, environment or "
        "storage.bucket_suffix" in message
    )


def test_subnets_are_carved_largest_first_without_overlap():
    plan = NetworkConfig(cidr="10.0.0.0/16", az_count=3).subnet_plan("eu-west-1")
    assert [(p.availability_zone, p.private_cidr, p.public_cidr) for p in plan] == [
        ("eu-west-1a", "10.0.0.0/20", "10.0.48.0/24"),
        ("eu-west-1b", "10.0.16.0/20", "10.0.49.0/24"),
        ("eu-west-1c", "10.0.32.0/20", "10.0.50.0/24"),
    ]


def test_default_zones_follow_the_region_table():
    assert NetworkConfig(az_count=2).zones("us-west-1") == ("us-west-1b", "us-west-1c")
    assert NetworkConfig(az_count=3).zones("ap-northeast-1") == (
        "ap-northeast-1a",
        "ap-northeast-1c",
        "ap-northeast-1d",
    )
