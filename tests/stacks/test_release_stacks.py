"""Issue 16 in the stacks: the rollout of each environment, the rollback alarms and who may describe them, a shadow
variant switched on by config, the ECS deployment alarms, and the dashboard built from the alarm definitions."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import PROJECT_ROOT

PROD_ALARMS = ["inference-prod-inference-Invocation5XXErrors", "inference-prod-inference-InvocationModelErrors",
               "inference-prod-inference-ModelLatency"]


def _doc(folder: Path, stack: str) -> dict:
    return json.loads((folder / "stacks" / stack / "cdk.tf.json").read_text())


def _one(doc: dict, resource_type: str) -> dict:
    (resource,) = doc["resource"][resource_type].values()
    return resource


@pytest.fixture(scope="module")
def prod_with_shadow(tmp_path_factory) -> Path:
    """prod with the shadow example of config/prod.toml switched on (one more synth of the session)."""
    import main
    from modules.config import load_config
    from modules.synth_run import synthesize

    text = (PROJECT_ROOT / "config" / "prod.toml").read_text()
    folder = tmp_path_factory.mktemp("prod-shadow")
    path = folder / "prod.toml"
    path.write_text(text.replace("# [inference.shadow]\n# model_version = \"1.1.0\"\n# sampling_percentage = 20",
                                 "[inference.shadow]\nmodel_version = \"1.1.0\"\nsampling_percentage = 20"))
    synthesize(main.compose, load_config(path), folder / "out")
    return folder / "out"


def test_prod_updates_its_endpoint_by_canary_and_rolls_back_on_the_endpoints_own_alarms(synthesized):
    doc = _doc(synthesized["prod"], "inference")
    deployment = _one(doc, "aws_sagemaker_endpoint")["deployment_config"]
    routing = deployment["blue_green_update_policy"]["traffic_routing_configuration"]
    assert (routing["type"], routing["canary_size"], routing["wait_interval_in_seconds"]) == (
        "CANARY", {"type": "INSTANCE_COUNT", "value": 1}, 900)
    assert deployment["blue_green_update_policy"]["termination_wait_in_seconds"] == 600
    alarms = doc["resource"]["aws_cloudwatch_metric_alarm"]
    rollback = [a["alarm_name"] for a in deployment["auto_rollback_configuration"]["alarms"]]
    assert sorted(alarms[r.split(".")[1]]["alarm_name"] for r in rollback) == PROD_ALARMS


def test_sagemaker_may_describe_exactly_the_rollback_alarms_as_the_execution_role(synthesized):
    doc = _doc(synthesized["prod"], "inference")
    (document,) = doc["data"]["aws_iam_policy_document"].values()
    (watch,) = [s for s in document["statement"] if s["sid"] == "WatchRollbackAlarms"]
    assert watch["actions"] == ["cloudwatch:DescribeAlarms"]
    assert sorted(watch["resources"]) == sorted(
        f"${{aws_cloudwatch_metric_alarm.{name}.arn}}" for name in doc["resource"]["aws_cloudwatch_metric_alarm"])


@pytest.mark.parametrize("env", ["dev"])
def test_serverless_environments_get_sagemakers_own_update_and_no_alarm_grant(synthesized, env):
    doc = _doc(synthesized[env], "inference")
    assert "deployment_config" not in _one(doc, "aws_sagemaker_endpoint")
    (document,) = doc["data"]["aws_iam_policy_document"].values()
    assert "WatchRollbackAlarms" not in {s["sid"] for s in document["statement"]}


def test_a_shadow_by_config_adds_a_candidate_model_variant_and_alarms_that_never_roll_back(prod_with_shadow):
    doc = _doc(prod_with_shadow, "inference")
    models = doc["resource"]["aws_sagemaker_model"]
    artifacts = sorted(m["primary_container"]["model_data_url"].rsplit("/", 2)[1] for m in models.values())
    assert artifacts == ["1.0.0", "1.1.0"]
    config = _one(doc, "aws_sagemaker_endpoint_configuration")
    (shadow,) = config["shadow_production_variants"]
    assert (shadow["variant_name"], shadow["initial_variant_weight"], shadow["instance_type"]) == ("shadow", 0.2, "ml.m5.large")
    assert shadow["model_name"].startswith("${aws_sagemaker_model.shadow-model")
    names = {a["alarm_name"] for a in doc["resource"]["aws_cloudwatch_metric_alarm"].values()}
    assert {"inference-prod-inference-shadow-ModelLatency", *PROD_ALARMS} <= names
    rollback = _one(doc, "aws_sagemaker_endpoint")["deployment_config"]["auto_rollback_configuration"]["alarms"]
    assert len(rollback) == 3 and not any("shadow" in a["alarm_name"] for a in rollback)


def test_the_dashboard_compares_production_and_shadow_on_the_alarm_definitions(prod_with_shadow):
    body = json.loads(_one(_doc(prod_with_shadow, "api"), "aws_cloudwatch_dashboard")["dashboard_body"])
    graphs = {w["properties"]["title"]: w["properties"] for w in body["widgets"] if w["type"] == "metric"}
    latency = graphs["ModelLatency (p99) per variant"]
    assert [row[5] for row in latency["metrics"]] == ["primary", "shadow"]
    assert latency["annotations"]["horizontal"] == [{"label": "alarm at 1000000", "value": 1000000}]


def test_both_fargate_services_roll_back_on_their_deployment_alarms_in_every_environment(synthesized):
    for env in ("local", "dev", "prod"):
        doc = _doc(synthesized[env], "compute")
        alarms = doc["resource"]["aws_cloudwatch_metric_alarm"]
        for service in doc["resource"]["aws_ecs_service"].values():
            names = [alarms[ref.split(".")[1]]["alarm_name"] for ref in service["alarms"]["alarm_names"]]
            expected = ({f"{service['name']}-target-5xx", f"{service['name']}-target-response-time-p99"}
                        if "load_balancer" in service else {f"{service['name']}-error-lines"})
            assert set(names) == expected and service["alarms"]["rollback"] is True, (env, service["name"])


@pytest.mark.parametrize("env", ["local", "dev", "prod"])
def test_the_dashboard_shows_every_alarm_of_the_environment_by_name(synthesized, env):
    alarm_names = set()
    for stack in ("messaging", "inference", "compute"):
        # Health alarms tell the alarm topic both ways; scaling alarms (backlog, wake from zero) act on policies.
        alarm_names |= {a["alarm_name"] for a in _doc(synthesized[env], stack)["resource"]["aws_cloudwatch_metric_alarm"]
                        .values() if a.get("ok_actions")}
    body = json.loads(_one(_doc(synthesized[env], "api"), "aws_cloudwatch_dashboard")["dashboard_body"])
    status = body["widgets"][0]["properties"]["alarms"]
    shown = {arn.rsplit(":alarm:", 1)[1] for arn in status if ":alarm:" in arn}
    assert alarm_names <= shown, sorted(alarm_names - shown)
    assert sum(1 for arn in status if ":alarm:" not in arn) == 3  # the API's own alarms, by reference
