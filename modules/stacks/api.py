"""The api stack: the public HTTP API in front of the pipeline.

    POST /v1/predict   -> predict Lambda -> SageMaker endpoint   (or VPC link -> internal ALB -> Fargate service)
    POST /v1/jobs      -> submit Lambda  -> requests topic       (202 with a job id)
    GET  /v1/jobs/{id} -> status Lambda  -> results bucket       (200 / 202 / 404)

Every route shares one authorization mode (IAM or JWT from config), one throttled stage with JSON access logs,
and alarms on the 5xx share and the p99 latencies.
"""

from __future__ import annotations

from constructs import Construct

from modules import aws
from modules.config import PipelineConfig
from modules.config.api import SERVICE_BACKENDS
from modules.constructs.api_alarms import ApiAlarms, ApiAlarmsProps
from modules.constructs.api_route import ApiRoute, ApiRouteProps
from modules.constructs.egress_security_group import EgressSecurityGroup, EgressSecurityGroupProps
from modules.constructs.http_api import HttpApi, HttpApiProps
from modules.constructs.kms_key import KmsKey, KmsKeyProps
from modules.stacks.base import PipelineStack

FARGATE_MODEL_PATH = "/invocations"  # SageMaker container contract, served by the Fargate service too


class ApiStack(PipelineStack):
    """Exposes `http_api` (HttpApi), `routes` (route key -> ApiRoute), `invoke_url`, `vpc_link` (or None)."""

    def __init__(self, scope: Construct, id_: str = "api", *, config: PipelineConfig, network, compute,
                 inference) -> None:
        super().__init__(scope, id_, config=config)
        api = config.api
        name = f"{config.name_prefix}-api"
        self.key = KmsKey(self, "api-key", props=KmsKeyProps(
            alias=name, description=f"access logs of {name}", account_id=self.account_id,
            partition=self.partition, region=config.region))
        self.http_api = HttpApi(self, "http-api", props=HttpApiProps(
            name=name, auth=api.auth, jwt_issuer=api.jwt_issuer, jwt_audience=api.jwt_audience,
            cors_allowed_origins=api.cors_allowed_origins, throttling_rate_limit=api.throttling_rate_limit,
            throttling_burst_limit=api.throttling_burst_limit, log_retention_days=config.log_retention_days,
            log_kms_key_arn=self.key.arn))
        self.key.allow_log_group(self.http_api.log_group)
        common = {"api_id": self.http_api.id, "execution_arn": self.http_api.execution_arn,
                  "authorization_type": self.http_api.authorization_type, "authorizer_id": self.http_api.authorizer_id,
                  "timeout_ms": api.integration_timeout_ms}

        self.routes: dict[str, ApiRoute] = {}
        self.vpc_link = None
        if api.predict_backend in SERVICE_BACKENDS:  # the inference service on Fargate or on EKS
            self.routes["POST /v1/predict"] = self._fargate_predict(config, network, compute, common)
        # The same table decides which functions the compute stack deploys (modules/config/api.py).
        for (method, path), function in api.lambda_routes().items():
            self.routes[f"{method} {path}"] = self._lambda_route(function, method, path, compute, common)

        self.alarms = ApiAlarms(self, "alarms", props=ApiAlarmsProps(
            name=name, api_id=self.http_api.id, stage_name=self.http_api.stage_name,
            alarm_topic_arn=inference.alarm_topic_arn, server_error_rate_percent=api.alarm_5xx_rate_percent,
            latency_p99_ms=api.alarm_latency_p99_ms))

        self.invoke_url = self.http_api.invoke_url
        self.output("api_invoke_url", self.invoke_url, "base URL of the API; routes are <url>/v1/predict, /v1/jobs")
        self.output("api_id", self.http_api.id, "HTTP API id (CloudWatch metrics, execute-api ARNs)")
        self.output("api_auth", api.auth, "how callers authenticate: iam (SigV4), jwt (Bearer token) or none")
        self.output("api_predict_backend", api.predict_backend, "what answers POST /v1/predict: lambda, fargate or eks")
        self.output("api_access_log_group", self.http_api.log_group.name, "JSON access logs, one line per request")

    def _lambda_route(self, function: str, method: str, path: str, compute, common: dict) -> ApiRoute:
        if function not in compute.functions:
            raise ValueError(f"api: {method} {path} needs the {function!r} Lambda (lambdas/{function}/handler.py)")
        target = compute.functions[function].function
        return ApiRoute(self, f"route-{function}", props=ApiRouteProps(
            method=method, path=path, function_name=target.function_name, function_invoke_arn=target.invoke_arn,
            **common))

    def _fargate_predict(self, config: PipelineConfig, network, compute, common: dict) -> ApiRoute:
        service = compute.inference_service
        if service is None:
            raise ValueError("api.predict_backend: 'fargate' needs the Fargate inference service "
                             "(compute.inference_service.enabled = true); or use 'lambda'")
        port = service.alb.port
        security_group = EgressSecurityGroup(self, "vpc-link-security-group", props=EgressSecurityGroupProps(
            name=f"{config.name_prefix}-api-vpc-link", vpc_id=network.vpc_id, vpc_cidr=network.vpc_cidr, port=port,
            description="API Gateway VPC link: only out, to the internal load balancer's listener port"))
        self.vpc_link = aws.apigatewayv2_vpc_link.Apigatewayv2VpcLink(
            self, "vpc-link", name=f"{config.name_prefix}-api", subnet_ids=network.private_subnet_ids,
            security_group_ids=[security_group.id])
        # With a certificate on the listener, tls_config makes API Gateway speak HTTPS over the VPC link and verify
        # the certificate against this name; without tls_config it would send plain HTTP.
        return ApiRoute(self, "route-predict-fargate", props=ApiRouteProps(
            method="POST", path="/v1/predict", vpc_link_id=self.vpc_link.id, listener_arn=service.listener_arn,
            backend_path=FARGATE_MODEL_PATH, tls_server_name=service.tls_server_name, **common))
