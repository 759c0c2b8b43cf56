"""The api stack: the public HTTP API in front of the pipeline.

    POST /v1/predict   -> predict Lambda -> SageMaker endpoint   (or VPC link -> internal ALB -> Fargate service)
    POST /v1/jobs      -> submit Lambda  -> requests topic       (202 with a job id)
    GET  /v1/jobs/{id} -> status Lambda  -> results bucket       (200 / 202 / 404)
    POST /v1/batches      -> batch_submit Lambda (batch stack) -> AWS Batch   (202 with a batch id; 201 upload URLs)
    GET  /v1/batches/{id} -> batch_status Lambda (batch stack)                (200 / 404)

Every route shares one authorization mode (IAM or JWT from config), one throttled stage with JSON access logs,
and alarms on the 5xx share and the p99 latencies.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from constructs import Construct

from lambdas import contract
from modules import aws
from modules.config import PipelineConfig
from modules.config.api import SERVICE_BACKENDS
from modules.constructs.api_alarms import ApiAlarms, ApiAlarmsProps
from modules.constructs.api_route import ApiRoute, ApiRouteProps
from modules.constructs.egress_security_group import EgressSecurityGroup, EgressSecurityGroupProps
from modules.constructs.http_api import HttpApi, HttpApiProps
from modules.constructs.pipeline_dashboard import (
    Graph,
    PipelineDashboard,
    PipelineDashboardProps,
    Section,
    variant_comparison,
)
from modules.limits import dead_letter_queue_name
from modules.stacks.base import PipelineStack

if TYPE_CHECKING:  # the producers' classes, for the typed parameters only (no import at run time)
    from modules.stacks.batch import BatchStack
    from modules.stacks.compute import ComputeStack
    from modules.stacks.inference import InferenceStack
    from modules.stacks.messaging import MessagingStack
    from modules.stacks.network import NetworkStack

BATCH_ROUTES = {("POST", "/v1/batches"): "batch_submit", ("GET", "/v1/batches/{id}"): "batch_status"}


class ApiStack(PipelineStack):
    """Exposes `http_api` (HttpApi), `routes` (route key -> ApiRoute), `invoke_url`, `vpc_link` (or None),
    `dashboard` (the environment's PipelineDashboard, or None).

    The dashboard lives here because this is the one stack that sees every other (it needs the API's id, which
    no earlier stack can know)."""

    def __init__(
        self,
        scope: Construct,
        id_: str = "api",
        *,
        config: PipelineConfig,
        network: NetworkStack,
        messaging: MessagingStack,
        compute: ComputeStack,
        inference: InferenceStack,
        batch: BatchStack | None = None,
    ) -> None:
        super().__init__(scope, id_, config=config)
        api = config.api
        name = f"{config.name_prefix}-api"
        self.key = self.customer_key(
            "api-key",
            alias=name,
            description=f"access logs of {name}",
        )
        self.http_api = HttpApi(
            self,
            "http-api",
            props=HttpApiProps(
                name=name,
                auth=api.auth,
                jwt_issuer=api.jwt_issuer,
                jwt_audience=api.jwt_audience,
                cors_allowed_origins=api.cors_allowed_origins,
                throttling_rate_limit=api.throttling_rate_limit,
                throttling_burst_limit=api.throttling_burst_limit,
                log_retention_days=config.log_retention_days,
                log_kms_key_arn=self.key.arn,
            ),
        )
        self.key.allow_log_group(self.http_api.log_group)
        common = {
            "api_id": self.http_api.id,
            "execution_arn": self.http_api.execution_arn,
            "authorization_type": self.http_api.authorization_type,
            "authorizer_id": self.http_api.authorizer_id,
            "timeout_ms": api.integration_timeout_ms,
        }

        self.routes: dict[str, ApiRoute] = {}
        self.vpc_link = None
        if api.predict_backend in SERVICE_BACKENDS:  # the inference service on Fargate or on EKS
            self.routes["POST /v1/predict"] = self._fargate_predict(config, network, compute, common)
        # The same table decides which functions the compute stack deploys (modules/config/api.py).
        for (method, path), function in api.lambda_routes().items():
            self.routes[f"{method} {path}"] = self._lambda_route(function, method, path, compute, common)
        # The batch stack's routes, with the same authorization, stage throttling and access logs.
        for (method, path), function in BATCH_ROUTES.items() if batch is not None else ():
            self.routes[f"{method} {path}"] = self._lambda_route(function, method, path, batch, common)

        self.alarms = ApiAlarms(
            self,
            "alarms",
            props=ApiAlarmsProps(
                name=name,
                api_id=self.http_api.id,
                stage_name=self.http_api.stage_name,
                alarm_topic_arn=messaging.alarm_topic_arn,
                server_error_rate_percent=api.alarm_5xx_rate_percent,
                latency_p99_ms=api.alarm_latency_p99_ms,
            ),
        )

        self.dashboard = None
        if config.inference.dashboard.enabled:
            self.dashboard = PipelineDashboard(self, "dashboard", props=self._dashboard(config, compute, inference))

        self.invoke_url = self.http_api.invoke_url
        self.output("api_invoke_url", self.invoke_url, "base URL of the API; routes are <url>/v1/predict, /v1/jobs")
        self.output("api_id", self.http_api.id, "HTTP API id (CloudWatch metrics, execute-api ARNs)")
        self.output("api_auth", api.auth, "how callers authenticate: iam (SigV4), jwt (Bearer token) or none")
        self.output("api_predict_backend", api.predict_backend, "what answers POST /v1/predict: lambda, fargate or eks")
        self.output("api_access_log_group", self.http_api.log_group.name, "JSON access logs, one line per request")

    def _dashboard(self, config: PipelineConfig, compute, inference) -> PipelineDashboardProps:
        """Every alarm of the environment by name, plus what puts them in context (pipeline_dashboard.py)."""

        def alarm(name: str) -> tuple[str, str]:
            return name, f"arn:{self.partition}:cloudwatch:{config.region}:{self.account_id}:alarm:{name}"

        period = config.inference.dashboard.period_seconds
        api_dimensions = ("ApiId", self.http_api.id, "Stage", self.http_api.stage_name)
        routes = [key.split(" ", 1) for key in self.routes]

        def per_route(metric: str, stat: str) -> tuple:
            return tuple(
                (
                    "AWS/ApiGateway",
                    metric,
                    *api_dimensions,
                    "Method",
                    method,
                    "Resource",
                    path,
                    {"stat": stat, "label": f"{method} {path}"},
                )
                for method, path in routes
            )

        variants = {inference.endpoint.variant_name: inference.alarms.definitions}
        if inference.shadow_alarms:
            variants[inference.endpoint.shadow_variant_name] = inference.shadow_alarms.definitions
        endpoint = inference.endpoint_name
        # The work queues and, async, the endpoint's notifications queue (async_results consumes it).
        queues = [
            *compute.messaging.work_queues.values(),
            *filter(None, (compute.messaging.async_notifications_queue,)),
        ]
        workers = [
            service
            for service in (compute.queue_worker, compute.inference_service and compute.inference_service.service)
            if service is not None
        ]
        worker_function = compute.functions.get("worker")
        return PipelineDashboardProps(
            name=config.name_prefix,
            region=config.region,
            period_seconds=period,
            start=config.inference.dashboard.start,
            sections=(
                Section(
                    title=f"API {config.name_prefix}-api: requests, errors and latency per route",
                    graphs=(
                        Graph(title="Requests per route", metrics=per_route("Count", "Sum")),
                        Graph(title="5xx answers per route", metrics=per_route("5xx", "Sum")),
                        Graph(title="Latency p99 per route (ms)", metrics=per_route("Latency", "p99")),
                    ),
                    alarms=tuple((title, resource.arn) for title, resource in self.alarms.alarms.items()),
                ),
                Section(
                    title=f"SageMaker endpoint {endpoint}: invocations, latency and errors per variant",
                    graphs=(
                        Graph(
                            title="Invocations per variant",
                            metrics=tuple(
                                (
                                    "AWS/SageMaker",
                                    "Invocations",
                                    "EndpointName",
                                    endpoint,
                                    "VariantName",
                                    variant,
                                    {"stat": "Sum", "label": variant},
                                )
                                for variant in variants
                            ),
                        ),
                        *variant_comparison(variants),
                    ),
                    alarms=tuple(alarm(d.name) for definitions in variants.values() for d in definitions),
                ),
                Section(
                    title="Queues: depth, age of the oldest message, dead letters",
                    graphs=(
                        Graph(
                            title="Messages waiting per queue",
                            metrics=tuple(
                                (
                                    "AWS/SQS",
                                    "ApproximateNumberOfMessagesVisible",
                                    "QueueName",
                                    queue.name,
                                    {"stat": "Maximum", "label": queue.name},
                                )
                                for queue in queues
                            ),
                        ),
                        Graph(
                            title="Dead letters per queue",
                            metrics=tuple(
                                (
                                    "AWS/SQS",
                                    "ApproximateNumberOfMessagesVisible",
                                    "QueueName",
                                    dead_letter_queue_name(queue.name),
                                    {"stat": "Maximum", "label": dead_letter_queue_name(queue.name)},
                                )
                                for queue in queues
                            ),
                        ),
                    ),
                    alarms=tuple(alarm(name) for queue in queues for name in queue.alarm_names.values()),
                ),
                Section(
                    title="Workers: running tasks and invocations",
                    graphs=(
                        *(
                            (
                                Graph(
                                    title="Running tasks per Fargate service",
                                    metrics=tuple(
                                        (
                                            "ECS/ContainerInsights",
                                            "RunningTaskCount",
                                            "ClusterName",
                                            compute.cluster.name,
                                            "ServiceName",
                                            service.name,
                                            {"stat": "Average", "label": service.name},
                                        )
                                        for service in workers
                                    ),
                                ),
                            )
                            if workers
                            else ()
                        ),
                        *(
                            (
                                Graph(
                                    title="Worker function: invocations, errors, concurrency",
                                    metrics=tuple(
                                        (
                                            "AWS/Lambda",
                                            metric,
                                            "FunctionName",
                                            worker_function.name,
                                            {"stat": stat, "label": metric},
                                        )
                                        for metric, stat in (
                                            ("Invocations", "Sum"),
                                            ("Errors", "Sum"),
                                            ("ConcurrentExecutions", "Maximum"),
                                        )
                                    ),
                                ),
                            )
                            if worker_function
                            else ()
                        ),
                    ),
                    alarms=tuple(
                        alarm(d.name) for alarms in compute.deployment_alarms.values() for d in alarms.definitions
                    ),
                ),
            ),
        )

    def _lambda_route(self, function: str, method: str, path: str, owner, common: dict) -> ApiRoute:
        """A route to FUNCTION, one of OWNER's functions (the compute or the batch stack)."""
        if function not in owner.functions:
            raise ValueError(f"api: {method} {path} needs the {function!r} Lambda (lambdas/{function}/handler.py)")
        target = owner.functions[function].function
        return ApiRoute(
            self,
            f"route-{function}",
            props=ApiRouteProps(
                method=method,
                path=path,
                function_name=target.function_name,
                function_invoke_arn=target.invoke_arn,
                **common,
            ),
        )

    def _fargate_predict(self, config: PipelineConfig, network, compute, common: dict) -> ApiRoute:
        service = compute.inference_service
        if service is None:
            raise ValueError(
                "api.predict_backend: 'fargate' needs the Fargate inference service "
                "(compute.inference_service.enabled = true); or use 'lambda'"
            )
        port = service.alb.port
        security_group = EgressSecurityGroup(
            self,
            "vpc-link-security-group",
            props=EgressSecurityGroupProps(
                name=f"{config.name_prefix}-api-vpc-link",
                vpc_id=network.vpc_id,
                vpc_cidr=network.vpc_cidr,
                port=port,
                description="API Gateway VPC link: only out, to the internal load balancer's listener port",
            ),
        )
        self.vpc_link = aws.apigatewayv2_vpc_link.Apigatewayv2VpcLink(
            self,
            "vpc-link",
            name=f"{config.name_prefix}-api",
            subnet_ids=network.private_subnet_ids,
            security_group_ids=[security_group.id],
        )
        # With a certificate on the listener, tls_config makes API Gateway speak HTTPS over the VPC link and verify
        # the certificate against this name; without tls_config it would send plain HTTP.
        return ApiRoute(
            self,
            "route-predict-fargate",
            props=ApiRouteProps(
                method="POST",
                path="/v1/predict",
                vpc_link_id=self.vpc_link.id,
                listener_arn=service.listener_arn,
                backend_path=contract.INVOCATIONS_PATH,
                tls_server_name=service.tls_server_name,
                **common,
            ),
        )
