"""The compute stack: Lambda functions, the ECS cluster, the Fargate inference service with its load balancer,
and the queue worker. Checks that need other sections (queue names, production, the endpoint mode, the API) are
in `problems()`.

Why the payload and time limits are derived here: AWS enforces them on the hops between services (API Gateway,
Lambda's event, the SageMaker endpoint), where the emulator enforces nothing. A body or a timeout that cannot
fit is refused at synth with one line naming the field, instead of failing a real request (docs/security.md: Payload
limits, Time budgets). The numbers come from modules/limits.py.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field

from lambdas.contract import (
    BACKEND_HTTP,
    BACKEND_SAGEMAKER,
    BACKEND_SAGEMAKER_ASYNC,
    DEFAULT_MODEL_TIMEOUT_SECONDS,
    JOB_OVERHEAD_SECONDS,
    LONG_POLL_SECONDS,
    REPLY_MARGIN_SECONDS,
)
from modules.config.api import SERVICE_BACKENDS, ApiConfig
from modules.config.base import StrictModel
from modules.config.batch import BATCH_FUNCTIONS
from modules.config.eks import EksConfig
from modules.config.fargate import (
    InferenceServiceConfig,
    LoadBalancerConfig,
    QueueWorkerConfig,
)
from modules.config.image_tag import image_tag_problems
from modules.config.inference import InferenceConfig
from modules.config.lambdas import LambdaConfig, handler_folders
from modules.limits import (
    API_GATEWAY_BASE64_GROWTH,
    API_GATEWAY_HTTP_PAYLOAD,
    EKS_CLUSTER_NAME,
    FARGATE_STOP_TIMEOUT,
    IAM_ROLE_NAME,
    KIB,
    LAMBDA_FUNCTION_NAME,
    LAMBDA_SYNC_PAYLOAD,
    LOAD_BALANCER_NAME,
    LOG_GROUP_NAME,
    SAGEMAKER_ASYNC_S3_PAYLOAD,
    SAGEMAKER_INVOCATION_TIMEOUT,
    SAGEMAKER_REALTIME_PAYLOAD,
    SAGEMAKER_SERVERLESS_PAYLOAD,
    SQS_VISIBILITY_TIMEOUT_FACTOR,
    TARGET_GROUP_NAME,
    Limit,
    name_problem,
)

# What API Gateway wraps around the body in a Lambda event: the request line and headers (at most 10 KiB on an
# HTTP API), the request context, JWT claims. 64 KiB leaves room for all of it.
LAMBDA_EVENT_ENVELOPE_BYTES = 64 * KIB
# Between API Gateway's clock and the function's: the network hop and a cold start's init phase (about a second
# for these handlers, and not counted in the function's timeout).
API_HEADROOM_SECONDS = 2
PREDICT = "predict"
WORKER = "worker"


def lambda_event_body_max() -> int:
    """The largest request body that fits a Lambda event: the 6 MiB invocation limit, less the envelope, with
    the body base64-encoded (API Gateway encodes any body it treats as binary: 3 bytes become 4)."""
    grown, raw = API_GATEWAY_BASE64_GROWTH.value
    return (LAMBDA_SYNC_PAYLOAD.value - LAMBDA_EVENT_ENVELOPE_BYTES) * raw // grown


# The queue worker's Fargate capacity-provider shares: meaningless on EKS, so refused there rather than ignored.
FARGATE_CAPACITY_SETTINGS = frozenset({"fargate_base", "fargate_weight", "fargate_spot_weight"})
# The ECS Application Auto Scaling knobs that no Kubernetes object carries (the eks stack's _workloads maps
# min/max counts, cpu_target_percent, messages_per_task, scale_in_evaluation_minutes and stop_timeout_seconds onto
# the HorizontalPodAutoscaler and the ScaledObject; the autoscalers own the replica count, so no desired_count):
# refused on EKS when set to anything but their default, rather than silently doing nothing.
ECS_ONLY_SCALING_SETTINGS = {
    "inference_service": (
        "desired_count",
        "requests_per_target",
        "scale_in_cooldown_seconds",
        "scale_out_cooldown_seconds",
    ),
    "queue_worker": ("cooldown_seconds", "desired_count", "scale_out_evaluation_minutes"),
}


@dataclass(frozen=True)
class PayloadLimits:
    """The largest body AWS carries on each route (bytes), each with the hop that bounds it."""

    predict: int  # POST /v1/predict, whichever backend answers it
    predict_bound: str
    jobs: int  # POST /v1/jobs, and the worker's model call
    jobs_bound: str
    inference_service: int  # the Fargate model server's own limit
    inference_service_bound: str


class ComputeConfig(StrictModel):
    """Where the model runs for the functions, and every compute knob."""

    model_backend: Literal["sagemaker", "http"] = Field(
        default=BACKEND_SAGEMAKER,
        description=f"what predict/worker call: {BACKEND_SAGEMAKER} (the endpoint) or {BACKEND_HTTP} (the Fargate "
        "service behind the load balancer)",
    )
    model_url: str | None = Field(
        default=None,
        pattern=r"^https?://[^\s/]+(:\d+)?$",
        description="MODEL_URL override for the http backend; default: the load balancer (https://<tls_server_name> "
        "when it has a certificate: a DNS record of that name must point at it)",
    )
    model_timeout_seconds: int = Field(
        default=DEFAULT_MODEL_TIMEOUT_SECONDS,
        ge=1,
        le=SAGEMAKER_INVOCATION_TIMEOUT.value,
        description="seconds one model call may take (one attempt, no SDK retries); cut to the time the invocation "
        "has left. Checked at synth: the worker's batch of jobs, each this plus "
        f"{JOB_OVERHEAD_SECONDS} s, must take less than the worker's timeout, and predict's timeout must be at least "
        f"this plus {REPLY_MARGIN_SECONDS} s",
    )
    egress_to_internet: bool = Field(
        default=False,
        description="allow HTTPS egress to 0.0.0.0/0 (through NAT); default: only the VPC (interface "
        "endpoints) and the S3 gateway endpoint",
    )
    orchestrator: Literal["ecs", "eks"] = Field(
        default="ecs",
        description="where the inference service and the queue worker run: ecs (Fargate, no cluster to run) or "
        "eks (an EKS cluster, [compute.eks]; the workloads are Kubernetes manifests)",
    )
    eks: EksConfig = Field(default_factory=EksConfig, description="[orchestrator = eks] the EKS cluster")
    lambdas: LambdaConfig = Field(default_factory=LambdaConfig)
    inference_service: InferenceServiceConfig = Field(default_factory=InferenceServiceConfig)
    load_balancer: LoadBalancerConfig = Field(default_factory=LoadBalancerConfig)
    queue_worker: QueueWorkerConfig = Field(default_factory=QueueWorkerConfig)

    def problems(
        self,
        *,
        production: bool,
        queue_names: tuple[str, ...],
        name_prefix: str | None = None,
        inference: InferenceConfig | None = None,
        api: ApiConfig | None = None,
    ) -> list[str]:
        """Checks across sections: production tags and TLS, queue names that exist, a reachable http backend, and
        (given the name prefix, the inference and api sections) the AWS limits on names, payloads and time."""
        problems = []
        for section in ("inference_service", "queue_worker"):
            service = getattr(self, section)
            if service.enabled:
                problems += image_tag_problems(f"compute.{section}.image_tag", service.image_tag, production=production)
        if production and self.inference_service.enabled and not self.load_balancer.tls:
            problems.append(
                "compute.load_balancer.certificate_arn: required when production = true (API Gateway and "
                "the functions send confidential data to the load balancer); set certificate_arn (ACM, "
                "same region) and tls_server_name (the DNS name the certificate carries)"
            )
        problems += self.consumer_problems(queue_names)
        known = (*handler_folders(), *BATCH_FUNCTIONS)
        for name in sorted(set(self.lambdas.functions) - set(known)):
            problems.append(
                f"compute.lambdas.functions.{name}: no function {name!r} in lambdas/; "
                f"allowed: {', '.join(sorted(known))}"
            )
        for field, backend in (
            ("compute.model_backend", self.model_backend),
            ("compute.queue_worker.model_backend", self.queue_worker.model_backend),
        ):
            if backend == BACKEND_HTTP and not self.inference_service.enabled and not self.model_url:
                problems.append(f"{field}: 'http' needs inference_service.enabled = true or a model_url")
        problems += self._model_url_problems()
        if name_prefix is not None:
            problems += self.name_problems(name_prefix, handler_folders())
        if inference is not None and api is not None:
            problems += self.async_problems(endpoint_mode=inference.mode, predict_backend=api.predict_backend)
            problems += self.payload_problems(endpoint_mode=inference.mode, predict_backend=api.predict_backend)
            problems += self.time_problems(
                api_functions=tuple(sorted(set(api.lambda_routes().values()))),
                integration_timeout_ms=api.integration_timeout_ms,
            )
        return problems

    def _model_url_problems(self) -> list[str]:
        """With an HTTPS load balancer, MODEL_URL must be a URL whose certificate check can succeed."""
        if (
            self.model_backend != BACKEND_HTTP
            or not self.inference_service.enabled
            or not self.load_balancer.tls
            or not self.model_url
        ):
            return []
        url = urlsplit(self.model_url)
        name = self.load_balancer.tls_server_name
        if url.scheme != "https" or url.hostname != name:
            return [
                f"compute.model_url: {self.model_url!r} cannot verify the load balancer's certificate; with "
                f"certificate_arn use https://{name} (compute.load_balancer.tls_server_name), or leave it unset"
            ]
        return []

    def orchestrator_problems(self, *, account_id: str | None, predict_backend: str) -> list[str]:
        """The orchestrator and what depends on it: the EKS section, the API's backend, the account."""
        if self.orchestrator == "ecs":
            problems = []
            if "eks" in self.model_fields_set:
                problems.append(
                    "compute.eks: applies only to compute.orchestrator = 'eks'; remove it, or set orchestrator = 'eks'"
                )
            if predict_backend == "eks":
                problems.append(
                    "api.predict_backend: 'eks' needs compute.orchestrator = 'eks'; on ECS use 'fargate' (or 'lambda')"
                )
            return problems
        problems = self.eks.problems()
        for name in sorted(self.queue_worker.model_fields_set & FARGATE_CAPACITY_SETTINGS):
            problems.append(
                f"compute.queue_worker.{name}: applies only to compute.orchestrator = 'ecs' (Fargate capacity "
                "providers); on EKS the pods run on the cluster's nodes (Auto Mode's, or compute.eks.node_group's, "
                "whose capacity_type chooses Spot); remove it"
            )
        for section, names in ECS_ONLY_SCALING_SETTINGS.items():
            settings = getattr(self, section)
            for name in names:
                if getattr(settings, name) != type(settings).model_fields[name].default:
                    problems.append(
                        f"compute.{section}.{name}: does nothing on EKS (ECS autoscaling only; the pods' "
                        "HorizontalPodAutoscaler or KEDA ScaledObject has no such setting); remove it"
                    )
        if predict_backend == "fargate":
            problems.append(
                "api.predict_backend: 'fargate' is the ECS service, but compute.orchestrator = 'eks': "
                "use 'eks' (the same route through the VPC link to the EKS service) or 'lambda'"
            )
        if predict_backend == "eks" and not self.inference_service.enabled:
            problems.append(
                "api.predict_backend: 'eks' needs the inference service "
                "(compute.inference_service.enabled = true); or use 'lambda'"
            )
        if self.inference_service.enabled and self.inference_service.min_count < 1:
            problems.append(
                "compute.inference_service.min_count: 0 is not possible on EKS (a HorizontalPodAutoscaler "
                "keeps at least one pod); allowed: 1 or more"
            )
        if account_id is None:
            problems.append(
                "allowed_account_ids: required with compute.orchestrator = 'eks': the Kubernetes "
                "manifests are written at synth and name the account's image registry, queue and "
                "buckets (for the emulator, moto's account 123456789012)"
            )
        return problems

    # --- names --------------------------------------------------------------------------------------------------

    @staticmethod
    def function_name(name_prefix: str, folder: str) -> str:
        """`<project>-<environment>-<folder in lambdas/>`, dashes for the underscores a Python package name needs."""
        return f"{name_prefix}-{folder.replace('_', '-')}"

    @staticmethod
    def inference_service_name(name_prefix: str) -> str:
        """The inference service, its load balancer and target group: `<project>-<environment>-inference`."""
        return f"{name_prefix}-inference"

    @staticmethod
    def queue_worker_name(name_prefix: str) -> str:
        return f"{name_prefix}-queue-worker"

    def physical_names(self, name_prefix: str, function_names: tuple[str, ...]) -> list[tuple[Limit, str, str, str]]:
        """(limit, name, what, pattern) of every name this stack builds from the prefix. The suffixes of roles and
        log groups are the constructs' (LambdaFunction, FargateService, EcsCluster); tests/stacks/test_compute.py
        checks this list against the synthesized names, so the two cannot drift apart."""
        names = []
        for folder in function_names:
            function = self.function_name(name_prefix, folder)
            pattern = self.function_name("<project>-<environment>", folder)
            names += [
                (LAMBDA_FUNCTION_NAME, function, "Lambda function", pattern),
                (IAM_ROLE_NAME, f"{function}-lambda", "IAM role", f"{pattern}-lambda"),
                (LOG_GROUP_NAME, f"/aws/lambda/{function}", "log group", f"/aws/lambda/{pattern}"),
            ]
        if self.orchestrator != "ecs":
            return names  # the services run on EKS: eks_physical_names()
        names.append(
            (LOG_GROUP_NAME, f"/ecs/{name_prefix}/exec", "ECS Exec log group", "/ecs/<project>-<environment>/exec")
        )
        services = []
        if self.inference_service.enabled:
            service = self.inference_service_name(name_prefix)
            services.append((service, "<project>-<environment>-inference"))
            names += self._load_balancer_names(name_prefix)
        if self.queue_worker.enabled:
            services.append((self.queue_worker_name(name_prefix), "<project>-<environment>-queue-worker"))
        for service, pattern in services:
            names += [
                (IAM_ROLE_NAME, f"{service}-execution", "IAM role", f"{pattern}-execution"),
                (IAM_ROLE_NAME, f"{service}-task", "IAM role", f"{pattern}-task"),
                (LOG_GROUP_NAME, f"/ecs/{service}", "log group", f"/ecs/{pattern}"),
            ]
        return names

    def _load_balancer_names(self, name_prefix: str) -> list[tuple[Limit, str, str, str]]:
        service, pattern = self.inference_service_name(name_prefix), "<project>-<environment>-inference"
        return [
            (LOAD_BALANCER_NAME, service, "load balancer", pattern),
            (TARGET_GROUP_NAME, service, "target group", pattern),
        ]

    @staticmethod
    def eks_cluster_name(name_prefix: str) -> str:
        return name_prefix

    def eks_physical_names(self, name_prefix: str) -> list[tuple[Limit, str, str, str]]:
        """(limit, name, what, pattern) of every name the eks stack builds from the prefix (the suffixes are the
        constructs' and the stack's; tests/stacks/test_eks.py checks this list against the synthesized names)."""
        if self.orchestrator != "eks":
            return []
        cluster, pattern = self.eks_cluster_name(name_prefix), "<project>-<environment>"
        names = [
            (EKS_CLUSTER_NAME, cluster, "EKS cluster", pattern),
            (LOG_GROUP_NAME, f"/aws/eks/{cluster}/cluster", "control-plane log group", f"/aws/eks/{pattern}/cluster"),
            (IAM_ROLE_NAME, f"{cluster}-eks-cluster", "IAM role", f"{pattern}-eks-cluster"),
            (IAM_ROLE_NAME, f"{cluster}-eks-nodes", "IAM role", f"{pattern}-eks-nodes"),
        ]
        if self.inference_service.enabled:
            names += self._load_balancer_names(name_prefix)
        if self.queue_worker.enabled:
            worker = self.queue_worker_name(name_prefix)
            names += [
                (IAM_ROLE_NAME, f"{worker}-pod", "IAM role", f"{pattern}-queue-worker-pod"),
                (IAM_ROLE_NAME, f"{cluster}-keda-operator", "IAM role", f"{pattern}-keda-operator"),
            ]
        if not self.eks.auto_mode:
            names.append((IAM_ROLE_NAME, f"{cluster}-lb-controller", "IAM role", f"{pattern}-lb-controller"))
        return names

    def name_problems(self, name_prefix: str, function_names: tuple[str, ...]) -> list[str]:
        """Names AWS would refuse as too long, each naming the settings that compose it."""
        problems = []
        for limit, name, what, pattern in [
            *self.physical_names(name_prefix, function_names),
            *self.eks_physical_names(name_prefix),
        ]:
            problem = name_problem(limit, name, what, pattern, "project, environment")
            if problem:
                problems.append(problem)
        return problems

    # --- payloads -----------------------------------------------------------------------------------------------

    def payload_limits(
        self, *, endpoint_mode: str, predict_backend: str, model_backend: str | None = None
    ) -> PayloadLimits:
        """The largest body each route can carry, from the hops it crosses (modules/limits.py); MODEL_BACKEND: the
        jobs' caller's backend (default compute.model_backend, the worker function's)."""
        model_backend = model_backend or self.model_backend
        lambda_body = lambda_event_body_max()
        lambda_bound = f"a Lambda event ({LAMBDA_SYNC_PAYLOAD.value} bytes with the API Gateway envelope and base64)"
        if predict_backend in SERVICE_BACKENDS:
            service_max, service_bound = API_GATEWAY_HTTP_PAYLOAD.value, "API Gateway's HTTP API payload"
        else:
            service_max, service_bound = lambda_body, f"what its Lambda callers can send, {lambda_bound}"
        service = self.inference_service.max_payload_bytes or service_max
        if model_backend == BACKEND_SAGEMAKER:
            if endpoint_mode == "async":
                model, model_bound = SAGEMAKER_ASYNC_S3_PAYLOAD.value, "an asynchronous endpoint's S3 input"
            elif endpoint_mode == "serverless":
                model, model_bound = SAGEMAKER_SERVERLESS_PAYLOAD.value, "a serverless SageMaker endpoint"
            else:
                model, model_bound = SAGEMAKER_REALTIME_PAYLOAD.value, "SageMaker InvokeEndpoint"
        elif self.inference_service.enabled and not self.model_url:
            model, model_bound = service, "the inference service (compute.inference_service.max_payload_bytes)"
        else:
            model, model_bound = lambda_body, lambda_bound  # an external model_url: its limit is not ours to know
        jobs, jobs_bound = min((lambda_body, lambda_bound), (model, model_bound))
        if predict_backend in SERVICE_BACKENDS:
            predict, predict_bound = min((service_max, service_bound), (service, "the inference service"))
        else:
            predict, predict_bound = jobs, jobs_bound
        return PayloadLimits(
            predict=predict,
            predict_bound=predict_bound,
            jobs=jobs,
            jobs_bound=jobs_bound,
            inference_service=service_max,
            inference_service_bound=service_bound,
        )

    def payload_problems(self, *, endpoint_mode: str, predict_backend: str) -> list[str]:
        limits = self.payload_limits(endpoint_mode=endpoint_mode, predict_backend=predict_backend)
        problems = []
        configured = self.lambdas.max_payload_bytes
        routes = [("POST /v1/jobs", limits.jobs, limits.jobs_bound)]
        if predict_backend == "lambda":
            routes.append(("POST /v1/predict", limits.predict, limits.predict_bound))
        over = [(route, maximum, bound) for route, maximum, bound in routes if configured and configured > maximum]
        if over:
            route, maximum, bound = min(over, key=lambda item: item[1])
            problems.append(
                f"compute.lambdas.max_payload_bytes: {configured} bytes is more than {route} can carry "
                f"on AWS: at most {maximum} bytes, bounded by {bound}; allowed: 1024-{maximum} or unset "
                "(the derived maximum)"
            )
        service = self.inference_service.max_payload_bytes
        if self.inference_service.enabled and service and service > limits.inference_service:
            problems.append(
                f"compute.inference_service.max_payload_bytes: {service} bytes is more than can reach "
                f"the service: at most {limits.inference_service} bytes, bounded by "
                f"{limits.inference_service_bound}; allowed: 1024-{limits.inference_service} or unset"
            )
        return problems

    def function_payload_bytes(self, function: str, *, endpoint_mode: str, predict_backend: str) -> int:
        """MAX_PAYLOAD_BYTES of FUNCTION: the configured limit, else its route's derived maximum."""
        limits = self.payload_limits(endpoint_mode=endpoint_mode, predict_backend=predict_backend)
        # Off the API (predict_backend = "fargate" or "eks"), a predict function is bounded by its Lambda event like the rest.
        route_max = limits.predict if function == PREDICT and predict_backend == "lambda" else limits.jobs
        return self.lambdas.max_payload_bytes or route_max

    def queue_worker_payload_bytes(self, *, endpoint_mode: str, predict_backend: str) -> int:
        """MAX_PAYLOAD_BYTES of the queue worker's model call, with the queue worker's own backend."""
        limits = self.payload_limits(
            endpoint_mode=endpoint_mode, predict_backend=predict_backend, model_backend=self.queue_worker_model_backend
        )
        return min(self.lambdas.max_payload_bytes or limits.jobs, limits.jobs)

    def inference_service_payload_bytes(self, *, endpoint_mode: str, predict_backend: str) -> int:
        """MAX_PAYLOAD_BYTES of the Fargate model server."""
        limits = self.payload_limits(endpoint_mode=endpoint_mode, predict_backend=predict_backend)
        return self.inference_service.max_payload_bytes or limits.inference_service

    # --- time ---------------------------------------------------------------------------------------------------

    def time_problems(self, *, api_functions: tuple[str, ...], integration_timeout_ms: int) -> list[str]:
        """Timeouts that cannot fit inside each other: the worker's batch, and every function behind the API
        (api_functions: the folders in lambdas/ that ApiConfig.lambda_routes() routes to)."""
        problems = []
        lambdas, model = self.lambdas, self.model_timeout_seconds
        worker_timeout = lambdas.sizing(WORKER).timeout_seconds
        per_job = model + JOB_OVERHEAD_SECONDS
        # The handler starts a job only while at least a job's time is left (lambdas/worker/handler.py), and some
        # time has always passed when it looks: a timeout equal to the jobs' time defers the last job every time.
        if per_job >= worker_timeout:
            problems.append(
                f"compute.model_timeout_seconds: {model} s plus {JOB_OVERHEAD_SECONDS} s per job is not less "
                f"than the worker's timeout of {worker_timeout} s ({lambdas.timeout_field(WORKER)}): no "
                "job could ever finish; lower the model timeout or raise the worker's timeout"
            )
        elif lambdas.worker_batch_size * per_job >= worker_timeout:
            problems.append(
                f"compute.lambdas.worker_batch_size: a batch of {lambdas.worker_batch_size} jobs run one after another "
                f"needs {lambdas.worker_batch_size} x ({model} s model timeout + {JOB_OVERHEAD_SECONDS} s) = "
                f"{lambdas.worker_batch_size * per_job} s, not less than the worker's timeout of {worker_timeout} s "
                f"({lambdas.timeout_field(WORKER)}): on a slow model, jobs are handed back unstarted until they reach "
                f"the dead-letter queue; allowed: at most {math.ceil(worker_timeout / per_job) - 1} jobs, or a lower "
                "compute.model_timeout_seconds, or a longer worker timeout (queues' visibility timeout >= 6x it)"
            )
        drain = LONG_POLL_SECONDS + per_job
        if self.queue_worker.enabled and drain > self.queue_worker.stop_timeout_seconds:
            problems.append(
                f"compute.queue_worker.stop_timeout_seconds: {self.queue_worker.stop_timeout_seconds} s "
                f"cannot fit a stop: one long poll ({LONG_POLL_SECONDS} s) plus a job ({model} s model "
                f"timeout + {JOB_OVERHEAD_SECONDS} s) is {drain} s, and ECS kills the task at the stop "
                f"timeout; allowed: {drain}-{FARGATE_STOP_TIMEOUT.value} s, or a lower "
                "compute.model_timeout_seconds"
            )
        for function in api_functions:
            timeout = lambdas.sizing(function).timeout_seconds
            if (timeout + API_HEADROOM_SECONDS) * 1000 > integration_timeout_ms:
                problems.append(
                    f"{lambdas.timeout_field(function)}: {function}'s {timeout} s plus {API_HEADROOM_SECONDS} s "
                    f"headroom is more than api.integration_timeout_ms ({integration_timeout_ms} ms): API Gateway "
                    f"would cut the call and answer for it; allowed: at most "
                    f"{integration_timeout_ms // 1000 - API_HEADROOM_SECONDS} s"
                )
        if PREDICT in api_functions:
            timeout = lambdas.sizing(PREDICT).timeout_seconds
            if model + REPLY_MARGIN_SECONDS > timeout:
                problems.append(
                    f"compute.model_timeout_seconds: {model} s plus {REPLY_MARGIN_SECONDS} s to answer is "
                    f"more than predict's timeout of {timeout} s ({lambdas.timeout_field(PREDICT)}): "
                    "a slow model would be cut at the time left, never at the configured timeout; "
                    f"allowed: at most {timeout - REPLY_MARGIN_SECONDS} s"
                )
        return problems

    # --- queues and their consumers ----------------------------------------------------------------------------

    def worker_queue_for_fargate(self, queue_names: tuple[str, ...]) -> str | None:
        """The queue the queue worker consumes (None when it is disabled): the configured one, else the first."""
        if not self.queue_worker.enabled or not queue_names:
            return None
        return self.queue_worker.queue or queue_names[0]

    def lambda_worker_queues(self, queue_names: tuple[str, ...]) -> tuple[str, ...]:
        """The queues the worker function consumes: the configured ones, else every queue the queue worker does not."""
        if self.lambdas.worker_queues is not None:
            return tuple(self.lambdas.worker_queues)
        return tuple(name for name in queue_names if name != self.worker_queue_for_fargate(queue_names))

    def consumer_problems(self, queue_names: tuple[str, ...]) -> list[str]:
        """One consumer per queue: every work queue is consumed by exactly one of the worker function and the queue
        worker. Two consumers would split a queue's messages between two scaling policies and two failure paths;
        none would let its jobs wait forever."""
        problems, known = [], ", ".join(queue_names)
        fargate_queue = self.queue_worker.queue
        if self.queue_worker.enabled and fargate_queue is not None and fargate_queue not in queue_names:
            problems.append(f"compute.queue_worker.queue: no work queue {fargate_queue!r}; allowed: {known}")
        listed = self.lambdas.worker_queues or ()
        for queue in sorted(set(listed) - set(queue_names)):
            problems.append(f"compute.lambdas.worker_queues: no work queue {queue!r}; allowed: {known}")
        if problems:
            return problems
        repeated = sorted({queue for queue in listed if listed.count(queue) > 1})
        if repeated:
            problems.append(f"compute.lambdas.worker_queues: {', '.join(map(repr, repeated))} listed more than once")
        fargate = self.worker_queue_for_fargate(queue_names)
        function = set(self.lambda_worker_queues(queue_names))
        if fargate in function:
            problems.append(
                f"compute: work queue {fargate!r} is claimed by both compute.lambdas.worker_queues and "
                "compute.queue_worker.queue; a queue has exactly one consumer: remove it from one of them"
            )
        unclaimed = [queue for queue in queue_names if queue != fargate and queue not in function]
        if unclaimed:
            problems.append(
                f"compute: work queue(s) {', '.join(map(repr, unclaimed))} have no consumer; list them in "
                "compute.lambdas.worker_queues (the worker function) or set compute.queue_worker.queue "
                "(the queue worker)"
            )
        return problems + self._worker_reservation_problems(len(function))

    def visibility_problems(self, visibility: dict[str, tuple[str, int]]) -> list[str]:
        """Every queue the worker function consumes hides a received message for at least 6x the function's
        timeout (limits.SQS_VISIBILITY_TIMEOUT_FACTOR): a batch Lambda retries after a throttle would otherwise
        reappear while it still runs and be processed twice. VISIBILITY maps each work queue's name to its config
        field and its visibility timeout. (The event source construct refuses the same, naming no config field.)"""
        lambdas, factor = self.lambdas, SQS_VISIBILITY_TIMEOUT_FACTOR.value
        timeout = lambdas.sizing(WORKER).timeout_seconds
        needed = factor * timeout
        problems = []
        for queue in self.lambda_worker_queues(tuple(visibility)):
            if queue not in visibility:  # an unknown queue name: consumer_problems names it
                continue
            field, seconds = visibility[queue]
            if seconds < needed:
                problems.append(
                    f"{field}: {seconds} s is under {factor} x the worker function's timeout of {timeout} s "
                    f"({lambdas.timeout_field(WORKER)}) = {needed} s, so a batch could reappear while it still "
                    f"runs; allowed: at least {needed} s, or a shorter worker timeout"
                )
        return problems

    def _worker_reservation_problems(self, queues: int) -> list[str]:
        """The worker's reserved concurrency must cover what its event sources may invoke at once
        (limits.SQS_EVENT_SOURCE_MAX_CONCURRENCY): above it, Lambda throttles batches back into their queues,
        where every return counts towards the dead-letter limit, so jobs would reach the dead-letter queue unrun."""
        lambdas = self.lambdas
        reserved = lambdas.sizing(WORKER).reserved_concurrency
        at_once = queues * lambdas.worker_maximum_concurrency
        if reserved is None or reserved >= at_once:
            return []
        return [
            f"{lambdas.sizing_field(WORKER, 'reserved_concurrency')}: {reserved} is less than the worker's event "
            f"sources may invoke at once ({queues} queue(s) x compute.lambdas.worker_maximum_concurrency "
            f"{lambdas.worker_maximum_concurrency} = {at_once}); Lambda would throttle the rest, and throttled "
            f"batches count towards the dead-letter limit; allowed: at least {at_once}, unset, or a lower "
            "compute.lambdas.worker_maximum_concurrency"
        ]

    # --- model backends -----------------------------------------------------------------------------------------

    @property
    def queue_worker_model_backend(self) -> str:
        """What the queue worker's jobs call: its own setting, else compute.model_backend."""
        return self.queue_worker.model_backend or self.model_backend

    @staticmethod
    def backend_variable(backend: str, endpoint_mode: str) -> str:
        """MODEL_BACKEND of a caller: an asynchronous endpoint is called differently (lambdas/model_client.py)."""
        return BACKEND_SAGEMAKER_ASYNC if backend == BACKEND_SAGEMAKER and endpoint_mode == "async" else backend

    def async_problems(self, *, endpoint_mode: str, predict_backend: str) -> list[str]:
        """An asynchronous endpoint answers no synchronous call, so nothing synchronous may be routed to it."""
        if endpoint_mode != "async" or predict_backend != "lambda" or self.model_backend != BACKEND_SAGEMAKER:
            return []
        return [
            "api.predict_backend: 'lambda' calls the SageMaker endpoint synchronously, which an endpoint in mode "
            "'async' refuses; use api.predict_backend = 'fargate' (the inference service) or "
            "compute.model_backend = 'http'"
        ]
