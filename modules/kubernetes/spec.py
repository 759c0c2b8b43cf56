"""What the Kubernetes manifests are made of: plain values only (names, URLs, sizes), never Terraform tokens.

Why plain values: the manifests are applied with kubectl, not by Terraform, so every value must be known at synth.
The eks stack derives each one from the same config and the same physical names the other stacks use (a queue's
URL from its name, region and account), and the access gate reads the manifests back, so a value that drifted from
what Terraform creates would show up as a denied call.
"""

from __future__ import annotations

from dataclasses import dataclass, field

SCRATCH_PATH = "/tmp"  # the one writable path of the read-only root filesystem (emptyDir)
RUN_AS = 10001  # the inference image's `model` user and group
INFERENCE = "inference"
QUEUE_WORKER = "queue-worker"

KEDA_API = "keda.sh/v1alpha1"
# TargetGroupBinding is served under EKS Auto Mode's own API group, and under the AWS Load Balancer Controller's
# when that controller runs (managed node groups); the spec is the same.
TARGET_GROUP_BINDING_APIS = {True: "eks.amazonaws.com/v1", False: "elbv2.k8s.aws/v1beta1"}


@dataclass(frozen=True, kw_only=True)
class ContainerSpec:
    """One workload's container: image, size, environment."""

    image: str  # <account>.dkr.ecr.<region>.amazonaws.com/<repository>:<tag> (or @sha256:<digest>)
    cpu_millicores: int  # request and limit (Guaranteed QoS, as a Fargate task's fixed size)
    memory_mib: int  # request and limit
    environment: dict[str, str] = field(default_factory=dict)
    args: tuple[str, ...] = ()  # appended to the image's ENTRYPOINT; empty: the image's CMD
    gpus: int = 0  # nvidia.com/gpu


@dataclass(frozen=True, kw_only=True)
class InferenceSpec:
    """The HTTP model server behind the load balancer."""

    container: ContainerSpec
    min_replicas: int
    max_replicas: int
    cpu_target_percent: int
    load_balancer_cidrs: tuple[str, ...]  # the subnets the load balancer lives in (and no pod does)
    target_group_name: str  # the target group the eks stack creates; the TargetGroupBinding fills it
    admit_queue_worker: bool = False  # the queue worker calls the model over HTTP inside the cluster
    termination_grace_seconds: int = 45  # preStop delay + gunicorn's graceful timeout (20 s) + margin
    deregistration_delay_seconds: int = 15  # preStop sleep: the load balancer stops sending first


@dataclass(frozen=True, kw_only=True)
class QueueWorkerSpec:
    """The queue consumer, scaled on its queue's backlog by KEDA (to zero when idle)."""

    container: ContainerSpec
    queue_url: str
    min_replicas: int  # 0: scale to zero
    max_replicas: int
    messages_per_replica: int
    cooldown_seconds: int  # idle time before scaling to zero
    scale_in_window_seconds: int  # how long the backlog must stay low before pods are removed
    termination_grace_seconds: int  # long enough to finish the job in hand
    health_check_command: tuple[str, ...] = ()  # the liveness probe (the ECS task's health check); empty: none


@dataclass(frozen=True, kw_only=True)
class WorkloadsSpec:
    """Everything the manifests of one environment need."""

    environment: str
    project: str
    namespace: str
    region: str
    auto_mode: bool  # TargetGroupBinding API group; network-policy enforcement switch of Auto Mode
    deploy_group: str  # Kubernetes group of the deploy roles' access entries
    inference: InferenceSpec | None = None
    queue_worker: QueueWorkerSpec | None = None
    gpu_toleration: bool = False  # GPU nodes are tainted: only pods asking for GPUs land there

    @property
    def target_group_binding_api(self) -> str:
        return TARGET_GROUP_BINDING_APIS[self.auto_mode]
