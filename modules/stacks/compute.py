"""The compute stack: one Lambda function per folder in lambdas/, the ECS cluster, the Fargate inference service
behind its load balancer, and the Fargate queue worker (the image's `work` command, mostly on Spot) scaled on its
work queue's backlog per task. Every work queue has exactly one consumer: the worker function's event sources or
the queue worker (config: compute.lambdas.worker_queues, compute.queue_worker.queue).

Every environment variable a function or container reads is named by a constant of lambdas/contract.py, so the
infrastructure and the code share one definition. Every grant names the exact ARN (and S3 prefix) the code uses.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from constructs import Construct

from lambdas import contract
from modules import aws
from modules.config import PipelineConfig
from modules.config.api import ROUTED_FUNCTIONS
from modules.config.lambdas import FunctionConfig
from modules.constructs.application_load_balancer import (
    ApplicationLoadBalancer,
    ApplicationLoadBalancerProps,
)
from modules.constructs.ecs_cluster import EcsCluster, EcsClusterProps
from modules.constructs.fargate_service import FargateService, FargateServiceProps
from modules.constructs.kms_key import KmsKey, KmsKeyProps
from modules.constructs.lambda_function import LambdaFunction, LambdaFunctionProps
from modules.constructs.lambda_package import (
    LambdaPackage,
    LambdaPackageProps,
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
from modules.stacks.base import PipelineStack
from modules.stacks.storage import LOAD_BALANCER_LOG_PREFIX

HTTPS_PORT = 443
CONTAINER_PORT = 8080  # SageMaker container contract
HEALTH_CHECK_PATH = "/ping"  # SageMaker container contract
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
    """The Fargate inference service as other stacks see it (docs/stack_interfaces.md)."""

    load_balancer: Any  # aws_lb: .arn, .dns_name
    listener_arn: str  # the listener that forwards to the service (the API's VPC link integrates with it)
    security_group_id: str  # the load balancer's security group
    url: str  # base URL for MODEL_URL: https://<tls_server_name> with a certificate, else http://<dns name>
    service: FargateService
    alb: ApplicationLoadBalancer
    tls_server_name: str | None = None  # the name the listener's certificate carries (None: plain HTTP)


class ComputeStack(PipelineStack):
    """Exposes `functions` (folder name -> LambdaFunction, only those in use), `left_out_functions` (folders not
    deployed because nothing calls them), `inference_service` (InferenceService or None), `queue_worker`
    (FargateService or None), `deployment_alarms` (service name -> ServiceDeploymentAlarms: what each Fargate
    service's deployments roll back on), `cluster`, `key`, `lambda_security_group_id`."""

    def __init__(self, scope: Construct, id_: str = "compute", *, config: PipelineConfig, network, registry,
                 storage, messaging, lambdas_dir=None) -> None:
        super().__init__(scope, id_, config=config)
        self.network, self.registry, self.storage, self.messaging = network, registry, storage, messaging
        compute = config.compute
        prefix = config.name_prefix
        names = function_names(lambdas_dir) if lambdas_dir else function_names()
        self._check(names)
        self.key = KmsKey(self, "compute-key", props=KmsKeyProps(
            alias=f"{prefix}-compute", description=f"Lambda environments and compute logs of {prefix}",
            account_id=self.account_id, partition=self.partition, region=config.region))
        self.s3_prefix_list_id = None
        if not compute.egress_to_internet:
            self.s3_prefix_list_id = aws.data_aws_ec2_managed_prefix_list.DataAwsEc2ManagedPrefixList(
                self, "s3-prefix-list", name=f"com.amazonaws.{config.region}.s3").id

        self.cluster = EcsCluster(self, "cluster", props=EcsClusterProps(
            name=prefix, kms_key_arn=self.key.arn, log_retention_days=config.log_retention_days))
        self.deployment_alarms: dict[str, ServiceDeploymentAlarms] = {}
        self.inference_service = self._inference_service() if compute.inference_service.enabled else None
        self.model_url = compute.model_url or (self.inference_service.url if self.inference_service else "")
        self.queue_worker = self._queue_worker()

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
        unknown = sorted(set(compute.lambdas.functions) - set(names))
        if unknown:
            problems.append(f"compute.lambdas.functions: no folder with handler.py for {', '.join(unknown)}; "
                            f"allowed: {', '.join(names)}")
        for section in ("inference_service", "queue_worker"):
            service = getattr(compute, section)
            if service.enabled and service.image not in self.registry.repositories:
                problems.append(f"compute.{section}.image: no image {service.image!r} in containers/; allowed: "
                                f"{', '.join(sorted(self.registry.repositories))}")
        if problems:
            raise ValueError("; ".join(problems))

    # --- Lambda -------------------------------------------------------------------------------------------------

    def _lambda_security_group(self) -> str:
        group = aws.security_group.SecurityGroup(
            self, "lambda-security-group", name=f"{self.config.name_prefix}-lambdas", vpc_id=self.network.vpc_id,
            description="Lambda functions: no inbound, HTTPS to AWS APIs (VPC endpoints, S3 gateway) out")
        self._https_egress("lambda", group.id)
        self._model_egress("lambda", group.id, self.config.compute.model_backend)
        return group.id

    def _model_egress(self, label: str, group_id: str, backend: str) -> None:
        """A caller on the http backend also reaches the internal load balancer on its port when that is not HTTPS."""
        if backend == contract.BACKEND_HTTP and self.inference_service is not None \
                and self.inference_service.alb.port != HTTPS_PORT:
            port = self.inference_service.alb.port
            aws.vpc_security_group_egress_rule.VpcSecurityGroupEgressRule(
                self, f"{label}-egress-model", security_group_id=group_id, ip_protocol="tcp", from_port=port,
                to_port=port, cidr_ipv4=self.network.vpc_cidr, description=f"the internal model load balancer on {port}")

    def _https_egress(self, label: str, group_id: str) -> None:
        destinations = {"internet": {"cidr_ipv4": "0.0.0.0/0"}} if self.config.compute.egress_to_internet else {
            "vpc-endpoints": {"cidr_ipv4": self.network.vpc_cidr},
            "s3-gateway": {"prefix_list_id": self.s3_prefix_list_id}}
        for name, destination in destinations.items():
            aws.vpc_security_group_egress_rule.VpcSecurityGroupEgressRule(
                self, f"{label}-egress-{name}", security_group_id=group_id, ip_protocol="tcp", from_port=HTTPS_PORT,
                to_port=HTTPS_PORT, description=f"HTTPS to AWS APIs ({name})", **destination)

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
        config = self.config
        lambdas = config.compute.lambdas
        sizing: FunctionConfig = lambdas.sizing(name)
        package_props = {"function": name} | ({"lambdas_dir": lambdas_dir} if lambdas_dir else {})
        package = LambdaPackage(self, f"package-{name}", props=LambdaPackageProps(**package_props))
        environment, statements = self._function_needs(name)
        network = {}
        if self.lambda_security_group_id:
            network = {"subnet_ids": self.network.private_subnet_ids, "vpc_id": self.network.vpc_id,
                       "security_group_ids": [self.lambda_security_group_id]}
        return LambdaFunction(self, f"function-{name}", props=LambdaFunctionProps(
            function_name=config.compute.function_name(config.name_prefix, name),
            handler=f"lambdas.{name}.handler.handler",
            package_path=package.path, source_code_hash=package.source_code_hash, kms_key_arn=self.key.arn,
            account_id=self.account_id, region=config.region, partition=self.partition, runtime=lambdas.runtime,
            architecture=lambdas.architecture, memory_mb=sizing.memory_mb, timeout_seconds=sizing.timeout_seconds,
            reserved_concurrency=sizing.reserved_concurrency, log_retention_days=config.log_retention_days,
            environment={contract.LOG_LEVEL: lambdas.log_level, **environment},
            policy_statements=tuple(statements), **network))

    def _function_needs(self, name: str) -> tuple[dict[str, str], list]:
        """The environment and grants of each known function: exactly what its handler reads and calls."""
        bucket = self.storage.results_bucket
        requests_objects = f"{bucket.arn}/{contract.REQUESTS_PREFIX}*"
        results_objects = f"{bucket.arn}/{contract.RESULTS_PREFIX}*"
        payload = {contract.MAX_PAYLOAD_BYTES: str(self._payload_bytes(name))}
        if name == "submit":
            return ({contract.RESULTS_BUCKET: bucket.id, contract.REQUESTS_TOPIC_ARN: self.messaging.requests_topic_arn,
                     **payload}, [
                # DeleteObject: a request whose announcement failed is removed again (404 instead of pending).
                statement("WriteRequests", ["s3:PutObject", "s3:DeleteObject"], [requests_objects]),
                statement("PublishRequests", ["sns:Publish"], [self.messaging.requests_topic_arn]),
                statement("ResultsBucketKey", KMS_WRITE_OBJECT, [self.storage.key.arn]),
                statement("RequestsTopicKey", KMS_ENCRYPT, [self.messaging.key.arn])])
        if name == "worker":
            queues = [self.messaging.work_queues[queue] for queue in self._lambda_worker_queues()]
            backend = self.config.compute.model_backend
            environment = {contract.RESULTS_BUCKET: bucket.id, contract.RESULTS_TOPIC_ARN: self.messaging.results_topic_arn,
                           **payload, **self._model_environment(backend)}
            if len(queues) == 1:
                environment[contract.QUEUE_URL] = queues[0].url
            return environment, [
                statement("ConsumeWorkQueues", SQS_EVENT_SOURCE, [queue.arn for queue in queues]),
                *self._job_grants(backend)]
        if name == "async_results":
            queue = self.messaging.async_notifications_queue
            return ({contract.RESULTS_BUCKET: bucket.id, contract.RESULTS_TOPIC_ARN: self.messaging.results_topic_arn,
                     contract.QUEUE_URL: queue.url}, [
                statement("ConsumeNotifications", SQS_EVENT_SOURCE, [queue.arn]),
                # The job's model and priority (metadata of its input) and the endpoint's answer.
                statement("ReadAsyncAnswers", ["s3:GetObject"],
                          [f"{bucket.arn}/{contract.ASYNC_INPUT_PREFIX}*", f"{bucket.arn}/{contract.ASYNC_OUTPUT_PREFIX}*"]),
                *self._result_grants()])
        if name == "status":
            return {contract.RESULTS_BUCKET: bucket.id}, [
                statement("ReadJobs", ["s3:GetObject"], [requests_objects, results_objects]),
                self._missing_key_is_404(),
                statement("ResultsBucketKey", ["kms:Decrypt"], [self.storage.key.arn])]
        if name == "predict":
            backend = self.config.compute.model_backend
            return {**self._model_environment(backend), **payload}, self._model_grants(backend)
        return {}, []  # a new function starts with logs and traces only: grant what it needs here

    def _job_grants(self, backend: str) -> list:
        """What processing a job needs (worker function and queue worker containers) with BACKEND's model calls."""
        bucket = self.storage.results_bucket
        return [statement("ReadLargeRequests", ["s3:GetObject"], [f"{bucket.arn}/{contract.REQUESTS_PREFIX}*"]),
                *self._result_grants(), *self._model_grants(backend)]

    def _result_grants(self) -> list:
        """Storing a result once and announcing it (lambdas/jobs.py `complete`): every consumer, and async_results."""
        bucket = self.storage.results_bucket
        return [
            # DeleteObject: a result whose notification failed is removed so the retry redoes both.
            statement("WriteResults", ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
                      [f"{bucket.arn}/{contract.RESULTS_PREFIX}*"]),
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
        return config.compute.function_payload_bytes(function, endpoint_mode=config.inference.mode,
                                                     predict_backend=config.api.predict_backend)

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
        return (f"arn:{self.partition}:sagemaker:{self.config.region}:{self.account_id}:endpoint/"
                f"{self.config.inference.endpoint_name.lower()}")

    def _model_grants(self, backend: str) -> list:
        """The http backend is reached through the security groups, not IAM; a SageMaker endpoint by its exact ARN,
        an asynchronous one with the inputs its caller hands it (lambdas/model_client.py `hand_off`)."""
        if backend != contract.BACKEND_SAGEMAKER:
            return []
        if self.config.inference.mode != "async":
            return [statement("InvokeOwnEndpoint", ["sagemaker:InvokeEndpoint"], [self.endpoint_arn])]
        return [statement("InvokeOwnEndpointAsync", ["sagemaker:InvokeEndpointAsync"], [self.endpoint_arn]),
                statement("WriteAsyncInputs", ["s3:PutObject"],
                          [f"{self.storage.results_bucket.arn}/{contract.ASYNC_INPUT_PREFIX}*"])]

    def _lambda_worker_queues(self) -> tuple[str, ...]:
        return self.config.compute.lambda_worker_queues(tuple(self.messaging.work_queues))

    def _worker_event_sources(self) -> None:
        """The worker function's event source on each queue it consumes, and async_results' on the notifications."""
        lambdas = self.config.compute.lambdas
        sources = []
        if "worker" in self.functions:
            sources += [(f"worker-source-{name.removesuffix('.fifo')}", "worker", self.messaging.work_queues[name],
                         lambdas.worker_batch_size, lambdas.worker_batching_window_seconds)
                        for name in self._lambda_worker_queues()]
        if "async_results" in self.functions:
            sources.append(("async-results-source", "async_results", self.messaging.async_notifications_queue,
                            ASYNC_RESULTS_BATCH_SIZE, 0))
        problems = []
        for id_, name, queue, batch_size, window in sources:
            function = self.functions[name]
            try:
                SqsEventSource(self, id_, props=SqsEventSourceProps(
                    queue_name=queue.name, queue_arn=queue.arn,
                    queue_visibility_timeout_seconds=queue.visibility_timeout_seconds,
                    # The plain name reads well in a refusal; depends_on keeps the function-first ordering.
                    function_name=function.name, function_timeout_seconds=lambdas.sizing(name).timeout_seconds,
                    batch_size=batch_size, batching_window_seconds=window,
                    maximum_concurrency=lambdas.worker_maximum_concurrency,
                    depends_on=(function.function, function.role_policy)))
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
        alb = ApplicationLoadBalancer(self, "load-balancer", props=ApplicationLoadBalancerProps(
            name=name, vpc_id=self.network.vpc_id, vpc_cidr=self.network.vpc_cidr,
            subnet_ids=self.network.private_subnet_ids if balancer.internal else self.network.public_subnet_ids,
            access_log_bucket=self.storage.access_logs_bucket.id, access_log_prefix=f"{LOAD_BALANCER_LOG_PREFIX}/{name}",
            internal=balancer.internal, certificate_arn=balancer.certificate_arn, ssl_policy=balancer.ssl_policy,
            target_port=CONTAINER_PORT, health_check_path=HEALTH_CHECK_PATH,
            deletion_protection=config.production if balancer.deletion_protection is None
            else balancer.deletion_protection,
            idle_timeout_seconds=balancer.idle_timeout_seconds))
        image, repository_arn = self._image(service_config.image, service_config.image_tag)
        service = FargateService(self, "inference-service", props=FargateServiceProps(
            name=name, cluster_arn=self.cluster.arn, image=image, repository_arn=repository_arn,
            region=config.region, account_id=self.account_id, kms_key_arn=self.key.arn,
            vpc_id=self.network.vpc_id, vpc_cidr=self.network.vpc_cidr, subnet_ids=self.network.private_subnet_ids,
            cpu=service_config.cpu, memory=service_config.memory, desired_count=service_config.desired_count,
            container_port=CONTAINER_PORT, ingress_security_group_id=alb.security_group_id,
            target_group_arn=alb.target_group.arn,
            environment={contract.MAX_PAYLOAD_BYTES: str(config.compute.inference_service_payload_bytes(
                             endpoint_mode=config.inference.mode, predict_backend=config.api.predict_backend)),
                         contract.LOG_LEVEL: config.compute.lambdas.log_level},
            log_retention_days=config.log_retention_days, s3_prefix_list_id=self.s3_prefix_list_id,
            egress_to_internet=config.compute.egress_to_internet, depends_on=(alb.listener,)))
        if not config.emulator.skips("autoscaling"):
            ServiceAutoscaling(self, "inference-autoscaling", props=ServiceAutoscalingProps(
                cluster_name=self.cluster.name, service_name=service.service.name,
                min_count=service_config.min_count, max_count=service_config.max_count,
                cpu_target_percent=service_config.cpu_target_percent,
                requests_per_target=service_config.requests_per_target,
                load_balancer_arn_suffix=alb.load_balancer.arn_suffix,
                target_group_arn_suffix=alb.target_group.arn_suffix,
                scale_in_cooldown_seconds=service_config.scale_in_cooldown_seconds,
                scale_out_cooldown_seconds=service_config.scale_out_cooldown_seconds))
        self._guard_deployments(service, load_balancer_arn_suffix=alb.load_balancer.arn_suffix,
                                target_group_arn_suffix=alb.target_group.arn_suffix)
        # With a certificate only its name verifies: the load balancer's own DNS name is not on the certificate.
        host = balancer.tls_server_name if balancer.tls else alb.load_balancer.dns_name
        return InferenceService(load_balancer=alb.load_balancer, listener_arn=alb.listener_arn,
                                security_group_id=alb.security_group_id, url=f"{alb.protocol}://{host}",
                                service=service, alb=alb, tls_server_name=balancer.tls_server_name)

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
        payload = config.compute.queue_worker_payload_bytes(endpoint_mode=config.inference.mode,
                                                            predict_backend=config.api.predict_backend)
        tasks = f"arn:{self.partition}:ecs:{config.region}:{self.account_id}:task/{self.cluster.name}/*"
        service = FargateService(self, "queue-worker", props=FargateServiceProps(
            name=name, cluster_arn=self.cluster.arn, image=image, repository_arn=repository_arn,
            region=config.region, account_id=self.account_id, kms_key_arn=self.key.arn,
            vpc_id=self.network.vpc_id, vpc_cidr=self.network.vpc_cidr, subnet_ids=self.network.private_subnet_ids,
            cpu=worker.cpu, memory=worker.memory, desired_count=worker.desired_count, container_port=None,
            command=(contract.WORK_COMMAND,), capacity_provider_strategy=worker.capacity_provider_strategy,
            health_check_command=HEALTH_CHECK_COMMAND, stop_timeout_seconds=worker.stop_timeout_seconds,
            environment={contract.QUEUE_URL: queue.url, contract.QUEUE_BATCH_SIZE: str(worker.batch_size),
                         contract.RESULTS_BUCKET: self.storage.results_bucket.id,
                         contract.RESULTS_TOPIC_ARN: self.messaging.results_topic_arn,
                         contract.MAX_PAYLOAD_BYTES: str(payload),
                         contract.LOG_LEVEL: config.compute.lambdas.log_level, **self._model_environment(backend)},
            task_policy_statements=(
                statement("ConsumeWorkQueue", SQS_CONSUMER, [queue.arn]), *self._job_grants(backend),
                # Scale-in protection while it holds messages: the ECS agent calls UpdateTaskProtection with this
                # role for the task it runs in, a task of this cluster.
                statement("ProtectBusyTask", TASK_PROTECTION, [tasks])),
            log_retention_days=config.log_retention_days, s3_prefix_list_id=self.s3_prefix_list_id,
            egress_to_internet=config.compute.egress_to_internet, depends_on=(self.cluster.capacity_providers,)))
        self._model_egress("queue-worker", service.security_group_id, backend)
        self._guard_deployments(service, log_group_name=service.log_group.name)
        if not config.emulator.skips("autoscaling"):
            QueueWorkerScaling(self, "queue-worker-scaling", props=QueueWorkerScalingProps(
                name=name, cluster_name=self.cluster.name, service_name=service.service.name, queue_name=queue.name,
                min_count=worker.min_count, max_count=worker.max_count, messages_per_task=worker.messages_per_task,
                scale_out_evaluation_minutes=worker.scale_out_evaluation_minutes,
                scale_in_evaluation_minutes=worker.scale_in_evaluation_minutes, cooldown_seconds=worker.cooldown_seconds))
        return service

    def _guard_deployments(self, service: FargateService, **source: str) -> None:
        """Deployment alarms of SERVICE (its target group's answers, or its error log lines), held to the model's
        thresholds; the service rolls back on them."""
        inference = self.config.inference
        label = service.name.removeprefix(f"{self.config.name_prefix}-")
        alarms = ServiceDeploymentAlarms(self, f"{label}-deployment-alarms", props=ServiceDeploymentAlarmsProps(
            service_name=service.name, alarm_topic_arn=self.messaging.alarm_topic_arn,
            errors_threshold=inference.alarm_errors_threshold, latency_p99_ms=inference.alarm_latency_p99_ms,
            metrics_namespace=f"{service.name}/logs", **source))
        service.roll_back_on(alarms.alarms)
        self.deployment_alarms[service.name] = alarms

    def _log_groups(self) -> list:
        """Every log group the compute key encrypts: its key policy admits CloudWatch Logs for exactly these."""
        services = [self.inference_service.service if self.inference_service else None, self.queue_worker]
        return [self.cluster.exec_log_group, *(function.log_group for function in self.functions.values()),
                *(service.log_group for service in services if service is not None)]

    # --- outputs ------------------------------------------------------------------------------------------------

    def _outputs(self) -> None:
        for name, function in self.functions.items():
            self.output(f"function_name_{name}", function.function.function_name,
                        f"the {name} Lambda function (lambdas/{name}/handler.py)")
        self.output("ecs_cluster_name", self.cluster.name, "ECS cluster of the Fargate services")
        if self.inference_service:
            self.output("inference_load_balancer_dns", self.inference_service.load_balancer.dns_name,
                        "DNS name of the inference service's load balancer")
            self.output("inference_listener_arn", self.inference_service.listener_arn,
                        "listener the API's VPC link integrates with")
            self.output("model_url", self.inference_service.url, "MODEL_URL of the http model backend")
        if self.queue_worker:
            self.output("queue_worker_service_name", self.queue_worker.name, "Fargate service scaled on the backlog")
