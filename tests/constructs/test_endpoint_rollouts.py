"""How an update reaches a SageMaker endpoint (EndpointDeployment -> deployment_config), one snapshot per rollout
mode, the shadow variant of the endpoint configuration, and what the construct refuses."""

from __future__ import annotations

import pytest
from syrupy.extensions.json import JSONSnapshotExtension

from modules.constructs.endpoint_alarms import EndpointAlarms, EndpointAlarmsProps
from modules.constructs.sagemaker_endpoint import EndpointDeployment, SagemakerEndpoint, SagemakerEndpointProps
from tests.constructs.helpers import only, synth_with
from tests.constructs.sagemaker_fixtures import KEY, TOPIC, unhashed_arguments

ALARMS = ("ep-Invocation5XXErrors", "ep-InvocationModelErrors", "ep-ModelLatency")


def _deployment(**fields) -> EndpointDeployment:
    """A rollout without baking or a kept old fleet unless FIELDS say otherwise."""
    return EndpointDeployment(**{"wait_interval_seconds": 0, "termination_wait_seconds": 0, **fields})


REAL_TIME = {
    "endpoint_name": "ep",
    "model_name": "ep-model",
    "kms_key_arn": KEY,
    "log_kms_key_arn": KEY,
    "log_retention_days": 7,
    "mode": "real-time",
    "instance_type": "ml.m5.large",
    "initial_instance_count": 4,
}
ROLLOUTS = {
    "all-at-once": _deployment(wait_interval_seconds=900, termination_wait_seconds=300, rollback_alarm_names=ALARMS),
    "canary": _deployment(
        strategy="canary",
        step_size=1,
        wait_interval_seconds=900,
        termination_wait_seconds=600,
        maximum_execution_timeout_seconds=3600,
        rollback_alarm_names=ALARMS,
    ),
    "linear": _deployment(
        strategy="linear", step_size=25, step_unit="percent", wait_interval_seconds=900, rollback_alarm_names=ALARMS
    ),
    "rolling": _deployment(
        strategy="rolling", step_size=1, wait_interval_seconds=900, rollback_step_size=2, rollback_alarm_names=ALARMS
    ),
}


@pytest.fixture
def json_snapshot(snapshot):
    return snapshot.use_extension(JSONSnapshotExtension)


def _endpoint(**overrides) -> dict:
    return synth_with(
        lambda s: SagemakerEndpoint(s, "endpoint", props=SagemakerEndpointProps(**{**REAL_TIME, **overrides}))
    )


@pytest.mark.parametrize("rollout", ROLLOUTS)
def test_each_rollout_mode_synthesizes_its_deployment_config(rollout, json_snapshot):
    deployment = only(_endpoint(deployment=ROLLOUTS[rollout]), "aws_sagemaker_endpoint")["deployment_config"]
    assert deployment == json_snapshot(name=f"deployment-config-{rollout}")


def test_blue_green_modes_shift_traffic_and_rolling_replaces_batches_each_watching_the_same_alarms():
    configs = {
        name: only(_endpoint(deployment=rollout), "aws_sagemaker_endpoint")["deployment_config"]
        for name, rollout in ROLLOUTS.items()
    }
    assert {
        name: config["blue_green_update_policy"]["traffic_routing_configuration"]["type"]
        for name, config in configs.items()
        if "blue_green_update_policy" in config
    } == {"all-at-once": "ALL_AT_ONCE", "canary": "CANARY", "linear": "LINEAR"}
    assert configs["canary"]["blue_green_update_policy"]["traffic_routing_configuration"]["canary_size"] == {
        "type": "INSTANCE_COUNT",
        "value": 1,
    }
    assert configs["linear"]["blue_green_update_policy"]["traffic_routing_configuration"]["linear_step_size"] == {
        "type": "CAPACITY_PERCENT",
        "value": 25,
    }
    rolling = configs["rolling"]["rolling_update_policy"]
    assert (rolling["maximum_batch_size"], rolling["rollback_maximum_batch_size"]) == (
        {"type": "INSTANCE_COUNT", "value": 1},
        {"type": "INSTANCE_COUNT", "value": 2},
    )
    assert "blue_green_update_policy" not in configs["rolling"]
    assert {
        tuple(a["alarm_name"] for a in config["auto_rollback_configuration"]["alarms"]) for config in configs.values()
    } == {ALARMS}


