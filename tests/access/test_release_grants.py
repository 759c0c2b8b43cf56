"""Issue 16, proven by the access gate: what a model release needs from the SageMaker execution role.

During a blue/green update or an automatic rollback, instances of the PREVIOUS endpoint configuration start with
the same role and load the previous model version; and SageMaker describes the auto-rollback alarms as that role.
The gate declares both (tools/access_check/service_calls.py: sagemaker-starts-the-previous-configuration); these
tests show that the shipped policies allow them, and that the grant issue 11 shipped (the one current object)
would leave the previous fleet without its model.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.access.gate_runs import denials_of
from tests.access.mutations import edit_policy, identity_policy_blocks, inventory_of
from tests.conftest import ENVIRONMENTS
from tools.access_check import check
from tools.access_check.report import denial_line
from tools.access_check.service_calls import EXAMPLE_PREVIOUS_VERSION

PREVIOUS = f"/models/inference/{EXAMPLE_PREVIOUS_VERSION}/model.tar.gz"


def _execution_role(result: check.Result) -> str:
    (role,) = {
        d.request.principal
        for d in result.evaluation.decisions
        if d.request.action == "s3:GetObject" and d.request.resource.endswith(PREVIOUS)
    }
    return role


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_the_execution_role_may_load_a_previous_version_of_its_model_and_no_other_model(gate, env: str) -> None:
    result = gate[env]
    role = _execution_role(result)
    [decision] = [
        d for d in result.evaluation.decisions if d.request.principal == role and d.request.resource.endswith(PREVIOUS)
    ]
    assert decision.allowed
    # The reach is this model's prefix only: the allowing statement names models/inference/*, nothing broader.
    model_prefix = decision.request.resource.rsplit("/", 2)[0] + "/*"
    assert [statement["resources"] for statement in decision.allow] == [[model_prefix]]


def test_prod_lets_sagemaker_describe_exactly_the_alarms_it_rolls_back_on(gate) -> None:
    result = gate["prod"]
    role = _execution_role(result)
    described = {
        d.request.resource.rsplit(":", 1)[1]
        for d in result.evaluation.decisions
        if d.request.principal == role and d.request.action == "cloudwatch:DescribeAlarms" and d.allowed
    }
    assert described == {
        "inference-prod-inference-Invocation5XXErrors",
        "inference-prod-inference-InvocationModelErrors",
        "inference-prod-inference-ModelLatency",
    }


def test_a_role_that_reads_only_the_current_artifact_strands_the_previous_fleet(stacks_copy) -> None:
    copy = stacks_copy("prod")
    inventory = inventory_of(copy)
    [model] = inventory.blocks("aws_sagemaker_model")
    role = inventory.arg(model, "execution_role_arn")
    current = inventory.arg(model, "primary_container.model_data_url").removeprefix("s3://")
    for block in identity_policy_blocks(copy, role):
        edit_policy(copy, block, "policy", _only_object(f"arn:aws:s3:::{current}"))

    result = check.run(copy.root)

    [denial] = [d for d in denials_of(result, role, "s3:GetObject") if d.request.resource.endswith(PREVIOUS)]
    line = denial_line(result, denial)
    assert "sagemaker-starts-the-previous-configuration" in line and "s3:GetObject" in line
    assert not denials_of(result, role, "cloudwatch:DescribeAlarms"), "only the artifact grant was narrowed"


def _only_object(object_arn: str):
    """The grant of issue 11: s3:GetObject on the one current artifact object instead of the model's prefix."""

    def edit(statements: list[dict[str, Any]], tf_form: bool, resolve) -> list[dict[str, Any]]:
        sid_key, resources_key = ("sid", "resources") if tf_form else ("Sid", "Resource")
        return [{**s, resources_key: [object_arn]} if s.get(sid_key) == "ReadModelVersions" else s for s in statements]

    return edit
