"""The EKS orchestrator (`[compute.eks]`, used when `compute.orchestrator = "eks"`): the cluster, its compute and
who may use it.

Why every combination is checked here: an EKS cluster takes about ten minutes to create, and a public endpoint
open to the internet, a GPU model on nodes without GPUs, or a cluster nobody may administer are each found only
after that wait (or never). The checks name the field and what would work instead.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Literal

from pydantic import Field

from modules.config.base import StrictModel
from modules.limits import EKS_AUTO_MODE_MIN_VERSION, EKS_CONTROL_PLANE_LOGS, EKS_NVIDIA_GPU_INSTANCE_FAMILIES

# The Kubernetes versions a cluster may pin: from the oldest EKS Auto Mode runs (modules/limits.py) to the newest
# whose JSON schemas the pinned kubernetes-validate (1.37.0) ships, so the manifests are always validated against
# the version the cluster runs (tests/kubernetes checks both ends against that package). EKS itself refuses
# versions out of support at apply time.
NEWEST_VALIDATED_MINOR = 37
KUBERNETES_VERSIONS = tuple(
    f"1.{minor}" for minor in range(EKS_AUTO_MODE_MIN_VERSION.value[1], NEWEST_VALIDATED_MINOR + 1)
)
DEFAULT_KUBERNETES_VERSION = "1.35"
CONTROL_PLANE_LOGS = EKS_CONTROL_PLANE_LOGS.value
# A Kubernetes namespace or service account name: an RFC 1123 label.
DNS_LABEL = r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$"
ROLE_ARN = r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}$"
# Graviton (arm64) families carry a "g" right after the generation (m7g, c6gn, t4g, g5g, is4gen); the inference
# image is built for x86_64, as the Fargate tasks run it.
ARM_FAMILY = re.compile(r"^[a-z]+\d+g")


def instance_family(instance_type: str) -> str:
    return instance_type.split(".", 1)[0]


def is_gpu_instance(instance_type: str) -> bool:
    return instance_family(instance_type) in EKS_NVIDIA_GPU_INSTANCE_FAMILIES.value


def is_arm_instance(instance_type: str) -> bool:
    return bool(ARM_FAMILY.match(instance_family(instance_type)))


class NodeGroupConfig(StrictModel):
    """A managed node group (`compute = "node-group"`): the alternative to Auto Mode, e.g. for GPU models."""

    instance_types: tuple[str, ...] = Field(
        default=("m6i.large",),
        min_length=1,
        description="EC2 instance types of the group (x86_64); NVIDIA GPU types (g5, g6, p4d ...) need "
        "inference_gpus >= 1 and are never mixed with CPU types",
    )
    capacity_type: Literal["ON_DEMAND", "SPOT"] = Field(default="ON_DEMAND", description="on-demand or Spot nodes")
    min_size: int = Field(default=2, ge=1, le=450, description="fewest nodes (at least one per AZ for the spread)")
    desired_size: int = Field(
        default=2, ge=1, le=450, description="nodes at creation; afterwards whatever scales the group owns the count"
    )
    max_size: int = Field(default=4, ge=1, le=450, description="most nodes")
    disk_size_gb: int = Field(
        default=50,
        ge=20,
        le=16384,
        description="root volume in GiB (gp3, encrypted with the account's default EBS key, aws/ebs unless the "
        "account set another; not the cluster key, which would have to admit the Auto Scaling service-linked role)",
    )
    system_instance_types: tuple[str, ...] = Field(
        default=("m6i.large",),
        min_length=1,
        description="[GPU instance_types] x86_64 CPU types of the untainted system node group that runs what asks "
        "for no GPU (CoreDNS, KEDA, the AWS Load Balancer Controller, the queue worker): the GPU nodes are tainted, "
        "so without it those pods would have nowhere to run",
    )
    system_size: int = Field(
        default=2,
        ge=1,
        le=450,
        description="[GPU instance_types] nodes of the system node group (on-demand; min = desired = max)",
    )

    def problems(self) -> list[str]:
        problems = []
        if not self.min_size <= self.desired_size <= self.max_size:
            problems.append(
                f"compute.eks.node_group: must satisfy min_size <= desired_size <= max_size, got "
                f"{self.min_size} <= {self.desired_size} <= {self.max_size}"
            )
        arm = [kind for kind in self.instance_types if is_arm_instance(kind)]
        if arm:
            problems.append(
                f"compute.eks.node_group.instance_types: {', '.join(arm)} are arm64 (Graviton), the "
                "inference image is built for x86_64; allowed: x86_64 types such as m6i.large, or "
                f"NVIDIA GPU types ({', '.join(EKS_NVIDIA_GPU_INSTANCE_FAMILIES.value)})"
            )
        gpus = {kind for kind in self.instance_types if is_gpu_instance(kind)}
        if gpus and len(gpus) != len(self.instance_types):
            problems.append(
                f"compute.eks.node_group.instance_types: {', '.join(sorted(gpus))} mixed with CPU types: "
                "one node group runs one AMI (the NVIDIA one for GPUs); use only GPU or only CPU types"
            )
        if not self.gpu:
            system = sorted(self.model_fields_set & {"system_instance_types", "system_size"})
            if system:
                problems.append(
                    f"compute.eks.node_group.{system[0]}: applies only with GPU instance_types (the untainted "
                    "system node group next to the tainted GPU one); a CPU node group runs everything itself: "
                    "remove it"
                )
            return problems
        unfit = [kind for kind in self.system_instance_types if is_gpu_instance(kind) or is_arm_instance(kind)]
        if unfit:
            problems.append(
                f"compute.eks.node_group.system_instance_types: {', '.join(unfit)} not an x86_64 CPU type (the "
                "system nodes run the CPU pods: KEDA, the load balancer controller, the queue worker's x86_64 "
                "image); allowed: types such as m6i.large"
            )
        return problems

    @property
    def gpu(self) -> bool:
        return all(is_gpu_instance(kind) for kind in self.instance_types)


class EksConfig(StrictModel):
    """The EKS cluster that runs the inference service and the queue worker when `orchestrator = "eks"`."""

    kubernetes_version: Literal[KUBERNETES_VERSIONS] = Field(  # type: ignore[valid-type]
        default=DEFAULT_KUBERNETES_VERSION,
        description=f"Kubernetes version of the cluster, pinned (upgrade deliberately); allowed: "
        f"{', '.join(KUBERNETES_VERSIONS)}; the manifests are validated against this version's schemas",
    )
    namespace: str = Field(default="inference", pattern=DNS_LABEL, description="namespace of the workloads")
    endpoint_public_access: bool = Field(
        default=False,
        description="also serve the Kubernetes API publicly (only to public_access_cidrs); default: "
        "private endpoint only, reachable from the VPC",
    )
    public_access_cidrs: tuple[str, ...] = Field(
        default=(),
        description="[endpoint_public_access] the only source ranges of the public endpoint (required; "
        "never 0.0.0.0/0)",
    )
    compute: Literal["auto-mode", "node-group"] = Field(
        default="auto-mode",
        description="auto-mode: EKS Auto Mode runs and patches the nodes (no node management); "
        "node-group: a managed node group (GPU instance types need it)",
    )
    node_group: NodeGroupConfig = Field(
        default_factory=NodeGroupConfig, description="[compute = node-group] the managed node group"
    )
    inference_gpus: int = Field(
        default=0,
        ge=0,
        le=8,
        description="nvidia.com/gpu per inference pod; > 0 needs compute = node-group with NVIDIA GPU instance types",
    )
    control_plane_logs: tuple[Literal[CONTROL_PLANE_LOGS], ...] = Field(  # type: ignore[valid-type]
        default=CONTROL_PLANE_LOGS,
        description="control-plane log types sent to /aws/eks/<cluster>/cluster (retention: log_retention_days)",
    )
    admin_role_arns: tuple[str, ...] = Field(
        default=(),
        description="IAM roles with cluster-admin (access entries; at least one: the cluster creator "
        "gets no implicit access)",
    )
    deploy_role_arns: tuple[str, ...] = Field(
        default=(),
        description="IAM roles that apply the manifests: Kubernetes RBAC limited to the workload "
        "namespace and the kinds the manifests contain",
    )

    def problems(self) -> list[str]:
        """Every combination EKS (or the pipeline on it) would not accept; fields are named from compute.eks."""
        problems = []
        if self.endpoint_public_access and not self.public_access_cidrs:
            problems.append(
                "compute.eks.public_access_cidrs: required with endpoint_public_access = true (the only "
                'networks that may reach the public Kubernetes API, e.g. ["203.0.113.0/24"])'
            )
        if self.public_access_cidrs and not self.endpoint_public_access:
            problems.append(
                "compute.eks.public_access_cidrs: applies only with endpoint_public_access = true; "
                "remove it (the private endpoint admits the VPC)"
            )
        for cidr in self.public_access_cidrs:
            try:
                network = ipaddress.ip_network(cidr, strict=True)
            except ValueError:
                problems.append(
                    f"compute.eks.public_access_cidrs: {cidr!r} is not a network in CIDR notation "
                    "(e.g. 203.0.113.0/24, host bits zero)"
                )
                continue
            if network.prefixlen == 0:
                problems.append(
                    f"compute.eks.public_access_cidrs: {cidr} opens the Kubernetes API to the whole "
                    "internet; list the networks that need it, or keep the endpoint private"
                )
        for field in ("admin_role_arns", "deploy_role_arns"):
            bad = [arn for arn in getattr(self, field) if not re.match(ROLE_ARN, arn)]
            if bad:
                problems.append(
                    f"compute.eks.{field}: {', '.join(bad)} not an IAM role ARN (arn:aws:iam::<account>:role/<name>)"
                )
        if not self.admin_role_arns:
            problems.append(
                "compute.eks.admin_role_arns: at least one role (cluster access is by access entries "
                "only; the identity that creates the cluster gets no implicit admin)"
            )
        if self.compute == "auto-mode":
            if "node_group" in self.model_fields_set:
                problems.append(
                    "compute.eks.node_group: applies only to compute = 'node-group', not to 'auto-mode'; "
                    "remove it or set compute = 'node-group'"
                )
            if self.inference_gpus:
                problems.append(
                    f"compute.eks.inference_gpus: {self.inference_gpus} GPU(s) per pod need a node group "
                    "with GPU instance types: set compute = 'node-group' and node_group.instance_types "
                    f"to NVIDIA GPU types ({', '.join(EKS_NVIDIA_GPU_INSTANCE_FAMILIES.value)})"
                )
        else:
            problems += self.node_group.problems()
            gpu_types = [kind for kind in self.node_group.instance_types if is_gpu_instance(kind)]
            if self.inference_gpus and not gpu_types:
                problems.append(
                    f"compute.eks.inference_gpus: {self.inference_gpus} GPU(s) per pod, but "
                    f"node_group.instance_types ({', '.join(self.node_group.instance_types)}) has no "
                    f"GPU; allowed: NVIDIA GPU types ({', '.join(EKS_NVIDIA_GPU_INSTANCE_FAMILIES.value)})"
                )
            if gpu_types and not self.inference_gpus:
                problems.append(
                    f"compute.eks.node_group.instance_types: GPU types ({', '.join(gpu_types)}) but "
                    "inference_gpus = 0: the pods would never use the GPUs paid for; set inference_gpus, "
                    "or use CPU instance types"
                )
        return problems

    @property
    def auto_mode(self) -> bool:
        return self.compute == "auto-mode"
