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


def test_a_non_identifier_attribute_crossing_stacks_is_refused_at_synth(tmp_path):
    from cdktf import App

    from modules import aws
    from modules.config import load_config
    from modules.stacks.base import PipelineStack
    from tests.conftest import PROJECT_ROOT

    config = load_config(PROJECT_ROOT / "config" / "local.toml")
    app = App(outdir=str(tmp_path))
    producer = PipelineStack(app, "producer", config=config)
    secret = aws.ssm_parameter.SsmParameter(producer, "secret", name="token", type="SecureString", value="x")
    consumer = PipelineStack(app, "consumer", config=config)
    aws.sns_topic.SnsTopic(consumer, "topic", name="uses-a-secret", display_name=secret.value)
    with pytest.raises(Exception, match=r"only identifiers .* may cross stacks"):
        app.synth()
