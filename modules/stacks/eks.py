"""The eks stack (only with `compute.orchestrator = "eks"`): an EKS cluster that runs the inference service and
the queue worker instead of ECS Fargate, the load balancer the API's VPC link reaches them through, the pod
identity roles, and the workloads as Kubernetes manifests, written next to the stacks (cdktf.out/k8s/<env>/).

    API Gateway ─VPC link─> internal ALB (this stack) ─TargetGroupBinding─> inference pods
    SQS work queue ─KEDA (backlog, to zero)─> queue-worker pods ─> model ─> S3 results ─> results topic

The pods get exactly the grants their ECS task roles get: the statements are built by the compute stack's own
methods (borrowed below, not copied), so the two orchestrators cannot drift apart.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from constructs import Construct

from lambdas import contract
from modules import aws
from modules.config import PipelineConfig
from modules.constructs.eks_cluster import EksCluster, EksClusterProps
from modules.constructs.eks_node_group import EksNodeGroup, EksNodeGroupProps
from modules.constructs.pod_identity_role import PodIdentityRole, PodIdentityRoleProps
from modules.constructs.policy_statements import statement
from modules.kubernetes.spec import (
    INFERENCE,
    QUEUE_WORKER,
    ContainerSpec,
    InferenceSpec,
    QueueWorkerSpec,
    WorkloadsSpec,
)
from modules.stacks.base import PipelineStack
from modules.stacks.compute import HEALTH_CHECK_COMMAND, ComputeStack, InferenceService
from modules.stacks.model_load_balancer import model_load_balancer, model_load_balancer_outputs

if TYPE_CHECKING:  # the producers' classes, for the typed parameters only (no import at run time)
    from modules.stacks.messaging import MessagingStack
    from modules.stacks.network import NetworkStack
    from modules.stacks.registry import RegistryStack
    from modules.stacks.storage import StorageStack

# Where the cluster add-ons this stack grants run (their Helm charts: make k8s-install).
KEDA_NAMESPACE, KEDA_SERVICE_ACCOUNT = "keda", "keda-operator"
LB_CONTROLLER_NAMESPACE, LB_CONTROLLER_SERVICE_ACCOUNT = "kube-system", "aws-load-balancer-controller"
# The Auto Mode load balancing policy lets its controller register targets only in target groups carrying this tag
# with the cluster's name (AmazonEKSLoadBalancingPolicy).
CLUSTER_TAG = "eks:eks-cluster-name"
# Add-ons of a node-group cluster (Auto Mode runs their equivalents itself). Network policy enforcement is on.
NODE_GROUP_ADDONS = {
    "vpc-cni": '{"enableNetworkPolicy":"true"}',
    "kube-proxy": None,
    "coredns": None,
    "eks-pod-identity-agent": None,
}
# What the AWS Load Balancer Controller calls to keep the target group's targets in step with the pods
# (TargetGroupBinding only: it manages no load balancer and no security group here). Describe calls take no
# resource-level permissions.
LB_CONTROLLER_DESCRIBE = [
    "elasticloadbalancing:DescribeTargetGroups",
    "elasticloadbalancing:DescribeTargetHealth",
    "elasticloadbalancing:DescribeLoadBalancers",
    "elasticloadbalancing:DescribeListeners",
    "elasticloadbalancing:DescribeTags",
    "ec2:DescribeInstances",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeSubnets",
    "ec2:DescribeVpcs",
    "ec2:DescribeSecurityGroups",
]
LB_CONTROLLER_TARGETS = ["elasticloadbalancing:RegisterTargets", "elasticloadbalancing:DeregisterTargets"]


class EksStack(PipelineStack):
    """Exposes `cluster` (EksCluster), `inference_service` (InferenceService or None), `model_url`,
    `queue_worker_role` and `keda_role` (PodIdentityRole or None), `workloads` (WorkloadsSpec), `manifests` (the
    files written), `manifests_dir`."""

    # The very methods that build the ECS queue worker's task role statements and container environment.
    _queue_worker_environment = ComputeStack._queue_worker_environment
    _queue_worker_grants = ComputeStack._queue_worker_grants
    _job_grants = ComputeStack._job_grants
    _result_grants = ComputeStack._result_grants
    _missing_key_is_404 = ComputeStack._missing_key_is_404
    _model_grants = ComputeStack._model_grants
    _model_environment = ComputeStack._model_environment
    endpoint_arn = ComputeStack.endpoint_arn

    def __init__(
        self,
        scope: Construct,
        id_: str = "eks",
        *,
        config: PipelineConfig,
        network: NetworkStack,
        registry: RegistryStack,
        storage: StorageStack,
        messaging: MessagingStack,
    ) -> None:
        super().__init__(scope, id_, config=config)
        self.network, self.registry, self.storage, self.messaging = network, registry, storage, messaging
        compute, eks = config.compute, config.compute.eks
        prefix = config.name_prefix
        name = compute.eks_cluster_name(prefix)
        self.key = self.customer_key(
            "eks-key",
            alias=f"{prefix}-eks",
            description=f"Kubernetes secrets and control-plane logs of the EKS cluster {name}",
        )
        self.cluster = EksCluster(
            self,
            "cluster",
            props=EksClusterProps(
                name=name,
                kubernetes_version=eks.kubernetes_version,
                subnet_ids=network.private_subnet_ids,
                kms_key_arn=self.key.arn,
                partition=self.partition,
                endpoint_public_access=eks.endpoint_public_access,
                public_access_cidrs=eks.public_access_cidrs,
                log_types=eks.control_plane_logs,
                log_retention_days=config.log_retention_days,
                auto_mode=eks.auto_mode,
                auto_mode_settings=not config.emulator.skips("eks_auto_mode"),
                admin_role_arns=eks.admin_role_arns,
                deploy_role_arns=eks.deploy_role_arns,
                deploy_group=self.deploy_group,
            ),
        )
        self.key.allow_log_group(self.cluster.log_group)
        if not eks.auto_mode:
            self._node_group(name)

        self.inference_service = self._load_balancer() if compute.inference_service.enabled else None
        # The queue worker calls the model inside the cluster (through the Service, admitted by its NetworkPolicy);
        # the functions call it through the load balancer.
        self.model_url = compute.model_url or (self.inference_service.url if self.inference_service else "")
        self.in_cluster_model_url = (
            compute.model_url or f"http://{INFERENCE}.{eks.namespace}.svc:{contract.MODEL_SERVER_PORT}"
        )
        self.queue_worker_role = self.keda_role = None
        queue_name = compute.worker_queue_for_fargate(tuple(messaging.work_queues))
        if queue_name is not None:
            self._queue_worker_roles(messaging.work_queues[queue_name])
        if not eks.auto_mode:
            self._load_balancer_controller_role()

        self.workloads = self._workloads(queue_name)
        self.manifests_dir = Path(self.node.root.outdir) / "k8s" / config.environment
        from modules.kubernetes.workloads import write_manifests  # cdk8s loads only when EKS is chosen

        self.manifests = write_manifests(self.workloads, self.manifests_dir)
        self._outputs()

    @property
    def deploy_group(self) -> str:
        return f"{self.config.name_prefix}-deployers"

    # --- compute ------------------------------------------------------------------------------------------------

    def _node_group(self, name: str) -> None:
        group = self.config.compute.eks.node_group
        self.node_group = self._nodes(
            "node-group",
            name=f"{name}-nodes",
            instance_types=group.instance_types,
            gpu=group.gpu,
            capacity_type=group.capacity_type,
            min_size=group.min_size,
            desired_size=group.desired_size,
            max_size=group.max_size,
        )
        # GPU nodes are tainted: CoreDNS, KEDA, the load balancer controller and the queue worker need untainted
        # nodes, a small on-demand CPU group. A CPU node group runs them itself.
        self.system_node_group = None
        if group.gpu:
            size = group.system_size
            self.system_node_group = self._nodes(
                "system-node-group",
                name=f"{name}-system",
                instance_types=group.system_instance_types,
                min_size=size,
                desired_size=size,
                max_size=size,
            )
        untainted = (self.system_node_group or self.node_group).node_group
        for addon, settings in NODE_GROUP_ADDONS.items():
            aws.eks_addon.EksAddon(
                self,
                f"addon-{addon}",
                cluster_name=self.cluster.cluster.name,
                addon_name=addon,
                configuration_values=settings,
                resolve_conflicts_on_create="OVERWRITE",
                resolve_conflicts_on_update="OVERWRITE",
                # CoreDNS needs nodes it may run on (untainted) to become ACTIVE; the others (DaemonSets on every
                # node) must be there before pods start.
                depends_on=[untainted] if addon == "coredns" else None,
            )

    def _nodes(self, id_: str, **props) -> EksNodeGroup:
        """A managed node group of this cluster: its node role, the private subnets, node_group.disk_size_gb."""
        return EksNodeGroup(
            self,
            id_,
            props=EksNodeGroupProps(
                cluster_name=self.cluster.cluster.name,
                node_role_arn=self.cluster.node_role.arn,
                subnet_ids=self.network.private_subnet_ids,
                disk_size_gb=self.config.compute.eks.node_group.disk_size_gb,
                **props,
            ),
        )

    # --- load balancer ------------------------------------------------------------------------------------------

    def _load_balancer(self) -> InferenceService:
        """The internal ALB the API's VPC link reaches, with a target group the TargetGroupBinding fills with pods.

        It sits in the public subnets (internal: private addresses only, the VPC CIDR admitted), where no pod ever
        gets an address, so the inference pods' NetworkPolicy can admit exactly the load balancer by subnet.
        """
        config = self.config
        balancer = config.compute.load_balancer
        alb = model_load_balancer(
            self,
            network=self.network,
            storage=self.storage,
            subnet_ids=self.network.public_subnet_ids,
            target_group_tags={CLUSTER_TAG: self.cluster.name},
        )
        # Pods take their addresses from the nodes' subnets behind the cluster security group: let the load
        # balancer (and nothing else new) reach the model server's port there.
        if not config.emulator.skips("eks_cluster_security_group"):
            aws.vpc_security_group_ingress_rule.VpcSecurityGroupIngressRule(
                self,
                "pods-from-load-balancer",
                security_group_id=self.cluster.security_group_id,
                ip_protocol="tcp",
                from_port=contract.MODEL_SERVER_PORT,
                to_port=contract.MODEL_SERVER_PORT,
                referenced_security_group_id=alb.security_group_id,
                description=f"the inference load balancer to the model server pods on {contract.MODEL_SERVER_PORT}",
            )
        return InferenceService.behind(alb, balancer, None)

    # --- pod identity -------------------------------------------------------------------------------------------

    def _pod_identity(
        self, id_: str, role_name: str, namespace: str, service_account: str, purpose: str, statements: list
    ) -> PodIdentityRole:
        return PodIdentityRole(
            self,
            id_,
            props=PodIdentityRoleProps(
                role_name=role_name,
                cluster_name=self.cluster.cluster.name,
                cluster_arn=self.cluster.arn,
                account_id=self.account_id,
                namespace=namespace,
                service_account=service_account,
                purpose=purpose,
                policy_statements=tuple(statements),
            ),
        )

    def _queue_worker_roles(self, queue) -> None:
        """The consumer's grants are the ECS queue worker's task role statements (less ProtectBusyTask: only the
        ECS agent calls UpdateTaskProtection, and no ECS agent runs here); KEDA only reads the backlog."""
        config = self.config
        worker = config.compute.queue_worker_name(config.name_prefix)
        self.queue_worker_role = self._pod_identity(
            "queue-worker-identity",
            f"{worker}-pod",
            config.compute.eks.namespace,
            QUEUE_WORKER,
            "the queue worker's own AWS calls (as the ECS task role)",
            self._queue_worker_grants(queue.arn),
        )
        self.keda_role = self._pod_identity(
            "keda-identity",
            f"{self.cluster.name}-keda-operator",
            KEDA_NAMESPACE,
            KEDA_SERVICE_ACCOUNT,
            "KEDA reads the work queue's backlog to scale the queue worker",
            [statement("ReadBacklog", ["sqs:GetQueueAttributes"], [queue.arn])],
        )

    def _load_balancer_controller_role(self) -> None:
        """On a node-group cluster the AWS Load Balancer Controller (make k8s-install) keeps the target group's
        targets in step with the inference pods; on Auto Mode, EKS does that with the cluster role."""
        if self.inference_service is None:
            return
        target_group = self.inference_service.alb.target_group
        self.load_balancer_controller_role = self._pod_identity(
            "lb-controller-identity",
            f"{self.cluster.name}-lb-controller",
            LB_CONTROLLER_NAMESPACE,
            LB_CONTROLLER_SERVICE_ACCOUNT,
            "the AWS Load Balancer Controller binds pods to the inference target group",
            [
                statement("DescribeTargets", LB_CONTROLLER_DESCRIBE, ["*"]),
                statement("BindInferenceTargets", LB_CONTROLLER_TARGETS, [target_group.arn]),
            ],
        )

    # --- manifests ----------------------------------------------------------------------------------------------

    def _image(self, image: str, tag: str) -> str:
        """The image reference as a plain string (the repository URL is a Terraform value of the registry
        stack; its parts are known: <account>.dkr.ecr.<region>.<dns suffix>/<repository name>)."""
        repository = self.registry.repositories[image]
        separator = "@" if tag.startswith("sha256:") else ":"
        return f"{self.config.account_id}.dkr.ecr.{self.config.region}.{self._dns_suffix}/{repository.name}{separator}{tag}"

    @property
    def _dns_suffix(self) -> str:
        return "amazonaws.com.cn" if self.config.partition == "aws-cn" else "amazonaws.com"

    def _plain_environment(self, queue) -> dict[str, str]:
        """The queue worker's environment with plain values: the ECS container's, built by the same method."""
        config = self.config
        topic = self.messaging.results_topic.name
        environment = self._queue_worker_environment(
            queue_url=f"https://sqs.{config.region}.{self._dns_suffix}/{config.account_id}/{queue.name}",
            results_bucket=self.storage.results_bucket.name,
            results_topic_arn=f"arn:{config.partition}:sns:{config.region}:{config.account_id}:{topic}",
        )
        if contract.MODEL_URL in environment:
            environment[contract.MODEL_URL] = self.in_cluster_model_url
        return environment

    def _workloads(self, queue_name: str | None) -> WorkloadsSpec:
        config = self.config
        compute, eks = config.compute, config.compute.eks
        inference = worker = None
        calls_model_in_cluster = compute.queue_worker_model_backend == contract.BACKEND_HTTP and not compute.model_url
        if compute.inference_service.enabled:
            service = compute.inference_service
            inference = InferenceSpec(
                container=ContainerSpec(
                    image=self._image(service.image, service.image_tag),
                    cpu_millicores=service.cpu,
                    memory_mib=service.memory,
                    gpus=eks.inference_gpus,
                    environment={
                        contract.MAX_PAYLOAD_BYTES: str(
                            compute.inference_service_payload_bytes(
                                endpoint_mode=config.inference.mode, predict_backend=config.api.predict_backend
                            )
                        ),
                        contract.LOG_LEVEL: config.inference.log_level,
                    },
                ),
                min_replicas=service.min_count,
                max_replicas=service.max_count,
                cpu_target_percent=service.cpu_target_percent,
                load_balancer_cidrs=tuple(plan.public_cidr for plan in config.network.subnet_plan(config.region)),
                target_group_name=compute.inference_service_name(config.name_prefix),
                admit_queue_worker=queue_name is not None and calls_model_in_cluster,
            )
        if queue_name is not None:
            settings = compute.queue_worker
            environment = self._plain_environment(self.messaging.work_queues[queue_name])
            worker = QueueWorkerSpec(
                container=ContainerSpec(
                    image=self._image(settings.image, settings.image_tag),
                    cpu_millicores=settings.cpu,
                    memory_mib=settings.memory,
                    environment=environment,
                    args=(contract.WORK_COMMAND,),
                ),
                health_check_command=HEALTH_CHECK_COMMAND,
                queue_url=environment[contract.QUEUE_URL],
                min_replicas=settings.min_count,
                max_replicas=settings.max_count,
                messages_per_replica=settings.messages_per_task,
                cooldown_seconds=settings.scale_in_evaluation_minutes * 60,
                scale_in_window_seconds=settings.scale_in_evaluation_minutes * 60,
                # The ECS stop timeout: synth checks that one long poll plus the slowest job fits in it.
                termination_grace_seconds=settings.stop_timeout_seconds,
            )
        gpu = eks.inference_gpus > 0
        return WorkloadsSpec(
            environment=config.environment,
            project=config.project,
            namespace=eks.namespace,
            region=config.region,
            auto_mode=eks.auto_mode,
            deploy_group=self.deploy_group,
            inference=inference,
            queue_worker=worker,
            gpu_toleration=gpu,
        )

    # --- outputs ------------------------------------------------------------------------------------------------

    def _outputs(self) -> None:
        eks = self.config.compute.eks
        self.output("eks_cluster_name", self.cluster.cluster.name, "EKS cluster (aws eks update-kubeconfig --name ...)")
        self.output("eks_cluster_arn", self.cluster.arn, "EKS cluster ARN")
        self.output("kubernetes_namespace", eks.namespace, "namespace of the workloads (make k8s-apply)")
        self.output(
            "kubernetes_manifests",
            f"k8s/{self.config.environment}",
            "folder of the generated manifests, next to stacks/ in the synth output",
        )
        if self.inference_service:
            model_load_balancer_outputs(self, self.inference_service)
            self.output(
                "inference_target_group_name",
                self.inference_service.alb.target_group.name,
                "target group the TargetGroupBinding fills with the inference pods",
            )
            self.output("model_url", self.inference_service.url, "MODEL_URL of the http model backend (functions)")
        if self.keda_role:
            self.output(
                "keda_operator_role_arn",
                self.keda_role.arn,
                f"pod identity of {KEDA_NAMESPACE}/{KEDA_SERVICE_ACCOUNT} (make k8s-install)",
            )
