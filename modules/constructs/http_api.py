"""An HTTP API (API Gateway v2) with authorization, a throttled `$default` stage, JSON access logs and CORS.

Why here and not per route: every route of the API shares one authorization mode and one stage; routes
(`ApiRoute`) only add an integration. Data tracing stays off (HTTP APIs have none; only WebSocket stages can log
bodies), so request payloads never reach a log.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Literal

from constructs import Construct

from modules import aws
from modules.constructs.encrypted_log_group import encrypted_log_group, log_group_problems

STAGE_NAME = "$default"
AUTHORIZATION_TYPES = {"iam": "AWS_IAM", "jwt": "JWT", "none": "NONE"}
CORS_HEADERS = ("authorization", "content-type", "x-amz-content-sha256", "x-amz-date", "x-amz-security-token")

# One JSON object per request; field names are what Logs Insights queries and metric filters match on.
ACCESS_LOG_FORMAT = {
    "requestId": "$context.requestId",
    "ip": "$context.identity.sourceIp",
    "requestTime": "$context.requestTime",
    "httpMethod": "$context.httpMethod",
    "routeKey": "$context.routeKey",
    "path": "$context.path",
    "status": "$context.status",
    "protocol": "$context.protocol",
    "responseLength": "$context.responseLength",
    "responseLatency": "$context.responseLatency",
    "integrationStatus": "$context.integrationStatus",
    "integrationLatency": "$context.integrationLatency",
    "integrationError": "$context.integrationErrorMessage",
    "errorMessage": "$context.error.message",
    "authorizerError": "$context.authorizer.error",
    "userAgent": "$context.identity.userAgent",
}


@dataclass(frozen=True, kw_only=True)
class HttpApiProps:
    """Name, who may call, how fast, where access logs go."""

    name: str  # API name, also the access-log group's name part
    auth: Literal["iam", "jwt", "none"] = "iam"  # none: only for non-production environments (checked in config)
    jwt_issuer: str | None = None  # required with auth = jwt
    jwt_audience: tuple[str, ...] = ()  # required with auth = jwt
    cors_allowed_origins: tuple[str, ...] = ()  # exact origins; empty: no CORS configuration at all
    throttling_rate_limit: float  # steady requests per second, 1-10000
    throttling_burst_limit: int  # burst, 1-5000
    log_retention_days: int  # finite retention of the access logs
    log_kms_key_arn: str  # CMK of the access-log group (its policy must admit logs.<region>.amazonaws.com)


class HttpApi(Construct):
    """Exposes `api`, `id`, `execution_arn`, `stage`, `stage_name`, `invoke_url`, `log_group`,
    `authorization_type` and `authorizer_id` (None unless JWT) for routes."""

    def __init__(self, scope: Construct, id_: str, *, props: HttpApiProps) -> None:
        super().__init__(scope, id_)
        _validate(id_, props)
        cors = None
        if props.cors_allowed_origins:
            cors = aws.apigatewayv2_api.Apigatewayv2ApiCorsConfiguration(
                allow_origins=list(props.cors_allowed_origins),
                allow_methods=["GET", "POST", "OPTIONS"],
                allow_headers=list(CORS_HEADERS),
                expose_headers=["location"],
                max_age=3600,
                allow_credentials=False,
            )
        self.api = aws.apigatewayv2_api.Apigatewayv2Api(
            self,
            "api",
            name=props.name,
            protocol_type="HTTP",
            cors_configuration=cors,
            description=f"{props.name}: predictions and jobs ({props.auth} authorization)",
        )
        self.id = self.api.id
        self.execution_arn = self.api.execution_arn
        self.authorization_type = AUTHORIZATION_TYPES[props.auth]
        self.authorizer_id = None
        if props.auth == "jwt":
            authorizer = aws.apigatewayv2_authorizer.Apigatewayv2Authorizer(
                self,
                "jwt-authorizer",
                api_id=self.api.id,
                name=f"{props.name}-jwt",
                authorizer_type="JWT",
                identity_sources=["$request.header.Authorization"],
                jwt_configuration=aws.apigatewayv2_authorizer.Apigatewayv2AuthorizerJwtConfiguration(
                    issuer=props.jwt_issuer, audience=list(props.jwt_audience)
                ),
            )
            self.authorizer_id = authorizer.id
        self.log_group = encrypted_log_group(
            self,
            "access-logs",
            name=f"/aws/apigateway/{props.name}/access",
            retention_days=props.log_retention_days,
            kms_key_arn=props.log_kms_key_arn,
        )
        self.stage_name = STAGE_NAME
        self.stage = aws.apigatewayv2_stage.Apigatewayv2Stage(
            self,
            "stage",
            api_id=self.api.id,
            name=STAGE_NAME,
            auto_deploy=True,
            default_route_settings=aws.apigatewayv2_stage.Apigatewayv2StageDefaultRouteSettings(
                throttling_rate_limit=props.throttling_rate_limit,
                throttling_burst_limit=props.throttling_burst_limit,
                detailed_metrics_enabled=True,
            ),
            access_log_settings=aws.apigatewayv2_stage.Apigatewayv2StageAccessLogSettings(
                destination_arn=self.log_group.arn, format=json.dumps(ACCESS_LOG_FORMAT, separators=(",", ":"))
            ),
        )
        self.invoke_url = self.stage.invoke_url


def _validate(id_: str, props: HttpApiProps) -> None:
    problems = []
    if props.auth not in AUTHORIZATION_TYPES:
        problems.append(f"auth must be one of {', '.join(AUTHORIZATION_TYPES)}, got {props.auth!r}")
    if props.auth == "jwt" and (not props.jwt_issuer or not props.jwt_audience):
        problems.append("jwt_issuer and jwt_audience are required with auth = 'jwt'")
    if props.auth != "jwt" and (props.jwt_issuer or props.jwt_audience):
        problems.append(f"jwt_issuer and jwt_audience apply only to auth = 'jwt', not {props.auth!r}")
    if "*" in props.cors_allowed_origins:
        problems.append("cors_allowed_origins must list exact origins, not '*'")
    if not 1 <= props.throttling_rate_limit <= 10_000:
        problems.append(f"throttling_rate_limit must be 1-10000, got {props.throttling_rate_limit}")
    if not 1 <= props.throttling_burst_limit <= 5_000:
        problems.append(f"throttling_burst_limit must be 1-5000, got {props.throttling_burst_limit}")
    if not props.log_kms_key_arn:
        problems.append("log_kms_key_arn is required (access logs are encrypted with a customer key)")
    problems += log_group_problems("log_retention_days", props.log_retention_days)
    if problems:
        raise ValueError(f"{id_}: " + "; ".join(problems))
