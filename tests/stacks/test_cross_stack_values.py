"""Values passed between stacks stay visible in `terraform plan`: cdktf's default marks them sensitive, which
hides every policy built from a cross-stack ARN behind `(sensitive value)` (issue 11, defect 11)."""

from __future__ import annotations

import json

import pytest

from tests.conftest import ENVIRONMENTS, stack_dirs


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_no_stack_output_is_sensitive_so_plans_show_every_policy_in_full(env, synthesized):
    cross_stack = 0
    for stack in stack_dirs(synthesized[env]):
        outputs = json.loads((stack / "cdk.tf.json").read_text()).get("output", {})
        for name, output in outputs.items():
            assert output.get("sensitive") is not True, f"{env}/{stack.name}: output {name} is sensitive"
            cross_stack += name.startswith("cross-stack-output-")
    assert cross_stack > 0, "expected cdktf cross-stack outputs: the stacks are wired through remote state"


def test_a_non_identifier_attribute_crossing_stacks_is_refused_at_synth_and_the_previous_output_is_kept(tmp_path):
    from modules import aws
    from modules.config import load_config
    from modules.cross_stack_outputs import CrossStackValueError
    from modules.stacks.base import PipelineStack
    from modules.synth_run import synthesize
    from tests.conftest import PROJECT_ROOT

    def compose(app, config):
        producer = PipelineStack(app, "producer", config=config)
        secret = aws.ssm_parameter.SsmParameter(producer, "secret", name="token", type="SecureString", value="x")
        consumer = PipelineStack(app, "consumer", config=config)
        aws.sns_topic.SnsTopic(consumer, "topic", name="uses-a-secret", display_name=secret.value)

    previous = tmp_path / "cdktf.out"
    previous.mkdir()
    (previous / "kept").write_text("the last good synth")
    config = load_config(PROJECT_ROOT / "config" / "local.toml")
    with pytest.raises(CrossStackValueError, match=r"producer: .*aws_ssm_parameter\.secret.*value.* only identifiers"):
        synthesize(compose, config, previous)
    assert (previous / "kept").read_text() == "the last good synth"


@pytest.mark.parametrize(
    ("value", "attribute"),
    [
        ("${aws_sns_topic.requests_1A2B.arn}", "arn"),
        ("${aws_lambda_function.function-predict_89EA.invoke_arn}", "invoke_arn"),
        ("${aws_ssm_parameter.secret.value}", "value"),
        ("${aws_sns_topic.a.arn}-suffix", None),  # not one plain reference
        ("${aws_sns_topic.a.arn}${aws_sns_topic.b.arn}", None),
        ("plain", None),
        (None, None),
    ],
)
def test_the_attribute_of_a_cross_stack_output_is_read_from_its_single_reference(value, attribute):
    from modules.cross_stack_outputs import cross_stack_attribute

    assert cross_stack_attribute(value) == attribute


def test_only_cross_stack_outputs_are_unmarked_and_the_stack_own_sensitive_outputs_stay_sensitive():
    from modules.cross_stack_outputs import reveal_cross_stack_outputs

    document = {
        "output": {
            "cross-stack-output-aws_sqs_queuework_arn": {"sensitive": True, "value": "${aws_sqs_queue.work.arn}"},
            "api_key": {"sensitive": True, "value": "${aws_api_gateway_api_key.key.value}"},
        }
    }
    assert reveal_cross_stack_outputs("messaging", document) is True
    assert document["output"]["cross-stack-output-aws_sqs_queuework_arn"]["sensitive"] is False
    assert document["output"]["api_key"]["sensitive"] is True
    assert reveal_cross_stack_outputs("messaging", document) is False  # nothing left to change


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_a_rewritten_stack_is_byte_identical_to_what_cdktf_writes(env, synthesized):
    """The outputs are unmarked on the synthesized JSON: rewriting a stack must not change one byte elsewhere."""
    from modules.cross_stack_outputs import stable_stringify

    for stack in stack_dirs(synthesized[env]):
        text = (stack / "cdk.tf.json").read_text()
        assert stable_stringify(json.loads(text)) == text, f"{env}/{stack.name}"
