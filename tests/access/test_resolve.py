"""The resolver and the policy rendering, on small hand-written stacks: references become what AWS would see."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tools.access_check import documents
from tools.access_check.expressions import Resolver
from tools.access_check.inventory import Inventory
from tools.access_check.stacks import FAKE_ACCOUNT_ID, Block, InputError, Synthesized

PARTITION = "${data.aws_partition.partition.partition}"
ACCOUNT = "${data.aws_caller_identity.caller.account_id}"


def write_stacks(root: Path, stacks: dict[str, dict[str, Any]], account: str | None = "111111111111") -> Path:
    for name, document in stacks.items():
        provider = {"region": "eu-west-1", **({"allowed_account_ids": [account]} if account else {})}
        document = {
            "provider": {"aws": [provider]},
            "terraform": {"backend": {"local": {"path": f"state/{name}.tfstate"}}},
            **document,
        }
        document.setdefault("data", {}).update(
            {"aws_partition": {"partition": {}}, "aws_caller_identity": {"caller": {}}}
        )
        (root / name).mkdir(parents=True)
        (root / name / "cdk.tf.json").write_text(json.dumps(document))
    return root


PRODUCER = {
    "resource": {
        "aws_sqs_queue": {"work": {"name": "jobs", "kms_master_key_id": "${aws_kms_key.key.arn}"}},
        "aws_kms_key": {"key": {"description": "k"}},
        "aws_s3_bucket": {"results": {"bucket": "results-bucket"}},
    },
    "output": {
        "cross-stack-output-aws_sqs_queuework_arn": {"sensitive": True, "value": "${aws_sqs_queue.work.arn}"},
        "queue_url": {"sensitive": False, "value": "${aws_sqs_queue.work.url}"},
    },
}
CONSUMER = {
    "data": {
        "terraform_remote_state": {
            "cross-stack-reference-input-producer": {"backend": "local", "config": {"path": "state/producer.tfstate"}}
        },
        "aws_iam_policy_document": {
            "consume": {
                "statement": [
                    {
                        "sid": "Consume",
                        "effect": "Allow",
                        "actions": ["sqs:ReceiveMessage", "sqs:DeleteMessage"],
                        "resources": [
                            "${data.terraform_remote_state.cross-stack-reference-input-producer.outputs."
                            "cross-stack-output-aws_sqs_queuework_arn}"
                        ],
                    },
                    {
                        "actions": ["s3:*"],
                        "not_actions": [],
                        "effect": "Deny",
                        "principals": [{"type": "*", "identifiers": ["*"]}],
                        "resources": [f"arn:{PARTITION}:s3:::results-bucket/*"],
                        "condition": [{"test": "Bool", "variable": "aws:SecureTransport", "values": ["false"]}],
                    },
                ]
            }
        },
    },
    "resource": {
        "aws_iam_role": {
            "role": {
                "name": "consumer",
                "assume_role_policy": json.dumps(
                    {
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Action": "sts:AssumeRole",
                                "Principal": {"Service": "lambda.amazonaws.com"},
                                "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT}},
                            }
                        ]
                    }
                ),
            }
        },
        "aws_iam_role_policy": {
            "policy": {"role": "${aws_iam_role.role.id}", "policy": "${data.aws_iam_policy_document.consume.json}"}
        },
    },
}


@pytest.fixture
def stacks(tmp_path: Path) -> Synthesized:
    return Synthesized(write_stacks(tmp_path, {"producer": PRODUCER, "consumer": CONSUMER}))


def test_computed_attributes_are_built_from_arguments_the_way_aws_builds_them(stacks: Synthesized) -> None:
    resolver = Resolver(stacks)

    assert resolver.evaluate("producer", "aws_sqs_queue.work.arn") == "arn:aws:sqs:eu-west-1:111111111111:jobs"
    assert (
        resolver.evaluate("producer", "aws_sqs_queue.work.url")
        == "https://sqs.eu-west-1.amazonaws.com/111111111111/jobs"
    )
    assert resolver.evaluate("producer", "aws_s3_bucket.results.arn") == "arn:aws:s3:::results-bucket"
    assert resolver.evaluate("consumer", "aws_iam_role.role.arn") == "arn:aws:iam::111111111111:role/consumer"
    key_arn = resolver.evaluate("producer", "aws_kms_key.key.arn")
    assert key_arn.startswith("arn:aws:kms:eu-west-1:111111111111:key/")
    assert key_arn == resolver.evaluate("producer", "aws_kms_key.key.arn"), "fake ids are deterministic"


def test_a_cross_stack_value_is_the_producers_output_expression_resolved_in_the_producer(stacks: Synthesized) -> None:
    resolver = Resolver(stacks)

    value = resolver.evaluate(
        "consumer",
        "data.terraform_remote_state.cross-stack-reference-input-producer"
        ".outputs.cross-stack-output-aws_sqs_queuework_arn",
    )

    assert value == "arn:aws:sqs:eu-west-1:111111111111:jobs"
    assert stacks.producer_of("consumer", "cross-stack-reference-input-producer") == "producer"


def test_a_join_of_references_and_strings_is_evaluated_like_terraform(stacks: Synthesized) -> None:
    """An image is `join("", [<repository url>, ":<tag>"])` in the synthesized JSON."""
    resolver = Resolver(stacks)

    assert (
        resolver.evaluate("producer", 'join("", [aws_sqs_queue.work.arn, ":1.0.0"])')
        == "arn:aws:sqs:eu-west-1:111111111111:jobs:1.0.0"
    )
    assert (
        resolver.evaluate("producer", 'join("/", ["a", aws_s3_bucket.results.arn])') == "a/arn:aws:s3:::results-bucket"
    )


def test_the_account_is_the_configs_allowed_account_else_a_fixed_fake_one(tmp_path: Path) -> None:
    pinned = Synthesized(write_stacks(tmp_path / "pinned", {"producer": PRODUCER}, account="222222222222"))
    unpinned = Synthesized(write_stacks(tmp_path / "unpinned", {"producer": PRODUCER}, account=None))

    assert Resolver(pinned).evaluate("producer", "data.aws_caller_identity.caller.account_id") == "222222222222"
    assert Resolver(unpinned).evaluate("producer", "data.aws_caller_identity.caller.account_id") == FAKE_ACCOUNT_ID
    assert Resolver(unpinned).evaluate("producer", "data.aws_partition.partition.partition") == "aws"


def test_references_inside_a_json_policy_string_are_interpolated(stacks: Synthesized) -> None:
    resolver = Resolver(stacks)
    role = stacks.block("consumer", "resource", "aws_iam_role", "role")

    trust = json.loads(resolver.arg(role, "assume_role_policy"))

    assert trust["Statement"][0]["Condition"]["StringEquals"]["aws:SourceAccount"] == "111111111111"


def test_a_policy_document_renders_as_the_aws_provider_renders_it(stacks: Synthesized) -> None:
    resolver = Resolver(stacks)

    document = documents.render(resolver, stacks.block("consumer", "data", "aws_iam_policy_document", "consume"))

    consume, deny = document["Statement"]
    assert document["Version"] == "2012-10-17"
    assert consume == {
        "Sid": "Consume",
        "Effect": "Allow",
        "Action": ["sqs:ReceiveMessage", "sqs:DeleteMessage"],
        "Resource": "arn:aws:sqs:eu-west-1:111111111111:jobs",
    }
    assert deny == {
        "Effect": "Deny",
        "Action": "s3:*",
        "Principal": "*",
        "Resource": "arn:aws:s3:::results-bucket/*",
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }


def test_principals_conditions_and_negations_render_like_the_provider() -> None:
    statement = documents.render_statement(
        {
            "effect": "Allow",
            "not_actions": ["iam:*"],
            "not_resources": ["arn:aws:s3:::a", "arn:aws:s3:::b"],
            "principals": [
                {"type": "Service", "identifiers": ["sns.amazonaws.com"]},
                {"type": "AWS", "identifiers": ["arn:aws:iam::1:root", "arn:aws:iam::2:root"]},
            ],
            "condition": [
                {"test": "StringEquals", "variable": "aws:SourceAccount", "values": ["1"]},
                {"test": "StringEquals", "variable": "aws:SourceArn", "values": ["x", "y"]},
            ],
        }
    )

    assert statement == {
        "Effect": "Allow",
        "NotAction": "iam:*",
        "NotResource": ["arn:aws:s3:::b", "arn:aws:s3:::a"],
        "Principal": {"Service": "sns.amazonaws.com", "AWS": ["arn:aws:iam::2:root", "arn:aws:iam::1:root"]},
        "Condition": {"StringEquals": {"aws:SourceAccount": "1", "aws:SourceArn": ["y", "x"]}},
    }


def test_a_lambda_permission_becomes_the_statement_lambda_stores() -> None:
    class FakeResolver:
        def resolve(self, stack: str, value: Any) -> Any:
            return value

    block = Block(
        "api",
        "resource",
        "aws_lambda_permission",
        "invoke",
        {
            "action": "lambda:InvokeFunction",
            "principal": "apigateway.amazonaws.com",
            "statement_id": "api-get",
            "source_arn": "arn:aws:execute-api:eu-west-1:1:api/*/GET/v1/jobs/*",
        },
    )

    statement = documents.lambda_permission_statement(FakeResolver(), block, "arn:aws:lambda:eu-west-1:1:function:f")

    assert statement == {
        "Sid": "api-get",
        "Effect": "Allow",
        "Principal": {"Service": "apigateway.amazonaws.com"},
        "Action": "lambda:InvokeFunction",
        "Resource": "arn:aws:lambda:eu-west-1:1:function:f",
        "Condition": {"ArnLike": {"AWS:SourceArn": "arn:aws:execute-api:eu-west-1:1:api/*/GET/v1/jobs/*"}},
    }


def test_the_inventory_finds_a_queues_customer_key_from_its_arguments(stacks: Synthesized) -> None:
    inventory = Inventory(stacks)
    queue = "arn:aws:sqs:eu-west-1:111111111111:jobs"

    assert inventory.queue_key(queue) == inventory.resolver.evaluate("producer", "aws_kms_key.key.arn")
    assert inventory.queue_arn("https://sqs.eu-west-1.amazonaws.com/111111111111/jobs") == queue
    assert inventory.key_arn("alias/aws/sns") is None, "AWS-managed keys need no grant of ours"


def test_a_lookup_data_source_of_a_resource_the_stacks_create_is_that_resource(tmp_path: Path) -> None:
    producer = {
        "resource": {
            **PRODUCER["resource"],
            "aws_kms_alias": {"alias": {"name": "alias/jobs", "target_key_id": "${aws_kms_key.key.key_id}"}},
        }
    }
    consumer = {
        "data": {
            "aws_sqs_queue": {"jobs": {"name": "jobs"}},
            "aws_kms_alias": {"jobs": {"name": "alias/jobs"}},
            "aws_kms_key": {"jobs": {"key_id": "alias/jobs"}},
        }
    }
    resolver = Resolver(Synthesized(write_stacks(tmp_path, {"producer": producer, "consumer": consumer})))
    key_arn = resolver.evaluate("producer", "aws_kms_key.key.arn")

    assert resolver.evaluate("consumer", "data.aws_sqs_queue.jobs.arn") == "arn:aws:sqs:eu-west-1:111111111111:jobs"
    assert resolver.evaluate("consumer", "data.aws_kms_alias.jobs.target_key_arn") == key_arn
    assert resolver.evaluate("consumer", "data.aws_kms_key.jobs.arn") == key_arn


@pytest.mark.parametrize(
    ("expression", "words"),
    [
        ("aws_sqs_queue.missing.arn", "no aws_sqs_queue.missing"),
        ('jsonencode({"a" = 1})', "only references are supported"),
        ('join("", [upper("a")])', "join of references and strings only"),
        ("var.region", "refers to var"),
        ("aws_s3_bucket.results.website_endpoint", "don't know the value of attribute `website_endpoint`"),
    ],
)
def test_what_cannot_be_resolved_offline_is_one_line_naming_it(
    stacks: Synthesized, expression: str, words: str
) -> None:
    with pytest.raises(InputError, match=words) as raised:
        Resolver(stacks).evaluate("producer", expression)

    assert "\n" not in str(raised.value)


def test_a_document_with_duplicate_sids_is_refused_like_the_provider_refuses_it(tmp_path: Path) -> None:
    twice = {
        "data": {
            "aws_iam_policy_document": {
                "doc": {
                    "statement": [
                        {"sid": "Same", "actions": ["s3:GetObject"], "resources": ["*"]},
                        {"sid": "Same", "actions": ["s3:PutObject"], "resources": ["*"]},
                    ]
                }
            }
        }
    }
    stacks = Synthesized(write_stacks(tmp_path, {"only": twice}))

    with pytest.raises(InputError, match="duplicate Sid Same"):
        documents.render(Resolver(stacks), stacks.block("only", "data", "aws_iam_policy_document", "doc"))
