"""Wiring of the api stack in every environment (on the session's synthesized output)."""

from __future__ import annotations

import json

import pytest

REMOTE = "${data.terraform_remote_state.cross-stack-reference-input-"
ROUTES = {"POST /v1/predict", "POST /v1/jobs", "GET /v1/jobs/{id}", "POST /v1/batches", "GET /v1/batches/{id}"}


def _stack(synthesized, env: str) -> dict:
    return json.loads((synthesized[env] / "stacks" / "api" / "cdk.tf.json").read_text())


@pytest.mark.parametrize("env", ["local", "dev", "prod"])
def test_every_route_exists_with_iam_authorization(env, synthesized):
    routes = _stack(synthesized, env)["resource"]["aws_apigatewayv2_route"].values()
    assert {r["route_key"] for r in routes} == ROUTES
    assert all(r["authorization_type"] == "AWS_IAM" for r in routes)


@pytest.mark.parametrize("env", ["local", "dev", "prod"])
def test_lambda_permissions_are_scoped_to_the_api_and_the_exact_route(env, synthesized):
    permissions = _stack(synthesized, env)["resource"]["aws_lambda_permission"].values()
    arns = {p["source_arn"].split("}", 1)[1] for p in permissions}
    expected = {"/*/POST/v1/jobs", "/*/GET/v1/jobs/*", "/*/POST/v1/batches", "/*/GET/v1/batches/*"} | (
        {"/*/POST/v1/predict"} if env != "prod" else set()
    )
    assert arns == expected
    assert all(p["source_arn"].startswith("${aws_apigatewayv2_api.") for p in permissions)
    assert all(p["function_name"].startswith((f"{REMOTE}compute.", f"{REMOTE}batch.")) for p in permissions)


@pytest.mark.parametrize("env", ["local", "dev", "prod"])
def test_the_stage_is_throttled_and_logged_and_the_invoke_url_is_an_output(env, synthesized):
    doc = _stack(synthesized, env)
    (stage,) = doc["resource"]["aws_apigatewayv2_stage"].values()
    assert stage["default_route_settings"]["throttling_rate_limit"] >= 1
    assert stage["access_log_settings"]["destination_arn"].startswith("${aws_cloudwatch_log_group.")
    assert "api_invoke_url" in doc["output"]
    alarms = doc["resource"]["aws_cloudwatch_metric_alarm"].values()
    assert {a["alarm_name"].rsplit("-api-", 1)[1] for a in alarms} == {
        "5xx-rate",
        "Latency-p99",
        "IntegrationLatency-p99",
    }


def test_prod_predicts_through_the_vpc_link_to_the_fargate_listener(synthesized):
    doc = _stack(synthesized, "prod")
    integrations = {i.get("connection_type"): i for i in doc["resource"]["aws_apigatewayv2_integration"].values()}
    link = integrations["VPC_LINK"]
    assert link["integration_uri"].startswith(f"{REMOTE}compute.")
    assert link["request_parameters"] == {"overwrite:path": "/invocations"}
    (vpc_link,) = doc["resource"]["aws_apigatewayv2_vpc_link"].values()
    (group_id,) = doc["resource"]["aws_security_group"]
    assert vpc_link["security_group_ids"] == [f"${{aws_security_group.{group_id}.id}}"]  # attached


def test_local_allows_cors_from_the_local_frontend_only(synthesized):
    (api,) = _stack(synthesized, "local")["resource"]["aws_apigatewayv2_api"].values()
    assert api["cors_configuration"]["allow_origins"] == ["http://localhost:3000"]


def test_prod_reaches_the_load_balancer_over_tls_verifying_the_certificate_name(synthesized):
    """Without tls_config API Gateway would speak plain HTTP over the VPC link; with it, HTTPS to the listener,
    checked against the name the certificate carries."""
    from modules.config import load_config
    from tests.conftest import PROJECT_ROOT

    name = load_config(PROJECT_ROOT / "config" / "prod.toml").compute.load_balancer.tls_server_name
    integrations = _stack(synthesized, "prod")["resource"]["aws_apigatewayv2_integration"].values()
    link = next(i for i in integrations if i.get("connection_type") == "VPC_LINK")
    assert name and link["tls_config"] == {"server_name_to_verify": name}
    (vpc_link_group,) = _stack(synthesized, "prod")["resource"]["aws_vpc_security_group_egress_rule"].values()
    assert (vpc_link_group["from_port"], vpc_link_group["to_port"]) == (443, 443)
