import pytest

from modules.constructs.api_route import ApiRoute, ApiRouteProps, source_arn
from tests.constructs.helpers import only, synth_with

EXECUTION_ARN = "arn:aws:execute-api:eu-west-1:123456789012:abc123"


def _synth(**overrides) -> dict:
    props = {
        "api_id": "abc123",
        "execution_arn": EXECUTION_ARN,
        "method": "GET",
        "path": "/v1/jobs/{id}",
        "authorization_type": "AWS_IAM",
        "timeout_ms": 29_000,
        "function_name": "status",
        "function_invoke_arn": "arn:invoke",
        **overrides,
    }
    return synth_with(lambda s: ApiRoute(s, "route", props=ApiRouteProps(**props)))


def test_a_lambda_route_is_a_payload_2_proxy_with_iam_authorization():
    doc = _synth()
    integration = only(doc, "aws_apigatewayv2_integration")
    assert (integration["integration_type"], integration["payload_format_version"]) == ("AWS_PROXY", "2.0")
    assert integration["integration_uri"] == "arn:invoke"
    route = only(doc, "aws_apigatewayv2_route")
    assert route["route_key"] == "GET /v1/jobs/{id}" and route["authorization_type"] == "AWS_IAM"
    assert "authorizer_id" not in route


def test_the_lambda_permission_names_this_api_this_method_and_this_path():
    permission = only(_synth(), "aws_lambda_permission")
    assert permission["principal"] == "apigateway.amazonaws.com"
    assert permission["source_arn"] == f"{EXECUTION_ARN}/*/GET/v1/jobs/*"
    assert source_arn(EXECUTION_ARN, "POST", "/v1/predict") == f"{EXECUTION_ARN}/*/POST/v1/predict"


def _synth_vpc_link_route(**overrides) -> dict:
    """POST /v1/predict through the VPC link to the model server's listener, with no Lambda behind it."""
    return _synth(
        method="POST",
        path="/v1/predict",
        function_name=None,
        function_invoke_arn=None,
        vpc_link_id="link",
        listener_arn="arn:listener",
        **overrides,
    )


def test_a_vpc_link_route_overwrites_the_path_for_the_model_server_and_grants_no_lambda():
    doc = _synth_vpc_link_route(backend_path="/invocations")
    integration = only(doc, "aws_apigatewayv2_integration")
    assert (integration["connection_type"], integration["connection_id"]) == ("VPC_LINK", "link")
    assert integration["integration_uri"] == "arn:listener"
    assert integration["request_parameters"] == {"overwrite:path": "/invocations"}
    assert "aws_lambda_permission" not in doc["resource"]


def test_a_vpc_link_route_to_an_https_listener_verifies_the_certificate_name():
    doc = _synth_vpc_link_route(tls_server_name="model.example.com")
    integration = only(doc, "aws_apigatewayv2_integration")
    assert integration["tls_config"] == {"server_name_to_verify": "model.example.com"}


def test_jwt_routes_carry_the_authorizer():
    route = only(_synth(authorization_type="JWT", authorizer_id="auth1"), "aws_apigatewayv2_route")
    assert route["authorizer_id"] == "auth1"


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"vpc_link_id": "link", "listener_arn": "arn:l"}, "give exactly one integration"),
        ({"authorization_type": "JWT"}, "authorizer_id is required with authorization_type JWT"),
        ({"timeout_ms": 31000}, "timeout_ms must be 50-30000, got 31000"),
        ({"path": "v1/jobs"}, "path must look like"),
        ({"tls_server_name": "model.example.com"}, "tls_server_name applies only to a VPC-link integration"),
    ],
)
def test_bad_routes_are_refused(overrides, expected):
    with pytest.raises(ValueError, match=expected):
        _synth(**overrides)
