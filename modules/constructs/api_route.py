"""One route of an HTTP API and its integration: a Lambda function (proxy, payload 2.0) or, through a VPC link,
the listener of an internal load balancer.

Why the Lambda permission lives with the route: it is scoped to this API's execution ARN, this method and this
path (`<execution_arn>/*/POST/v1/predict`), so no other API, route or method can invoke the function.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from constructs import Construct

from modules import aws
from modules.limits import API_GATEWAY_HTTP_INTEGRATION_TIMEOUT

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
PATH = re.compile(r"^(/([A-Za-z0-9._-]+|\{[A-Za-z0-9_]+\}))+$")
MAX_TIMEOUT_MS = API_GATEWAY_HTTP_INTEGRATION_TIMEOUT.value


@dataclass(frozen=True, kw_only=True)
class ApiRouteProps:
    """The route, its authorization and exactly one integration (Lambda or VPC link)."""

    api_id: str  # HttpApi.id
    execution_arn: str  # HttpApi.execution_arn: scopes the Lambda permission
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"]
    path: str  # e.g. /v1/jobs/{id}
    authorization_type: Literal["AWS_IAM", "JWT", "NONE"]  # HttpApi.authorization_type
    authorizer_id: str | None = None  # HttpApi.authorizer_id, required with JWT
    timeout_ms: int  # 50 ms to the HTTP API's maximum (modules/limits.py)
    # Lambda integration
    function_name: str | None = None  # the function the permission is granted on
    function_invoke_arn: str | None = None  # its invoke ARN (integration URI)
    # VPC-link integration (internal ALB)
    vpc_link_id: str | None = None
    listener_arn: str | None = None  # the ALB listener the VPC link reaches
    backend_path: str | None = None  # path sent to the backend instead of the route's (e.g. /invocations)
    tls_server_name: str | None = None  # set when the listener speaks HTTPS: the name its certificate carries


class ApiRoute(Construct):
    """Exposes `route`, `integration`, `route_key`, `permission` (None for VPC-link routes)."""

    def __init__(self, scope: Construct, id_: str, *, props: ApiRouteProps) -> None:
        super().__init__(scope, id_)
        _validate(id_, props)
        self.route_key = f"{props.method} {props.path}"
        if props.function_invoke_arn:
            self.integration = aws.apigatewayv2_integration.Apigatewayv2Integration(
                self,
                "integration",
                api_id=props.api_id,
                integration_type="AWS_PROXY",
                integration_method="POST",
                integration_uri=props.function_invoke_arn,
                payload_format_version="2.0",
                timeout_milliseconds=props.timeout_ms,
                description=f"{self.route_key} -> Lambda",
            )
        else:
            tls = None
            if props.tls_server_name:
                tls = aws.apigatewayv2_integration.Apigatewayv2IntegrationTlsConfig(
                    server_name_to_verify=props.tls_server_name
                )
            self.integration = aws.apigatewayv2_integration.Apigatewayv2Integration(
                self,
                "integration",
                api_id=props.api_id,
                integration_type="HTTP_PROXY",
                integration_method=props.method,
                integration_uri=props.listener_arn,
                connection_type="VPC_LINK",
                connection_id=props.vpc_link_id,
                payload_format_version="1.0",
                timeout_milliseconds=props.timeout_ms,
                tls_config=tls,
                request_parameters={"overwrite:path": props.backend_path} if props.backend_path else None,
                description=f"{self.route_key} -> VPC link -> internal load balancer",
            )
        self.route = aws.apigatewayv2_route.Apigatewayv2Route(
            self,
            "route",
            api_id=props.api_id,
            route_key=self.route_key,
            target=f"integrations/{self.integration.id}",
            authorization_type=props.authorization_type,
            authorizer_id=props.authorizer_id if props.authorization_type == "JWT" else None,
        )
        self.permission = None
        if props.function_name:
            self.permission = aws.lambda_permission.LambdaPermission(
                self,
                "invoke-permission",
                action="lambda:InvokeFunction",
                function_name=props.function_name,
                principal="apigateway.amazonaws.com",
                source_arn=source_arn(props.execution_arn, props.method, props.path),
                statement_id=f"api-{props.method.lower()}-{_slug(props.path)}",
            )


def source_arn(execution_arn: str, method: str, path: str) -> str:
    """`<execution_arn>/<any stage>/<METHOD>/<path>` with each {parameter} as `*` (one path segment)."""
    return f"{execution_arn}/*/{method}{re.sub(r'{[^}]+}', '*', path)}"


def _slug(path: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", path).strip("-")


def _validate(id_: str, props: ApiRouteProps) -> None:
    problems = []
    if props.method not in METHODS:
        problems.append(f"method must be one of {', '.join(METHODS)}, got {props.method!r}")
    if not PATH.fullmatch(props.path):
        problems.append(f"path must look like /v1/jobs/{{id}}, got {props.path!r}")
    lambda_target = bool(props.function_invoke_arn or props.function_name)
    vpc_target = bool(props.vpc_link_id or props.listener_arn)
    if lambda_target == vpc_target:
        problems.append(
            "give exactly one integration: function_name + function_invoke_arn, or vpc_link_id + listener_arn"
        )
    elif lambda_target and not (props.function_invoke_arn and props.function_name):
        problems.append("function_name and function_invoke_arn go together")
    elif vpc_target and not (props.vpc_link_id and props.listener_arn):
        problems.append("vpc_link_id and listener_arn go together")
    if props.tls_server_name and not vpc_target:
        problems.append("tls_server_name applies only to a VPC-link integration (an HTTPS listener)")
    if props.authorization_type not in ("AWS_IAM", "JWT", "NONE"):
        problems.append(f"authorization_type must be AWS_IAM, JWT or NONE, got {props.authorization_type!r}")
    if props.authorization_type == "JWT" and not props.authorizer_id:
        problems.append("authorizer_id is required with authorization_type JWT")
    if not 50 <= props.timeout_ms <= MAX_TIMEOUT_MS:
        problems.append(f"timeout_ms must be 50-{MAX_TIMEOUT_MS}, got {props.timeout_ms}")
    if problems:
        raise ValueError(f"{id_}: " + "; ".join(problems))
