"""The compute stack: one Lambda function per folder in lambdas/, the ECS cluster, the Fargate inference service
behind its load balancer, and the Fargate queue worker (the image's `work` command, mostly on Spot) scaled on its
work queue's backlog per task. Every work queue has exactly one consumer: the worker function's event sources or
the queue worker (config: compute.lambdas.worker_queues, compute.queue_worker.queue).

Every environment variable a function or container reads is named by a constant of lambdas/contract.py, so the
infrastructure and the code share one definition. Every grant names the exact ARN (and S3 prefix) the code uses.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from constructs import Construct

from lambdas import contract
from modules import aws
from modules.config import PipelineConfig
from modules.config.api import ROUTED_FUNCTIONS
from modules.config.batch import BATCH_FUNCTIONS
from modules.config.fargate import LoadBalancerConfig
from modules.constructs.application_load_balancer import (
    ApplicationLoadBalancer,
)
from modules.constructs.aws_api_egress import allow_https_to_aws_apis
from modules.constructs.ecs_cluster import EcsCluster, EcsClusterProps
from modules.constructs.fargate_service import FargateService, FargateServiceProps
from modules.constructs.lambda_function import LambdaFunction
from modules.constructs.lambda_package import (
    function_names,
)
from modules.constructs.policy_statements import statement
from modules.constructs.queue_worker_scaling import (
    QueueWorkerScaling,
    QueueWorkerScalingProps,
)
from modules.constructs.service_autoscaling import (
    ServiceAutoscaling,
    ServiceAutoscalingProps,
)
from modules.constructs.service_deployment_alarms import (
    ServiceDeploymentAlarms,
    ServiceDeploymentAlarmsProps,
)
from modules.constructs.sqs_event_source import SqsEventSource, SqsEventSourceProps
from modules.limits import HTTPS_PORT
from modules.stacks.base import PipelineStack
from modules.stacks.model_load_balancer import model_load_balancer, model_load_balancer_outputs
from modules.stacks.pipeline_function import pipeline_function

if TYPE_CHECKING:  # the producers' classes, for the typed parameters only (no import at run time)
    from pathlib import Path

    from modules.stacks.eks import EksStack
    from modules.stacks.messaging import MessagingStack
    from modules.stacks.network import NetworkStack
    from modules.stacks.registry import RegistryStack
    from modules.stacks.storage import StorageStack

# The queue consumer's health check, run in the image's working directory (containers/inference/queue_worker/health.py).
HEALTH_CHECK_COMMAND = ("python", "-m", "queue_worker.health")
# What Lambda's SQS event source polls with the function's role (AWSLambdaSQSQueueExecutionRole's list).
SQS_EVENT_SOURCE = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"]
# What a container consumer calls itself: it also hides a message longer while a job runs.
SQS_CONSUMER = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility"]
# SNS publishes to (and SQS deliveries from) a CMK-encrypted topic or queue need both, with the caller's rights.
KMS_ENCRYPT = ["kms:GenerateDataKey", "kms:Decrypt"]
# A single-part SSE-KMS PutObject needs only a data key (a multipart upload would also need kms:Decrypt).
KMS_WRITE_OBJECT = ["kms:GenerateDataKey"]
# Functions whose only callers the stacks build (an API route, or an event source): each is deployed only while a
# caller uses it. A folder in lambdas/ outside this set has no caller the stacks know of and is always deployed, so
# a new function appears without editing this list.
CALLED_FUNCTIONS = ROUTED_FUNCTIONS | {"worker", "async_results"}
# The translator handles small notifications: a full SQS batch per invocation.
ASYNC_RESULTS_BATCH_SIZE = 10
# The agent of a protected task calls ecs:UpdateTaskProtection with the task role (task_protection.py).
TASK_PROTECTION = ["ecs:UpdateTaskProtection"]


@dataclass(frozen=True)
class InferenceService:
    """The inference service as other stacks see it (docs/stack-interfaces.md): on Fargate, or on EKS (eks.py)."""

    load_balancer: Any  # aws_lb: .arn, .dns_name
    listener_arn: str  # the listener that forwards to the service (the API's VPC link integrates with it)
    security_group_id: str  # the load balancer's security group
    url: str  # base URL for MODEL_URL: https://<tls_server_name> with a certificate, else http://<dns name>
    service: FargateService | None  # None on EKS (the pods are a Deployment, not a Terraform resource)
    alb: ApplicationLoadBalancer
    tls_server_name: str | None = None  # the name the listener's certificate carries (None: plain HTTP)

    @classmethod
    def behind(
        cls, alb: ApplicationLoadBalancer, balancer: LoadBalancerConfig, service: FargateService | None
    ) -> InferenceService:
        """The service as other stacks reach it through ALB, the same on Fargate and EKS. With a certificate only
        its name verifies: the load balancer's own DNS name is not on the certificate."""
        host = balancer.tls_server_name if balancer.tls else alb.load_balancer.dns_name
        return cls(
            load_balancer=alb.load_balancer,
            listener_arn=alb.listener_arn,
            security_group_id=alb.security_group_id,
            url=f"{alb.protocol}://{host}",
            service=service,
            alb=alb,
            tls_server_name=balancer.tls_server_name,
        )