def test_without_a_deployment_the_endpoint_gets_sagemakers_default_update_and_no_rollback_alarms():
    assert "deployment_config" not in only(_endpoint(), "aws_sagemaker_endpoint")
    no_alarms = only(_endpoint(deployment=_deployment(wait_interval_seconds=600)), "aws_sagemaker_endpoint")
    assert "auto_rollback_configuration" not in no_alarms["deployment_config"]


def test_a_shadow_variant_gets_its_share_of_copied_requests_as_weight_and_renames_the_configuration():
    doc = _endpoint(shadow_model_name="ep-candidate", shadow_initial_instance_count=1, shadow_sampling_percentage=20)
    config = only(doc, "aws_sagemaker_endpoint_configuration")
    assert config["shadow_production_variants"] == [
        {
            "variant_name": "shadow",
            "model_name": "ep-candidate",
            "instance_type": "ml.m5.large",
            "initial_instance_count": 1,
            "initial_variant_weight": 0.2,
        }
    ]
    assert config["production_variants"][0]["initial_variant_weight"] == 1
    assert unhashed_arguments(config) == []


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {
                "mode": "serverless",
                "instance_type": None,
                "initial_instance_count": None,
                "memory_size_mb": 2048,
                "max_concurrency": 5,
                "deployment": _deployment(),
            },
            "deployment applies only to mode real-time or async (SageMaker deployment guardrails), not to mode 'serverless'",
        ),
        (
            {"deployment": _deployment(strategy="rolling", step_size=1), "shadow_model_name": "ep-candidate"},
            "deployment.strategy rolling cannot update an endpoint with a shadow variant",
        ),
        (
            {"deployment": _deployment(strategy="canary")},
            "deployment.step_size is required with strategy canary, linear or rolling and refused with all-at-once, "
            "got None with 'canary'",
        ),
        (
            {"deployment": _deployment(wait_interval_seconds=3601)},
            "deployment.wait_interval_seconds must be 0-3600",
        ),
        (
            {"deployment": _deployment(maximum_execution_timeout_seconds=599)},
            "deployment.maximum_execution_timeout_seconds must be 600-14400, got 599",
        ),
        (
            {"deployment": _deployment(rollback_alarm_names=tuple(f"a{i}" for i in range(11)))},
            "deployment.rollback_alarm_names holds at most 10 alarms, got 11",
        ),
        (
            {
                "mode": "async",
                "output_s3_uri": "s3://r/o/",
                "failure_s3_uri": "s3://r/f/",
                "success_topic_arn": TOPIC,
                "error_topic_arn": TOPIC,
                "max_concurrent_invocations_per_instance": 4,
                "shadow_model_name": "ep-candidate",
            },
            "shadow_model_name applies only to mode real-time (a shadow variant needs instances), not to mode 'async'",
        ),
        (
            {"shadow_model_name": "ep-candidate", "shadow_initial_instance_count": 1, "shadow_sampling_percentage": 0},
            "shadow_sampling_percentage must be 1-100",
        ),
        (
            {"shadow_model_name": "ep-candidate", "shadow_sampling_percentage": 20},
            "shadow_initial_instance_count is required with shadow_model_name",
        ),
    ],
)
def test_what_sagemaker_would_refuse_at_update_time_is_refused_at_synth(overrides, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        _endpoint(**overrides)


def test_a_shadow_variant_alarms_under_its_own_names_and_never_rolls_production_back():
    built = {}

    def build(stack):
        common = {
            "endpoint_name": "ep",
            "mode": "real-time",
            "alarm_topic_arn": TOPIC,
            "errors_threshold": 5,
            "latency_p99_ms": 2000,
        }
        built["primary"] = EndpointAlarms(stack, "alarms", props=EndpointAlarmsProps(variant_name="primary", **common))
        built["shadow"] = EndpointAlarms(
            stack, "shadow-alarms", props=EndpointAlarmsProps(variant_name="shadow", shadow=True, **common)
        )

    alarms = synth_with(build)["resource"]["aws_cloudwatch_metric_alarm"].values()
    assert sorted(a["alarm_name"] for a in alarms) == [
        "ep-Invocation5XXErrors",
        "ep-InvocationModelErrors",
        "ep-ModelLatency",
        "ep-shadow-Invocation5XXErrors",
        "ep-shadow-InvocationModelErrors",
        "ep-shadow-ModelLatency",
    ]
    assert list(built["primary"].alarms.values()) == built["primary"].rollback_alarms
    assert built["shadow"].rollback_alarms == []
    assert {a["dimensions"]["VariantName"] for a in alarms if "shadow" in a["alarm_name"]} == {"shadow"}
