"""One way to put a scaling policy on an Application Auto Scaling target: its type follows its configuration."""

import pytest

from modules import aws
from modules.constructs.scaling_policy import scaling_policy
from tests.constructs.helpers import synth_with


def _target(stack):
    return aws.appautoscaling_target.AppautoscalingTarget(
        stack,
        "target",
        service_namespace="ecs",
        scalable_dimension="ecs:service:DesiredCount",
        resource_id="service/p/p-worker",
        min_capacity=0,
        max_capacity=2,
    )


def test_the_policy_type_follows_the_configuration_and_the_policy_names_its_target():
    def build(stack):
        target = _target(stack)
        scaling_policy(
            stack,
            "step",
            target=target,
            name="p-step",
            step_scaling=aws.appautoscaling_policy.AppautoscalingPolicyStepScalingPolicyConfiguration(
                adjustment_type="ChangeInCapacity"
            ),
        )

    (policy,) = synth_with(build)["resource"]["aws_appautoscaling_policy"].values()
    assert policy["policy_type"] == "StepScaling"
    assert "target_tracking_scaling_policy_configuration" not in policy
    assert policy["resource_id"] == "${aws_appautoscaling_target.target.resource_id}"


@pytest.mark.parametrize("both", [True, False])
def test_a_policy_takes_exactly_one_configuration(both):
    def build(stack):
        configuration = aws.appautoscaling_policy.AppautoscalingPolicyStepScalingPolicyConfiguration(
            adjustment_type="ChangeInCapacity"
        )
        scaling_policy(
            stack,
            "policy",
            target=_target(stack),
            name="p-policy",
            step_scaling=configuration if both else None,
            target_tracking=aws.appautoscaling_policy.AppautoscalingPolicyTargetTrackingScalingPolicyConfiguration(
                target_value=1
            )
            if both
            else None,
        )

    with pytest.raises(ValueError, match="exactly one of target_tracking and step_scaling"):
        synth_with(build)