class ComputeStack(PipelineStack):
    """Exposes `functions` (folder name -> LambdaFunction, only those in use), `left_out_functions` (folders not
    deployed because nothing calls them), `inference_service` (InferenceService or None), `queue_worker`
    (FargateService or None), `deployment_alarms` (service name -> ServiceDeploymentAlarms: what each Fargate
    service's deployments roll back on), `cluster` (None on EKS: the eks stack runs the services), `key`,
    `lambda_security_group_id`."""

    def __init__(
        self,
        scope: Construct,
        id_: str = "compute",
        *,
        config: PipelineConfig,
        network: NetworkStack,
        registry: RegistryStack,
        storage: StorageStack,
        messaging: MessagingStack,
        lambdas_dir: Path | None = None,
        eks: EksStack | None = None,
    ) -> None:
        super().__init__(scope, id_, config=config)
        self.network, self.registry, self.storage, self.messaging = network, registry, storage, messaging
        compute = config.compute
        prefix = config.name_prefix
        # The batch functions are the batch stack's (modules/stacks/batch.py).
        names = [
            name
            for name in (function_names(lambdas_dir) if lambdas_dir else function_names())
            if name not in BATCH_FUNCTIONS
        ]
        self._check(names)
        self.key = self.customer_key(
            "compute-key",
            alias=f"{prefix}-compute",
            description=f"Lambda environments and compute logs of {prefix}",
        )
        self.s3_prefix_list_id = None
        if not compute.egress_to_internet:
            self.s3_prefix_list_id = aws.data_aws_ec2_managed_prefix_list.DataAwsEc2ManagedPrefixList(
                self, "s3-prefix-list", name=f"com.amazonaws.{config.region}.s3"
            ).id

        # With orchestrator = "eks" the services, their load balancer and their roles are the eks stack's
        # (modules/stacks/eks.py); the functions here call the model through that load balancer.
        on_ecs = compute.orchestrator == "ecs"
        self.cluster = (
            EcsCluster(
                self,
                "cluster",
                props=EcsClusterProps(
                    name=prefix, kms_key_arn=self.key.arn, log_retention_days=config.log_retention_days
                ),
            )
            if on_ecs
            else None
        )
        self.deployment_alarms: dict[str, ServiceDeploymentAlarms] = {}
        if on_ecs:
            self.inference_service = self._inference_service() if compute.inference_service.enabled else None
        else:
            self.inference_service = eks.inference_service
        self.model_url = compute.model_url or (self.inference_service.url if self.inference_service else "")
        self.queue_worker = self._queue_worker() if on_ecs else None

        self.lambda_security_group_id = self._lambda_security_group() if compute.lambdas.in_vpc else None
        used = self._functions_in_use(names)
        self.left_out_functions = tuple(name for name in names if name not in used)
        self.functions: dict[str, LambdaFunction] = {}
        for name in used:
            self.functions[name] = self._function(name, lambdas_dir)
        self._worker_event_sources()
        for log_group in self._log_groups():
            self.key.allow_log_group(log_group)
        self._outputs()

    # --- checks -------------------------------------------------------------------------------------------------

    def _check(self, names: list[str]) -> None:
        compute = self.config.compute
        problems = []
        unknown = sorted(set(compute.lambdas.functions) - set(names) - BATCH_FUNCTIONS)
        if unknown:
            problems.append(
                f"compute.lambdas.functions: no folder with handler.py for {', '.join(unknown)}; "
                f"allowed: {', '.join(names)}"
            )
        for section in ("inference_service", "queue_worker"):
            service = getattr(compute, section)
            if service.enabled and service.image not in self.registry.repositories:
                problems.append(
                    f"compute.{section}.image: no image {service.image!r} in containers/; allowed: "
                    f"{', '.join(sorted(self.registry.repositories))}"
                )
        if problems:
            raise ValueError("; ".join(problems))

    # --- Lambda -------------------------------------------------------------------------------------------------

    def _lambda_security_group(self) -> str:
        group = aws.security_group.SecurityGroup(
            self,
            "lambda-security-group",
            name=f"{self.config.name_prefix}-lambdas",
            vpc_id=self.network.vpc_id,
            description="Lambda functions: no inbound, HTTPS to AWS APIs (VPC endpoints, S3 gateway) out",
        )
        allow_https_to_aws_apis(
            self,
            "lambda-egress",
            security_group_id=group.id,
            vpc_cidr=self.network.vpc_cidr,
            s3_prefix_list_id=self.s3_prefix_list_id,
            to_internet=self.config.compute.egress_to_internet,
        )
        self._model_egress("lambda", group.id, self.config.compute.model_backend)
        return group.id

    def _model_egress(self, label: str, group_id: str, backend: str) -> None:
        """A caller on the http backend also reaches the internal load balancer on its port when that is not HTTPS."""
        if (
            backend == contract.BACKEND_HTTP
            and self.inference_service is not None
            and self.inference_service.alb.port != HTTPS_PORT
        ):
            port = self.inference_service.alb.port
            aws.vpc_security_group_egress_rule.VpcSecurityGroupEgressRule(
                self,
                f"{label}-egress-model",
                security_group_id=group_id,
                ip_protocol="tcp",
                from_port=port,
                to_port=port,
                cidr_ipv4=self.network.vpc_cidr,
                description=f"the internal model load balancer on {port}",
            )

    def _functions_in_use(self, names: list[str]) -> list[str]:
        """NAMES without the functions nothing would invoke: predict when /v1/predict goes to Fargate, the worker
        when it consumes no queue, async_results without an asynchronous endpoint. Their code, role, grants, log group
        and outputs are left out together."""
        in_use = set(self.config.api.lambda_routes().values())
        if self._lambda_worker_queues():
            in_use.add("worker")
        if self.messaging.async_notifications_queue is not None:
            in_use.add("async_results")
        return [name for name in names if name not in CALLED_FUNCTIONS or name in in_use]

    def _function(self, name: str, lambdas_dir) -> LambdaFunction:
        environment, statements = self._function_needs(name)
        return pipeline_function(
            self,
            name,
            lambdas_dir=lambdas_dir,
            kms_key_arn=self.key.arn,
            network=self.network,
            security_group_id=self.lambda_security_group_id,
            environment=environment,
            statements=statements,
        )

    def _function_needs(self, name: str) -> tuple[dict[str, str], list]:
        """The environment and grants of each known function: exactly what its handler reads and calls."""
        bucket = self.storage.results_bucket
        requests_objects = f"{bucket.arn}/{contract.REQUESTS_PREFIX}*"
        results_objects = f"{bucket.arn}/{contract.RESULTS_PREFIX}*"
        payload = {contract.MAX_PAYLOAD_BYTES: str(self._payload_bytes(name))}
        if name == "submit":
            return (
                {
                    contract.RESULTS_BUCKET: bucket.id,
                    contract.REQUESTS_TOPIC_ARN: self.messaging.requests_topic_arn,
                    **payload,
                },
                [
                    # DeleteObject: a request whose announcement failed is removed again (404 instead of pending).
                    statement("WriteRequests", ["s3:PutObject", "s3:DeleteObject"], [requests_objects]),
                    statement("PublishRequests", ["sns:Publish"], [self.messaging.requests_topic_arn]),
                    statement("ResultsBucketKey", KMS_WRITE_OBJECT, [self.storage.key.arn]),
                    statement("RequestsTopicKey", KMS_ENCRYPT, [self.messaging.key.arn]),
                ],
            )
        if name == "worker":
            queues = [self.messaging.work_queues[queue] for queue in self._lambda_worker_queues()]
            backend = self.config.compute.model_backend
            environment = {
                contract.RESULTS_BUCKET: bucket.id,
                contract.RESULTS_TOPIC_ARN: self.messaging.results_topic_arn,
                **payload,
                **self._model_environment(backend),
            }
            if len(queues) == 1:
                environment[contract.QUEUE_URL] = queues[0].url
            return environment, [
                statement("ConsumeWorkQueues", SQS_EVENT_SOURCE, [queue.arn for queue in queues]),
                *self._job_grants(backend),
            ]
        if name == "async_results":
            queue = self.messaging.async_notifications_queue
            return (
                {
                    contract.RESULTS_BUCKET: bucket.id,
                    contract.RESULTS_TOPIC_ARN: self.messaging.results_topic_arn,
                    contract.QUEUE_URL: queue.url,
                },
                [
                    statement("ConsumeNotifications", SQS_EVENT_SOURCE, [queue.arn]),
                    # The job's model and priority (metadata of its input) and the endpoint's answer.
                    statement(
                        "ReadAsyncAnswers",
                        ["s3:GetObject"],
                        [
                            f"{bucket.arn}/{contract.ASYNC_INPUT_PREFIX}*",
                            f"{bucket.arn}/{contract.ASYNC_OUTPUT_PREFIX}*",
                        ],
                    ),
                    *self._result_grants(),
                ],
            )
        if name == "status":
            return {contract.RESULTS_BUCKET: bucket.id}, [
                statement("ReadJobs", ["s3:GetObject"], [requests_objects, results_objects]),
                self._missing_key_is_404(),
                statement("ResultsBucketKey", ["kms:Decrypt"], [self.storage.key.arn]),
            ]
        if name == "predict":
            backend = self.config.compute.model_backend
            return {**self._model_environment(backend), **payload}, self._model_grants(backend)
        return {}, []  # a new function starts with logs and traces only: grant what it needs here

    def _job_grants(self, backend: str) -> list:
        """What processing a job needs (worker function and queue worker containers) with BACKEND's model calls."""
        bucket = self.storage.results_bucket
        return [
            statement("ReadLargeRequests", ["s3:GetObject"], [f"{bucket.arn}/{contract.REQUESTS_PREFIX}*"]),
            *self._result_grants(),
            *self._model_grants(backend),
        ]

    def _result_grants(self) -> list:
        """Storing a result once and announcing it (lambdas/jobs.py `complete`): every consumer, and async_results."""
        bucket = self.storage.results_bucket
        return [
            # DeleteObject: a result whose notification failed is removed so the retry redoes both.
            statement(
                "WriteResults",
                ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
                [f"{bucket.arn}/{contract.RESULTS_PREFIX}*"],
            ),
            # HeadObject on results/<id>.json is how a job is known to be done (idempotency).
            self._missing_key_is_404(),
            statement("PublishResults", ["sns:Publish"], [self.messaging.results_topic_arn]),
            statement("ResultsBucketKey", KMS_ENCRYPT, [self.storage.key.arn]),
            # The queues and the results topic share the messaging key.
            statement("MessagingKey", KMS_ENCRYPT, [self.messaging.key.arn]),
        ]

    def _missing_key_is_404(self):
        """s3:ListBucket on the results bucket, for every principal that tells a missing key from a present one.

        S3 answers a missing key with 404 only to a caller holding s3:ListBucket on the bucket, and with 403
        AccessDenied to anyone else (HeadObject and GetObject API reference: "If the object you request doesn't
        exist, the error that Amazon S3 returns depends on whether you also have the s3:ListBucket permission").
        Without it, status could not say "unknown job" and the worker could not tell "not done yet" from "denied",
        so every first delivery would fail into the dead-letter queue. The handlers treat only 404 as absent
        (lambdas/aws_clients.py MISSING_KEY_CODES), so a 403 still surfaces as the misconfiguration it is.
        No s3:prefix condition: that documentation ties the 404 to ListBucket on the bucket and names no condition
        key, and S3 does not document a prefix in the request context of that implicit check, so a prefix-scoped
        grant is not documented to turn the 403 into a 404.
        """
        return statement("TellMissingFromForbidden", ["s3:ListBucket"], [self.storage.results_bucket.arn])

    def _payload_bytes(self, function: str) -> int:
        config = self.config
        return config.compute.function_payload_bytes(
            function, endpoint_mode=config.inference.mode, predict_backend=config.api.predict_backend
        )

    def _model_environment(self, backend: str) -> dict[str, str]:
        """MODEL_BACKEND and where the model is, for a caller on BACKEND (compute.model_backend or the queue worker's)."""
        config = self.config
        budget = {contract.MODEL_TIMEOUT_SECONDS: str(config.compute.model_timeout_seconds)}
        variable = config.compute.backend_variable(backend, config.inference.mode)
        if backend == contract.BACKEND_SAGEMAKER:
            return {contract.MODEL_BACKEND: variable, contract.ENDPOINT_NAME: config.inference.endpoint_name, **budget}
        return {contract.MODEL_BACKEND: variable, contract.MODEL_URL: self.model_url, **budget}

    @property
    def endpoint_arn(self) -> str:
        # SageMaker ARNs carry the endpoint name in lower case.
        return (
            f"arn:{self.partition}:sagemaker:{self.config.region}:{self.account_id}:endpoint/"
            f"{self.config.inference.endpoint_name.lower()}"
        )

    def _model_grants(self, backend: str) -> list:
        """The http backend is reached through the security groups, not IAM; a SageMaker endpoint by its exact ARN,
        an asynchronous one with the inputs its caller hands it (lambdas/model_client.py `hand_off`)."""
        if backend != contract.BACKEND_SAGEMAKER:
            return []
        if self.config.inference.mode != "async":
            return [statement("InvokeOwnEndpoint", ["sagemaker:InvokeEndpoint"], [self.endpoint_arn])]
        return [
            statement("InvokeOwnEndpointAsync", ["sagemaker:InvokeEndpointAsync"], [self.endpoint_arn]),
            statement(
                "WriteAsyncInputs",
                ["s3:PutObject"],
                [f"{self.storage.results_bucket.arn}/{contract.ASYNC_INPUT_PREFIX}*"],
            ),
        ]

    def _lambda_worker_queues(self) -> tuple[str, ...]:
        return self.config.compute.lambda_worker_queues(tuple(self.messaging.work_queues))

    def _worker_event_sources(self) -> None:
        """The worker function's event source on each queue it consumes, and async_results' on the notifications."""
        lambdas = self.config.compute.lambdas
        sources = []
        if "worker" in self.functions:
            sources += [
                (
                    f"worker-source-{name.removesuffix('.fifo')}",
                    "worker",
                    self.messaging.work_queues[name],
                    lambdas.worker_batch_size,
                    lambdas.worker_batching_window_seconds,
                )
                for name in self._lambda_worker_queues()
            ]
        if "async_results" in self.functions:
            sources.append(
                (
                    "async-results-source",
                    "async_results",
                    self.messaging.async_notifications_queue,
                    ASYNC_RESULTS_BATCH_SIZE,
                    0,
                )
            )
        problems = []
        for id_, name, queue, batch_size, window in sources:
            function = self.functions[name]
            try:
                SqsEventSource(
                    self,
                    id_,
                    props=SqsEventSourceProps(
                        queue_name=queue.name,
                        queue_arn=queue.arn,
                        queue_visibility_timeout_seconds=queue.visibility_timeout_seconds,
                        # The plain name reads well in a refusal; depends_on keeps the function-first ordering.
                        function_name=function.name,
                        function_timeout_seconds=lambdas.sizing(name).timeout_seconds,
                        batch_size=batch_size,
                        batching_window_seconds=window,
                        maximum_concurrency=lambdas.worker_maximum_concurrency,
                        depends_on=(function.function, function.role_policy),
                    ),
                )
            except ValueError as error:
                problems.append(str(error))
        if problems:
            raise ValueError("; ".join(problems))

    # --- Fargate ------------------------------------------------------------------------------------------------

    def _image(self, image: str, tag: str) -> tuple[str, str]:
        repository = self.registry.repositories[image]
        separator = "@" if tag.startswith("sha256:") else ":"
        return f"{repository.url}{separator}{tag}", repository.arn

    def _inference_service(self) -> InferenceService:
        config = self.config
        service_config, balancer = config.compute.inference_service, config.compute.load_balancer
        name = config.compute.inference_service_name(config.name_prefix)
        alb = model_load_balancer(
            self,
            network=self.network,
            storage=self.storage,
            subnet_ids=self.network.private_subnet_ids if balancer.internal else self.network.public_subnet_ids,
        )
        image, repository_arn = self._image(service_config.image, service_config.image_tag)
        service = FargateService(
            self,
            "inference-service",
            props=FargateServiceProps(
                **self._service_placement(name, image, repository_arn),
                cpu=service_config.cpu,
                memory=service_config.memory,
                desired_count=service_config.desired_count,
                container_port=contract.MODEL_SERVER_PORT,
                ingress_security_group_id=alb.security_group_id,
                target_group_arn=alb.target_group.arn,
                health_check_grace_seconds=service_config.health_check_grace_seconds,
                environment={
                    contract.MAX_PAYLOAD_BYTES: str(
                        config.compute.inference_service_payload_bytes(
                            endpoint_mode=config.inference.mode, predict_backend=config.api.predict_backend
                        )
                    ),
                    contract.LOG_LEVEL: config.inference.log_level,
                },
                log_retention_days=config.log_retention_days,
                s3_prefix_list_id=self.s3_prefix_list_id,
                egress_to_internet=config.compute.egress_to_internet,
                depends_on=(alb.listener,),
            ),
        )
        if not config.emulator.skips("autoscaling"):
            ServiceAutoscaling(
                self,
                "inference-autoscaling",
                props=ServiceAutoscalingProps(
                    cluster_name=self.cluster.name,
                    service_name=service.service.name,
                    min_count=service_config.min_count,
                    max_count=service_config.max_count,
                    cpu_target_percent=service_config.cpu_target_percent,
                    requests_per_target=service_config.requests_per_target,
                    load_balancer_arn_suffix=alb.load_balancer.arn_suffix,
                    target_group_arn_suffix=alb.target_group.arn_suffix,
                    scale_in_cooldown_seconds=service_config.scale_in_cooldown_seconds,
                    scale_out_cooldown_seconds=service_config.scale_out_cooldown_seconds,
                ),
            )
        self._guard_deployments(
            service,
            load_balancer_arn_suffix=alb.load_balancer.arn_suffix,
            target_group_arn_suffix=alb.target_group.arn_suffix,
        )
        return InferenceService.behind(alb, balancer, service)

    def _queue_worker(self) -> FargateService | None:
        """The image's queue consumer (`serve.py work`) on its one queue: FARGATE base plus FARGATE_SPOT weight, a
        stop timeout that fits one long poll and the slowest job, a health check on the consumer's heartbeat file,
        and scaling on the backlog per task."""
        config = self.config
        worker = config.compute.queue_worker
        queue_name = config.compute.worker_queue_for_fargate(tuple(self.messaging.work_queues))
        if queue_name is None:
            return None
        queue = self.messaging.work_queues[queue_name]
        name = config.compute.queue_worker_name(config.name_prefix)
        backend = config.compute.queue_worker_model_backend
        image, repository_arn = self._image(worker.image, worker.image_tag)
        tasks = f"arn:{self.partition}:ecs:{config.region}:{self.account_id}:task/{self.cluster.name}/*"
        service = FargateService(
            self,
            "queue-worker",
            props=FargateServiceProps(
                **self._service_placement(name, image, repository_arn),
                cpu=worker.cpu,
                memory=worker.memory,
                desired_count=worker.desired_count,
                container_port=None,
                command=(contract.WORK_COMMAND,),
                capacity_provider_strategy=worker.capacity_provider_strategy,
                health_check_command=HEALTH_CHECK_COMMAND,
                stop_timeout_seconds=worker.stop_timeout_seconds,
                environment=self._queue_worker_environment(
                    queue_url=queue.url,
                    results_bucket=self.storage.results_bucket.id,
                    results_topic_arn=self.messaging.results_topic_arn,
                ),
                task_policy_statements=(
                    *self._queue_worker_grants(queue.arn),
                    # Scale-in protection while it holds messages: the ECS agent calls UpdateTaskProtection with this
                    # role for the task it runs in, a task of this cluster.
                    statement("ProtectBusyTask", TASK_PROTECTION, [tasks]),
                ),
                log_retention_days=config.log_retention_days,
                s3_prefix_list_id=self.s3_prefix_list_id,
                egress_to_internet=config.compute.egress_to_internet,
                depends_on=(self.cluster.capacity_providers,),
            ),
        )
        self._model_egress("queue-worker", service.security_group_id, backend)
        self._guard_deployments(service, log_group_name=service.log_group.name)
        if not config.emulator.skips("autoscaling"):
            QueueWorkerScaling(
                self,
                "queue-worker-scaling",
                props=QueueWorkerScalingProps(
                    name=name,
                    cluster_name=self.cluster.name,
                    service_name=service.service.name,
                    queue_name=queue.name,
                    min_count=worker.min_count,
                    max_count=worker.max_count,
                    messages_per_task=worker.messages_per_task,
                    scale_out_evaluation_minutes=worker.scale_out_evaluation_minutes,
                    scale_in_evaluation_minutes=worker.scale_in_evaluation_minutes,
                    cooldown_seconds=worker.cooldown_seconds,
                ),
            )
        return service

    # The queue consumer's environment and grants, also borrowed by the eks stack for its queue-worker pods (with
    # plain values there: the manifests are applied by kubectl, not Terraform), so the two cannot drift apart.

    def _service_placement(self, name: str, image: str, repository_arn: str) -> dict:
        """What every Fargate service of this stack shares: its cluster, key and private subnets."""
        return {
            "name": name,
            "cluster_arn": self.cluster.arn,
            "image": image,
            "repository_arn": repository_arn,
            "region": self.config.region,
            "account_id": self.account_id,
            "kms_key_arn": self.key.arn,
            "vpc_id": self.network.vpc_id,
            "vpc_cidr": self.network.vpc_cidr,
            "subnet_ids": self.network.private_subnet_ids,
        }

    def _queue_worker_environment(
        self, *, queue_url: str, results_bucket: str, results_topic_arn: str
    ) -> dict[str, str]:
        """What `serve.py work` reads (containers/inference/queue_worker/consumer.py), minus what the platform adds."""
        compute = self.config.compute
        payload = compute.queue_worker_payload_bytes(
            endpoint_mode=self.config.inference.mode, predict_backend=self.config.api.predict_backend
        )
        return {
            contract.QUEUE_URL: queue_url,
            contract.QUEUE_BATCH_SIZE: str(compute.queue_worker.batch_size),
            contract.RESULTS_BUCKET: results_bucket,
            contract.RESULTS_TOPIC_ARN: results_topic_arn,
            contract.MAX_PAYLOAD_BYTES: str(payload),
            contract.LOG_LEVEL: self.config.inference.log_level,
            **self._model_environment(compute.queue_worker_model_backend),
        }

    def _queue_worker_grants(self, queue_arn: str) -> list:
        """The consumer's own AWS calls: its one queue, and the jobs on the queue worker's model backend."""
        return [
            statement("ConsumeWorkQueue", SQS_CONSUMER, [queue_arn]),
            *self._job_grants(self.config.compute.queue_worker_model_backend),
        ]

    def _guard_deployments(self, service: FargateService, **source: str) -> None:
        """Deployment alarms of SERVICE (its target group's answers, or its error log lines), held to the model's
        thresholds; the service rolls back on them."""
        inference = self.config.inference
        label = service.name.removeprefix(f"{self.config.name_prefix}-")
        alarms = ServiceDeploymentAlarms(
            self,
            f"{label}-deployment-alarms",
            props=ServiceDeploymentAlarmsProps(
                service_name=service.name,
                alarm_topic_arn=self.messaging.alarm_topic_arn,
                errors_threshold=inference.alarm_errors_threshold,
                latency_p99_ms=inference.alarm_latency_p99_ms,
                metrics_namespace=f"{service.name}/logs",
                **source,
            ),
        )
        service.roll_back_on(alarms.alarms)
        self.deployment_alarms[service.name] = alarms

    def _log_groups(self) -> list:
        """Every log group the compute key encrypts: its key policy admits CloudWatch Logs for exactly these."""
        services = [self.inference_service.service if self.inference_service else None, self.queue_worker]
        cluster = [self.cluster.exec_log_group] if self.cluster else []
        return [
            *cluster,
            *(function.log_group for function in self.functions.values()),
            *(service.log_group for service in services if service is not None),
        ]

    # --- outputs ------------------------------------------------------------------------------------------------

    def _outputs(self) -> None:
        for name, function in self.functions.items():
            self.output(
                f"function_name_{name}",
                function.function.function_name,
                f"the {name} Lambda function (lambdas/{name}/handler.py)",
            )
        if self.cluster is None:
            return  # the services and their outputs are the eks stack's
        self.output("ecs_cluster_name", self.cluster.name, "ECS cluster of the Fargate services")
        if self.inference_service:
            model_load_balancer_outputs(self, self.inference_service)
            self.output("model_url", self.inference_service.url, "MODEL_URL of the http model backend")
        if self.queue_worker:
            self.output("queue_worker_service_name", self.queue_worker.name, "Fargate service scaled on the backlog")
