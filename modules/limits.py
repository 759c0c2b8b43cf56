"""The AWS limits the pipeline depends on: one table, each entry with its documentation link and why it matters.

Why a table: the local emulator enforces none of these, so a value AWS refuses (a 36-character load balancer
name, a 6 MiB body to a serverless endpoint) would otherwise pass every gate and fail at apply time or, worse,
at run time. Config validation reads the numbers from here, so a limit AWS changes is edited in one place, next
to the page that says so.

A leaf module: it imports nothing from the project, so the config schema, the stacks and the tests can all use it.
Where AWS writes "MB" without saying whether it means 10^6 or 2^20 bytes, the value is the smaller reading;
where a service states the exact byte count (an API's length constraint, a service error message), that count.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

KIB = 1024
MIB = 1024 * KIB


@dataclass(frozen=True, kw_only=True)
class Limit:
    """One AWS limit: what it bounds, the number, its unit, where AWS documents it, and why the pipeline cares."""

    name: str
    value: Any  # an int for most limits; a tuple for sets of allowed values
    unit: str
    doc: str
    why: str


# --- payload sizes, per hop ---------------------------------------------------------------------------------

API_GATEWAY_HTTP_PAYLOAD = Limit(
    name="API Gateway HTTP API payload",
    value=10_000_000,
    unit="bytes",
    doc="https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-quotas.html",
    why="largest request body any route accepts; binds the Fargate predict route (VPC link), not Lambda routes",
)
LAMBDA_SYNC_PAYLOAD = Limit(
    name="Lambda synchronous invocation payload",
    value=6 * MIB,
    unit="bytes",
    doc="https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html",
    why="the whole API Gateway event (headers, request context and the body, base64 when binary) must fit; "
    "6291456 bytes is the figure in Lambda's own RequestTooLargeException message",
)
API_GATEWAY_BASE64_GROWTH = Limit(
    name="base64 growth of binary bodies in Lambda events",
    value=(4, 3),
    unit="ratio",
    doc="https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-integrations-lambda.html",
    why="API Gateway base64-encodes a body it treats as binary (isBase64Encoded): 3 bytes become 4 characters",
)
SAGEMAKER_REALTIME_PAYLOAD = Limit(
    name="SageMaker InvokeEndpoint request and response body",
    value=6 * MIB,
    unit="bytes",
    doc="https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_runtime_InvokeEndpoint.html",
    why="Body length constraint of InvokeEndpoint (6291456): the largest model call of a real-time endpoint",
)
SAGEMAKER_SERVERLESS_PAYLOAD = Limit(
    name="SageMaker serverless request and response payload",
    value=4_000_000,
    unit="bytes",
    doc="https://docs.aws.amazon.com/sagemaker/latest/dg/serverless-endpoints-invoke.html",
    why="a serverless endpoint refuses bodies over 4 MB, below what InvokeEndpoint itself accepts",
)
SAGEMAKER_ASYNC_INLINE_PAYLOAD = Limit(
    name="SageMaker InvokeEndpointAsync inline body",
    value=128_000,
    unit="bytes",
    doc="https://docs.aws.amazon.com/sagemaker/latest/dg/async-inference-invoke-endpoint.html",
    why="an async request larger than this must go through S3 (InputLocation)",
)
SAGEMAKER_ASYNC_S3_PAYLOAD = Limit(
    name="SageMaker asynchronous inference payload (S3 input)",
    value=1_000_000_000,
    unit="bytes",
    doc="https://docs.aws.amazon.com/sagemaker/latest/dg/async-inference.html",
    why="the largest input an async endpoint reads from S3",
)
SNS_MESSAGE = Limit(
    name="SNS message size",
    value=256 * KIB,
    unit="bytes",
    doc="https://docs.aws.amazon.com/sns/latest/api/API_Publish.html",
    why="a job's inline inputs ride in the requests-topic message; larger inputs stay in S3 (submit)",
)
SQS_MESSAGE = Limit(
    name="SQS message size (queue default)",
    value=256 * KIB,
    unit="bytes",
    doc="https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/quotas-messages.html",
    why="the work queues keep the default maximum_message_size; the SNS limit above binds first",
)

# --- timeouts -----------------------------------------------------------------------------------------------

API_GATEWAY_HTTP_INTEGRATION_TIMEOUT = Limit(
    name="API Gateway HTTP API maximum integration timeout",
    value=30_000,
    unit="ms",
    doc="https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-quotas.html",
    why="HTTP APIs cut every integration at 30 s and it cannot be raised (29 s is the REST API default)",
)
SAGEMAKER_INVOCATION_TIMEOUT = Limit(
    name="SageMaker model container response time",
    value=60,
    unit="s",
    doc="https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_runtime_InvokeEndpoint.html",
    why="a container must answer /invocations within 60 s (serverless too), so a longer model timeout is moot",
)
LAMBDA_TIMEOUT = Limit(
    name="Lambda function timeout",
    value=900,
    unit="s",
    doc="https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html",
    why="the longest a function may run",
)
SQS_VISIBILITY_TIMEOUT_FACTOR = Limit(
    name="SQS visibility timeout per Lambda function timeout (AWS recommendation)",
    value=6,
    unit="x",
    doc="https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html",
    why="AWS: at least six times the function timeout, so a throttled batch is retried before it reappears",
)
FARGATE_STOP_TIMEOUT = Limit(
    name="Fargate container stop timeout",
    value=120,
    unit="s",
    doc="https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_ContainerDefinition.html#ECS-Type-ContainerDefinition-stopTimeout",
    why="the most a container gets between SIGTERM and SIGKILL on Fargate (also the length of a Spot interruption "
    "warning): the queue worker's jobs in hand must finish within it",
)
SQS_LONG_POLL = Limit(
    name="SQS ReceiveMessage long-poll wait",
    value=20,
    unit="s",
    doc="https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_ReceiveMessage.html",
    why="WaitTimeSeconds is 0-20: the queue worker waits 20 s per receive, and a stop waits for one such receive",
)
SQS_MESSAGE_RETENTION = Limit(
    name="SQS message retention",
    value=1_209_600,
    unit="s",
    doc="https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SetQueueAttributes.html",
    why="14 days at most: the queues' retention and alarm ages are checked against it; dead-letter queues keep "
    "messages that long, time to inspect and redrive",
)
SQS_EVENT_SOURCE_MAX_CONCURRENCY = Limit(
    name="SQS event source mapping maximum concurrency",
    value=(2, 1000),
    unit="concurrent invocations",
    doc="https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-scaling.html",
    why="ScalingConfig.MaximumConcurrency is 2-1000 per event source; AWS advises against setting it above the "
    "function's reserved concurrency: the mapping does not count the reservation, so Lambda throttles the batches "
    "above it, and each throttled batch returns to its queue and counts towards the dead-letter receive limit",
)
SQS_VISIBILITY_TIMEOUT = Limit(
    name="SQS visibility timeout",
    value=43_200,
    unit="s",
    doc="https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/quotas-queues.html",
    why="12 hours at most, so 6 x the function timeout must stay under it",
)

S3_SINGLE_PUT = Limit(
    name="S3 object uploaded in one PutObject",
    value=5 * 1024 * MIB,
    unit="bytes",
    doc="https://docs.aws.amazon.com/AmazonS3/latest/userguide/upload-objects.html",
    why="the release tool uploads a model.tar.gz in one conditional PutObject (If-None-Match: *), atomic and "
    "never overwriting; a larger artifact needs a multipart upload. Each upload URL of POST /v1/batches is one "
    "presigned PutObject too",
)

# --- sizes and concurrency ----------------------------------------------------------------------------------

SQS_RECEIVE_BATCH = Limit(
    name="SQS ReceiveMessage batch",
    value=10,
    unit="messages",
    doc="https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_ReceiveMessage.html",
    why="MaxNumberOfMessages is 1-10: the queue worker's batch size",
)

SAGEMAKER_SERVERLESS_MEMORY_SIZES = Limit(
    name="SageMaker serverless memory sizes",
    value=(1024, 2048, 3072, 4096, 5120, 6144),
    unit="MB",
    doc="https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_ProductionVariantServerlessConfig.html",
    why="MemorySizeInMB accepts only these 1 GB steps",
)
SAGEMAKER_SERVERLESS_MAX_CONCURRENCY = Limit(
    name="SageMaker serverless max concurrency per endpoint",
    value=200,
    unit="invocations",
    doc="https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_ProductionVariantServerlessConfig.html",
    why="MaxConcurrency and ProvisionedConcurrency are 1-200",
)
FARGATE_TASK_SIZES = Limit(
    name="Fargate task CPU and memory pairs (Linux)",
    value=(
        (256, (512, 1024, 2048)),
        (512, tuple(range(1024, 4096 + 1, 1024))),
        (1024, tuple(range(2048, 8192 + 1, 1024))),
        (2048, tuple(range(4096, 16384 + 1, 1024))),
        (4096, tuple(range(8192, 30720 + 1, 1024))),
        (8192, tuple(range(16384, 61440 + 1, 4096))),  # Linux platform 1.4.0 or later
        (16384, tuple(range(32768, 122880 + 1, 8192))),  # Linux platform 1.4.0 or later
    ),
    unit="CPU units -> MiB",
    doc="https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task-cpu-memory-error.html",
    why="RegisterTaskDefinition refuses any other pair ('No Fargate configuration exists for given values')",
)

# CPU units -> the memory values (MiB) Fargate accepts with them: the table above as a lookup.
FARGATE_MEMORY_BY_CPU: dict[int, tuple[int, ...]] = dict(FARGATE_TASK_SIZES.value)


def fargate_size_problems(cpu: int, memory: int) -> list[str]:
    """Why CPU/MEMORY is not a Fargate task size, naming what would be (empty when it is one): the one check of
    the config schema (Fargate services, the batch job) and of the constructs that register task definitions."""
    if cpu not in FARGATE_MEMORY_BY_CPU:
        return [f"cpu: {cpu} is not a Fargate CPU value; allowed: {', '.join(map(str, FARGATE_MEMORY_BY_CPU))}"]
    allowed = FARGATE_MEMORY_BY_CPU[cpu]
    if memory not in allowed:
        return [f"memory: {memory} MiB is not allowed with cpu {cpu}; allowed: {', '.join(map(str, allowed))}"]
    return []


FARGATE_SPOT_ARCHITECTURES = Limit(
    name="Fargate Spot CPU architectures (Linux)",
    value=("X86_64",),
    unit="architectures",
    doc="https://docs.aws.amazon.com/AmazonECS/latest/developerguide/fargate-capacity-providers.html",
    why="Linux tasks with the ARM64 architecture cannot run on Fargate Spot: the batch stack's Spot share needs X86_64",
)

# --- AWS Batch, S3 transfers, Batch Transform ---------------------------------------------------------------

BATCH_ARRAY_SIZE = Limit(
    name="AWS Batch array job size",
    value=(2, 10_000),
    unit="child jobs",
    doc="https://docs.aws.amazon.com/batch/latest/APIReference/API_ArrayProperties.html",
    why="a batch fans out as one array job; a single child is submitted as a plain job instead",
)
BATCH_RETRY_ATTEMPTS = Limit(
    name="AWS Batch retry strategy attempts",
    value=(1, 10),
    unit="attempts",
    doc="https://docs.aws.amazon.com/batch/latest/APIReference/API_RetryStrategy.html",
    why="batch.retry_attempts counts the first attempt too",
)
BATCH_EVALUATE_ON_EXIT = Limit(
    name="AWS Batch evaluateOnExit conditions per retry strategy",
    value=5,
    unit="conditions",
    doc="https://docs.aws.amazon.com/batch/latest/APIReference/API_RetryStrategy.html",
    why="the job definition lists which failures are infrastructure (retried) and ends with EXIT for the rest",
)
BATCH_JOB_TIMEOUT_MINIMUM = Limit(
    name="AWS Batch job timeout minimum (attemptDurationSeconds)",
    value=60,
    unit="s",
    doc="https://docs.aws.amazon.com/batch/latest/APIReference/API_JobTimeout.html",
    why="batch.timeout_minutes is at least one minute",
)
BATCH_COMPUTE_ENVIRONMENTS_PER_QUEUE = Limit(
    name="AWS Batch compute environments per job queue",
    value=3,
    unit="compute environments",
    doc="https://docs.aws.amazon.com/batch/latest/APIReference/API_CreateJobQueue.html",
    why="the queue orders Fargate Spot before on-demand Fargate: two of the three",
)
BATCH_NAME = Limit(
    name="AWS Batch job queue and job definition name",
    value=128,
    unit="characters",
    doc="https://docs.aws.amazon.com/batch/latest/APIReference/API_CreateJobQueue.html",
    why="the queue and the job definition are <project>-<environment>-batch",
)
EVENTBRIDGE_RULE_NAME = Limit(
    name="EventBridge rule name",
    value=64,
    unit="characters",
    doc="https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutRule.html",
    why="the job-state rule is <project>-<environment>-batch-state; the results topic policy names its ARN",
)
S3_MULTIPART_PART_SIZE = Limit(
    name="S3 multipart upload part size",
    value=(5 * MIB, 5 * 1024 * MIB),
    unit="bytes",
    doc="https://docs.aws.amazon.com/AmazonS3/latest/userguide/qfacts.html",
    why="the batch job streams each output through a multipart upload; every part but the last is at least 5 MiB",
)
S3_MULTIPART_PARTS = Limit(
    name="S3 multipart upload parts per object",
    value=10_000,
    unit="parts",
    doc="https://docs.aws.amazon.com/AmazonS3/latest/userguide/qfacts.html",
    why="with the job's 8 MiB parts one output object stops near 78 GiB, which bounds batch.part_bytes",
)
S3_PRESIGNED_URL_EXPIRY = Limit(
    name="S3 presigned URL (SigV4) lifetime",
    value=604_800,
    unit="s",
    doc="https://docs.aws.amazon.com/AmazonS3/latest/userguide/using-presigned-url.html",
    why="batch.upload_url_seconds; a URL signed with a role's session also ends when that session does",
)
SAGEMAKER_TRANSFORM_PAYLOAD = Limit(
    name="SageMaker Batch Transform MaxPayloadInMB (and MaxConcurrentTransforms x MaxPayloadInMB)",
    value=100,
    unit="MB",
    doc="https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CreateTransformJob.html",
    why="the model server advertises MaxPayloadInMB and MaxConcurrentTransforms in /execution-parameters",
)

# --- SageMaker deployment guardrails and shadow variants ---------------------------------------------------

SAGEMAKER_DEPLOYMENT_WAIT = Limit(
    name="SageMaker deployment wait interval and termination wait",
    value=(0, 3600),
    unit="seconds",
    doc="https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_BlueGreenUpdatePolicy.html",
    why="WaitIntervalInSeconds (baking per step) and TerminationWaitInSeconds are 0-3600",
)
SAGEMAKER_DEPLOYMENT_TIMEOUT = Limit(
    name="SageMaker deployment maximum execution timeout",
    value=(600, 14400),
    unit="seconds",
    doc="https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_BlueGreenUpdatePolicy.html",
    why="MaximumExecutionTimeoutInSeconds of a blue/green update (rolling allows 28800; hashicorp/aws 5.100 "
    "validates 600-14400 for both, so both lines accept the range used here)",
)
SAGEMAKER_CANARY_SIZE = Limit(
    name="SageMaker canary size",
    value=50,
    unit="percent of the variant's instances (at most)",
    doc="https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_TrafficRoutingConfig.html",
    why="CanarySize must be less than or equal to 50% of the variant's total instance count",
)
SAGEMAKER_LINEAR_STEP = Limit(
    name="SageMaker linear step size",
    value=(10, 50),
    unit="percent of the variant's instances",
    doc="https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_TrafficRoutingConfig.html",
    why="LinearStepSize must be 10-50% of the variant's total instance count",
)
SAGEMAKER_ROLLING_BATCH = Limit(
    name="SageMaker rolling update batch size",
    value=(5, 50),
    unit="percent of the variant's instances",
    doc="https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_RollingUpdatePolicy.html",
    why="MaximumBatchSize must be between 5% and 50% of the variant's total instance count",
)
SAGEMAKER_ROLLBACK_ALARMS = Limit(
    name="SageMaker auto-rollback alarms",
    value=10,
    unit="alarms",
    doc="https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_AutoRollbackConfig.html",
    why="AutoRollbackConfig.Alarms holds 1-10 alarms: the endpoint's own alarms must fit",
)
SAGEMAKER_SHADOW_VARIANTS = Limit(
    name="SageMaker shadow variants per endpoint",
    value=1,
    unit="variants",
    doc="https://docs.aws.amazon.com/sagemaker/latest/dg/shadow-tests-create.html",
    why="one shadow variant per endpoint, and then only one production variant",
)

# --- SageMaker endpoint modes -------------------------------------------------------------------------------

EndpointMode = Literal["real-time", "serverless", "async"]


@dataclass(frozen=True, kw_only=True)
class EndpointModeRules:
    """What one endpoint mode supports, and the settings that belong to it alone.

    Why one table: the config schema refuses a setting in the wrong mode, the endpoint construct refuses the same
    prop, and the stacks decide from the mode what to build (instances, a VPC, data capture, a deployment
    configuration). Each used to keep its own list, and the lists had drifted.
    """

    instances: bool  # runs on ML instances: instance type and count, a volume, a VPC, network isolation
    guardrails: bool  # SageMaker deployment guardrails: blue/green and rolling updates, alarm rollback
    shadow_variant: bool  # a shadow variant (needs instances and one production variant)
    data_capture: bool  # the pipeline captures requests and responses to S3 in this mode
    settings: tuple[str, ...]  # config fields and endpoint props of the same name that apply in this mode only


_INSTANCE_SETTINGS = ("instance_type", "initial_instance_count", "network_isolation", "vpc")
ENDPOINT_MODES: dict[EndpointMode, EndpointModeRules] = {
    "real-time": EndpointModeRules(
        instances=True,
        guardrails=True,
        shadow_variant=True,
        data_capture=True,
        settings=(
            *_INSTANCE_SETTINGS,
            "data_capture_sampling_percentage",
            "data_capture_s3_uri",
            "target_invocations_per_instance",
        ),
    ),
    "serverless": EndpointModeRules(
        instances=False,
        # AWS's exclusions page refuses serverless only for rolling updates; it does not say that blue/green
        # shifting and auto-rollback work on a serverless variant (no instances to count steps in), and nothing
        # here can try it: refused until proven on AWS (docs/releases.md).
        guardrails=False,
        shadow_variant=False,
        data_capture=False,
        settings=(
            "memory_size_mb",
            "max_concurrency",
            "provisioned_concurrency",
            "target_provisioned_concurrency_utilization",
        ),
    ),
    "async": EndpointModeRules(
        instances=True,
        guardrails=True,
        shadow_variant=False,
        data_capture=False,
        settings=(
            *_INSTANCE_SETTINGS,
            "output_s3_uri",
            "failure_s3_uri",
            "success_topic_arn",
            "error_topic_arn",
            "max_concurrent_invocations_per_instance",
            "target_backlog_per_instance",
        ),
    ),
}


def modes_of(setting: str) -> tuple[EndpointMode, ...]:
    """The modes a mode-specific SETTING applies to (empty: the setting applies to every mode)."""
    return tuple(mode for mode, rules in ENDPOINT_MODES.items() if setting in rules.settings)


MODE_SPECIFIC_SETTINGS = frozenset(setting for rules in ENDPOINT_MODES.values() for setting in rules.settings)


# --- ports ---------------------------------------------------------------------------------------------------

HTTPS_PORT = 443  # AWS APIs (interface endpoints, S3) and a load balancer's TLS listener
HTTP_PORT = 80  # a load balancer's plain listener (internal, without a certificate)


# --- queue and topic names -----------------------------------------------------------------------------------

FIFO_SUFFIX = ".fifo"  # SQS and SNS: a FIFO queue's or topic's name must end with it
DEAD_LETTER_SUFFIX = "-dlq"  # the pipeline's name for a queue's dead-letter queue, before any .fifo
QUEUE_NAME = re.compile(r"^[A-Za-z0-9_-]+(\.fifo)?$")  # what SQS accepts (the length is SQS_QUEUE_NAME)


def dead_letter_queue_name(name: str) -> str:
    """The dead-letter queue of queue NAME: `<name>-dlq`, keeping a .fifo suffix last (SQS requires it there).

    The one naming rule of the config schema (which checks the names' lengths) and the queue construct."""
    base = name.removesuffix(FIFO_SUFFIX)
    return f"{base}{DEAD_LETTER_SUFFIX}{FIFO_SUFFIX if name.endswith(FIFO_SUFFIX) else ''}"


# --- name lengths -------------------------------------------------------------------------------------------

SAGEMAKER_NAME = Limit(
    name="SageMaker endpoint, endpoint configuration and model name",
    value=63,
    unit="characters",
    doc="https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CreateEndpoint.html",
    why="the endpoint configuration and model names add a hash suffix to the endpoint name",
)
LOAD_BALANCER_NAME = Limit(
    name="Elastic Load Balancing load balancer name",
    value=32,
    unit="characters",
    doc="https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_CreateLoadBalancer.html",
    why="the inference service's load balancer is <project>-<environment>-inference",
)
TARGET_GROUP_NAME = Limit(
    name="Elastic Load Balancing target group name",
    value=32,
    unit="characters",
    doc="https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_CreateTargetGroup.html",
    why="the target group carries the load balancer's name",
)
S3_BUCKET_NAME = Limit(
    name="S3 bucket name",
    value=(3, 63),
    unit="characters",
    doc="https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html",
    why="bucket names are <project>-<environment>-<purpose>[-<suffix>]",
)
IAM_ROLE_NAME = Limit(
    name="IAM role name",
    value=64,
    unit="characters",
    doc="https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html",
    why="every role is named after its function or service, e.g. <project>-<environment>-queue-worker-execution",
)
SQS_QUEUE_NAME = Limit(
    name="SQS queue name",
    value=80,
    unit="characters",
    doc="https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/quotas-queues.html",
    why="queue names are <project>-<environment>-<queue>[-dlq][.fifo]",
)
LAMBDA_FUNCTION_NAME = Limit(
    name="Lambda function name",
    value=64,
    unit="characters",
    doc="https://docs.aws.amazon.com/lambda/latest/dg/API_CreateFunction.html",
    why="function names are <project>-<environment>-<folder in lambdas/> (140 is the limit of the full ARN)",
)
CLOUDWATCH_LOG_RETENTION = Limit(
    name="CloudWatch Logs retention values",
    value=(1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653),
    unit="days",
    doc="https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutRetentionPolicy.html",
    why="PutRetentionPolicy refuses any other number of days: every log group's retention must be one of these",
)
LOG_GROUP_NAME = Limit(
    name="CloudWatch Logs log group name",
    value=512,
    unit="characters",
    doc="https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_CreateLogGroup.html",
    why="log groups are /aws/lambda/<function>, /ecs/<service> and similar",
)
EKS_CLUSTER_NAME = Limit(
    name="EKS cluster name",
    value=100,
    unit="characters",
    doc="https://docs.aws.amazon.com/eks/latest/APIReference/API_CreateCluster.html",
    why="the cluster is <project>-<environment>, and its control-plane log group /aws/eks/<cluster>/cluster",
)

# --- EKS ----------------------------------------------------------------------------------------------------

EKS_AUTO_MODE_MIN_VERSION = Limit(
    name="Kubernetes version EKS Auto Mode needs at least",
    value=(1, 29),
    unit="Kubernetes minor version",
    doc="https://docs.aws.amazon.com/eks/latest/userguide/automode.html",
    why="Auto Mode (compute_config, elastic_load_balancing, block_storage) is offered from Kubernetes 1.29 on",
)
EKS_NVIDIA_GPU_INSTANCE_FAMILIES = Limit(
    name="EC2 instance families with NVIDIA GPUs (EKS accelerated AMIs)",
    value=("g4dn", "g5", "g6", "g6e", "gr6", "p3", "p3dn", "p4d", "p4de", "p5", "p5e", "p5en", "p6"),
    unit="instance families",
    doc="https://docs.aws.amazon.com/ec2/latest/instancetypes/ac.html",
    why="a node group of these runs the NVIDIA AMI (AL2023_x86_64_NVIDIA) that exposes nvidia.com/gpu to pods",
)

EKS_CONTROL_PLANE_LOGS = Limit(
    name="EKS control-plane log types",
    value=("api", "audit", "authenticator", "controllerManager", "scheduler"),
    unit="log types",
    doc="https://docs.aws.amazon.com/eks/latest/userguide/control-plane-logs.html",
    why="enabled_cluster_log_types accepts only these; eks.control_plane_logs chooses among them",
)

VPC_FLOW_LOG_AGGREGATION_INTERVALS = Limit(
    name="VPC flow log maximum aggregation interval",
    value=(60, 600),
    unit="s",
    doc="https://docs.aws.amazon.com/vpc/latest/APIReference/API_CreateFlowLogs.html",
    why="MaxAggregationInterval accepts only these: network.flow_logs_aggregation_seconds chooses one",
)

# --- VPC interface endpoints --------------------------------------------------------------------------------

# The interface endpoints the pipeline builds by default (com.amazonaws.<region>.<service>), and those it allows on
# top: the config schema refuses any other service, and the endpoints construct refuses the same.
INTERFACE_ENDPOINT_SERVICES = ("ecr.api", "ecr.dkr", "logs", "sqs", "sns", "sts", "sagemaker.runtime")
# Allowed on top, not built by default: the AWS Batch API, for the batch functions in a VPC without NAT.
OPTIONAL_INTERFACE_ENDPOINT_SERVICES = ("batch",)

LIMITS: tuple[Limit, ...] = (
    API_GATEWAY_HTTP_PAYLOAD,
    LAMBDA_SYNC_PAYLOAD,
    API_GATEWAY_BASE64_GROWTH,
    SAGEMAKER_REALTIME_PAYLOAD,
    SAGEMAKER_SERVERLESS_PAYLOAD,
    SAGEMAKER_ASYNC_INLINE_PAYLOAD,
    SAGEMAKER_ASYNC_S3_PAYLOAD,
    SNS_MESSAGE,
    SQS_MESSAGE,
    S3_SINGLE_PUT,
    API_GATEWAY_HTTP_INTEGRATION_TIMEOUT,
    SAGEMAKER_INVOCATION_TIMEOUT,
    LAMBDA_TIMEOUT,
    SQS_VISIBILITY_TIMEOUT_FACTOR,
    FARGATE_STOP_TIMEOUT,
    SQS_LONG_POLL,
    SQS_MESSAGE_RETENTION,
    SQS_VISIBILITY_TIMEOUT,
    SQS_EVENT_SOURCE_MAX_CONCURRENCY,
    SQS_RECEIVE_BATCH,
    SAGEMAKER_SERVERLESS_MEMORY_SIZES,
    SAGEMAKER_SERVERLESS_MAX_CONCURRENCY,
    FARGATE_TASK_SIZES,
    SAGEMAKER_DEPLOYMENT_WAIT,
    SAGEMAKER_DEPLOYMENT_TIMEOUT,
    SAGEMAKER_CANARY_SIZE,
    SAGEMAKER_LINEAR_STEP,
    SAGEMAKER_ROLLING_BATCH,
    SAGEMAKER_ROLLBACK_ALARMS,
    SAGEMAKER_SHADOW_VARIANTS,
    SAGEMAKER_NAME,
    LOAD_BALANCER_NAME,
    TARGET_GROUP_NAME,
    S3_BUCKET_NAME,
    IAM_ROLE_NAME,
    SQS_QUEUE_NAME,
    LAMBDA_FUNCTION_NAME,
    LOG_GROUP_NAME,
    EKS_CLUSTER_NAME,
    EKS_AUTO_MODE_MIN_VERSION,
    EKS_NVIDIA_GPU_INSTANCE_FAMILIES,
    EKS_CONTROL_PLANE_LOGS,
    VPC_FLOW_LOG_AGGREGATION_INTERVALS,
    CLOUDWATCH_LOG_RETENTION,
    FARGATE_SPOT_ARCHITECTURES,
    BATCH_ARRAY_SIZE,
    BATCH_RETRY_ATTEMPTS,
    BATCH_EVALUATE_ON_EXIT,
    BATCH_JOB_TIMEOUT_MINIMUM,
    BATCH_COMPUTE_ENVIRONMENTS_PER_QUEUE,
    BATCH_NAME,
    EVENTBRIDGE_RULE_NAME,
    S3_MULTIPART_PART_SIZE,
    S3_MULTIPART_PARTS,
    S3_PRESIGNED_URL_EXPIRY,
    SAGEMAKER_TRANSFORM_PAYLOAD,
)


def name_problem(
    limit: Limit,
    name: str,
    what: str,
    composed_of: str,
    settings: str,
    *,
    maximum: int | None = None,
    reason: str | None = None,
    fix: str | None = None,
) -> str | None:
    """One config problem when NAME is longer than LIMIT allows: which name, its pattern, which settings to shorten.

    `what` says which resource carries the name, `composed_of` its pattern (e.g. "<project>-<environment>-inference")
    and `settings` the config fields that compose it, which lead the line so the reader knows what to edit.
    `maximum` and `reason` replace AWS's number where the pipeline needs room (a suffix it appends); `fix` replaces
    the default advice, "shorten <each setting>".
    """
    aws_maximum = limit.value[1] if isinstance(limit.value, tuple) else limit.value
    maximum = aws_maximum if maximum is None else maximum
    if len(name) <= maximum:
        return None
    allowed = reason or f"the {maximum} AWS allows"
    return (
        f"{settings}: {what} name {name!r} is {len(name)} characters, over {allowed} ({limit.doc}); it is "
        f"{composed_of}: {fix or 'shorten ' + either(settings.split(', '))}"
    )


def names_problem(
    limit: Limit, names: list[str], what: str, composed_of: str, settings: str, *, fix: str | None = None
) -> str | None:
    """name_problem for several names of one pattern (a bucket per purpose): one problem listing every name that
    is too long, so the line says once which settings to edit."""
    maximum = limit.value[1] if isinstance(limit.value, tuple) else limit.value
    too_long = [name for name in names if len(name) > maximum]
    if len(too_long) <= 1:
        return name_problem(limit, too_long[0], what, composed_of, settings, fix=fix) if too_long else None
    listed = ", ".join(f"{name!r} ({len(name)})" for name in too_long)
    return (
        f"{settings}: {what} names {listed} are over the {maximum} characters AWS allows ({limit.doc}); they "
        f"are {composed_of}: {fix or 'shorten ' + either(settings.split(', '))}"
    )


def either(options: list[str]) -> str:
    """OPTIONS as prose: `a`, `a or b`, `a, b or c`."""
    return options[0] if len(options) == 1 else f"{', '.join(options[:-1])} or {options[-1]}"


def retention_problem(days: int) -> str | None:
    """The one check of a log group's retention, for the config schema and every construct that makes a log group."""
    if days in CLOUDWATCH_LOG_RETENTION.value:
        return None
    return f"must be one of the CloudWatch retention values {', '.join(map(str, CLOUDWATCH_LOG_RETENTION.value))}"
