import json

import pytest

from modules.constructs.http_api import HttpApi, HttpApiProps
from tests.constructs.helpers import only, synth_with

KEY = "arn:aws:kms:eu-west-1:123456789012:key/k"


def _synth(**overrides) -> dict:
    props = {
        "name": "inference-local-api",
        "log_kms_key_arn": KEY,
        "log_retention_days": 7,
        "throttling_rate_limit": 50,
        "throttling_burst_limit": 100,
        **overrides,
    }
    return synth_with(lambda s: HttpApi(s, "api", props=HttpApiProps(**props)))


def test_the_stage_is_throttled_and_writes_json_access_logs_to_an_encrypted_group():
    doc = _synth(throttling_rate_limit=10, throttling_burst_limit=20)
    stage = only(doc, "aws_apigatewayv2_stage")
    assert stage["name"] == "$default" and stage["auto_deploy"] is True
    assert stage["default_route_settings"]["throttling_rate_limit"] == 10
    assert stage["default_route_settings"]["throttling_burst_limit"] == 20
    assert "data_trace_enabled" not in stage["default_route_settings"]
    fields = json.loads(stage["access_log_settings"]["format"])
    assert {
        "requestId",
        "ip",
        "requestTime",
        "httpMethod",
        "routeKey",
        "status",
        "protocol",
        "responseLength",
        "integrationError",
    } <= set(fields)
    log_group = only(doc, "aws_cloudwatch_log_group")
    assert log_group["retention_in_days"] == 7 and log_group["kms_key_id"] == KEY


def test_iam_is_the_default_and_there_is_no_cors_without_origins():
    doc = _synth()
    assert "cors_configuration" not in only(doc, "aws_apigatewayv2_api")
    assert "aws_apigatewayv2_authorizer" not in doc["resource"]


def test_jwt_uses_the_issuer_and_audience_and_cors_lists_exact_origins():
    doc = _synth(
        auth="jwt",
        jwt_issuer="https://issuer.example.com/",
        jwt_audience=("inference",),
        cors_allowed_origins=("https://app.example.com",),
    )
    authorizer = only(doc, "aws_apigatewayv2_authorizer")
    assert authorizer["authorizer_type"] == "JWT"
    assert authorizer["identity_sources"] == ["$request.header.Authorization"]
    assert authorizer["jwt_configuration"] == {"issuer": "https://issuer.example.com/", "audience": ["inference"]}
    assert only(doc, "aws_apigatewayv2_api")["cors_configuration"]["allow_origins"] == ["https://app.example.com"]


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"auth": "jwt"}, "jwt_issuer and jwt_audience are required with auth = 'jwt'"),
        ({"jwt_issuer": "https://i/"}, "apply only to auth = 'jwt', not 'iam'"),
        ({"throttling_rate_limit": 0}, "throttling_rate_limit must be 1-10000, got 0"),
        ({"throttling_burst_limit": 5001}, "throttling_burst_limit must be 1-5000, got 5001"),
        ({"cors_allowed_origins": ("*",)}, "exact origins, not '*'"),
        ({"log_kms_key_arn": ""}, "log_kms_key_arn is required"),
    ],
)
def test_bad_props_are_refused_naming_the_field(overrides, expected):
    with pytest.raises(ValueError, match=expected.replace("*", r"\*")):
        _synth(**overrides)
