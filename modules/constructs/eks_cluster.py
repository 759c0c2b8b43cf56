"""An EKS cluster that needs no node management by default (EKS Auto Mode), with a private API endpoint,
Kubernetes secrets envelope-encrypted with a customer key, every control-plane log type kept with a retention,
and access only through access entries (never the aws-auth ConfigMap, never an implicit admin for its creator).

Why the roles live here: Auto Mode changes what the cluster role must carry (compute, block storage, load
balancing and networking policies, and `sts:TagSession` in its trust) and which policies the nodes need; keeping
both next to the cluster keeps the two switches in step.
"""

from __future__ import annotations

from dataclasses import dataclass

from constructs import Construct

from modules import aws
from modules.constructs.encrypted_log_group import encrypted_log_group, log_group_problems
from modules.constructs.policy_statements import statement
from modules.constructs.service_roles import assume_role_policy, role_with_policy
from modules.limits import EKS_CONTROL_PLANE_LOGS

CONTROL_PLANE_LOGS = EKS_CONTROL_PLANE_LOGS.value

# AWS managed policies (arn:<partition>:iam::aws:policy/<name>): maintained by AWS as EKS evolves.
CLUSTER_POLICIES = ("AmazonEKSClusterPolicy",)
AUTO_MODE_CLUSTER_POLICIES = (
    "AmazonEKSComputePolicy",
    "AmazonEKSBlockStoragePolicy",
    "AmazonEKSLoadBalancingPolicy",
    "AmazonEKSNetworkingPolicy",
)
# Auto Mode nodes (https://docs.aws.amazon.com/eks/latest/userguide/create-node-role.html); managed node groups
# also run the VPC CNI, which needs AmazonEKS_CNI_Policy on the node role.
AUTO_MODE_NODE_POLICIES = ("AmazonEKSWorkerNodeMinimalPolicy", "AmazonEC2ContainerRegistryPullOnly")
NODE_GROUP_NODE_POLICIES = ("AmazonEKSWorkerNodePolicy", "AmazonEC2ContainerRegistryPullOnly", "AmazonEKS_CNI_Policy")
CLUSTER_ADMIN_POLICY = "AmazonEKSClusterAdminPolicy"
AUTO_MODE_NODE_POOLS = ("general-purpose", "system")
# What the control plane does with the customer key to envelope-encrypt secrets, with the cluster role
# (https://docs.aws.amazon.com/eks/latest/userguide/envelope-encryption.html); AmazonEKSClusterPolicy grants no
# customer key.
SECRETS_KEY_ACTIONS = ["kms:Encrypt", "kms:Decrypt", "kms:DescribeKey", "kms:ListGrants"]


@dataclass(frozen=True, kw_only=True)
class EksClusterProps:
    """The cluster, where its API is reachable from, its key and logs, its compute mode and who may use it."""

    name: str  # cluster name; also /aws/eks/<name>/cluster and the roles' prefix
    kubernetes_version: str  # e.g. "1.35"
    subnet_ids: tuple[str, ...] | list[str]  # private subnets: control-plane interfaces and nodes
    kms_key_arn: str  # envelope encryption of Kubernetes secrets and of the control-plane log group
    partition: str = "aws"
    endpoint_public_access: bool = False  # the private endpoint is always on
    public_access_cidrs: tuple[str, ...] = ()  # required with endpoint_public_access; never 0.0.0.0/0
    log_types: tuple[str, ...] = CONTROL_PLANE_LOGS
    log_retention_days: int
    auto_mode: bool = True  # EKS Auto Mode: compute_config, elastic_load_balancing, block_storage
    auto_mode_settings: bool = True  # False: Auto Mode's blocks left out (an emulator without them), roles kept
    admin_role_arns: tuple[str, ...] = ()  # cluster-admin access entries
    deploy_role_arns: tuple[str, ...] = ()  # access entries mapped to deploy_group (RBAC in the manifests)
    deploy_group: str = "pipeline-deployers"  # Kubernetes group of the deploy roles


class EksCluster(Construct):
    """Exposes `cluster`, `name`, `arn`, `endpoint`, `security_group_id` (the cluster security group: nodes and
    pods), `cluster_role`, `node_role`, `log_group`, `access_entries` (principal ARN -> entry)."""

    def __init__(self, scope: Construct, id_: str, *, props: EksClusterProps) -> None:
        super().__init__(scope, id_)
        _validate(id_, props)
        self.name = props.name
        self.log_group = encrypted_log_group(
            self,
            "log-group",
            name=f"/aws/eks/{props.name}/cluster",
            retention_days=props.log_retention_days,
            kms_key_arn=props.kms_key_arn,
        )
        cluster_policies = CLUSTER_POLICIES + (AUTO_MODE_CLUSTER_POLICIES if props.auto_mode else ())
        # sts:TagSession: Auto Mode tags the sessions it opens with the cluster role (AWS's cluster role trust).
        # Its inline policy comes before the cluster: EKS checks the key with the cluster role when it creates it.
        cluster = role_with_policy(
            self,
            "cluster-role",
            name=f"{props.name}-eks-cluster",
            description=f"{props.name}: the EKS control plane (and Auto Mode's managed controllers)",
            trust=assume_role_policy("eks.amazonaws.com", actions=["sts:AssumeRole", "sts:TagSession"]),
            statements=[statement("EnvelopeEncryptSecrets", SECRETS_KEY_ACTIONS, [props.kms_key_arn])],
            policy_name="secrets-encryption",
            policy_id="cluster-role-secrets-key",
            document_id="secrets-key-document",
            aws_managed_policies=cluster_policies,
            partition=props.partition,
        )
        self.cluster_role, self.secrets_key_policy, cluster_attachments = cluster
        self.node_role = role_with_policy(
            self,
            "node-role",
            name=f"{props.name}-eks-nodes",
            description=f"{props.name}: the cluster's nodes (kubelet, image pulls); workloads get their own roles "
            "by pod identity",
            trust=assume_role_policy("ec2.amazonaws.com", actions=["sts:AssumeRole"]),
            statements=[],
            aws_managed_policies=AUTO_MODE_NODE_POLICIES if props.auto_mode else NODE_GROUP_NODE_POLICIES,
            partition=props.partition,
        ).role
        auto = props.auto_mode and props.auto_mode_settings
        self.cluster = aws.eks_cluster.EksCluster(
            self,
            "cluster",
            name=props.name,
            version=props.kubernetes_version,
            role_arn=self.cluster_role.arn,
            vpc_config=aws.eks_cluster.EksClusterVpcConfig(
                subnet_ids=list(props.subnet_ids),
                endpoint_private_access=True,
                endpoint_public_access=props.endpoint_public_access,
                public_access_cidrs=list(props.public_access_cidrs) if props.endpoint_public_access else None,
            ),
            encryption_config=aws.eks_cluster.EksClusterEncryptionConfig(
                resources=["secrets"],
                provider=aws.eks_cluster.EksClusterEncryptionConfigProvider(key_arn=props.kms_key_arn),
            ),
            enabled_cluster_log_types=list(props.log_types),
            access_config=aws.eks_cluster.EksClusterAccessConfig(
                authentication_mode="API", bootstrap_cluster_creator_admin_permissions=False
            ),
            # Auto Mode installs and patches its own networking, DNS and storage components.
            bootstrap_self_managed_addons=False if props.auto_mode else None,
            compute_config=aws.eks_cluster.EksClusterComputeConfig(
                enabled=True, node_pools=list(AUTO_MODE_NODE_POOLS), node_role_arn=self.node_role.arn
            )
            if auto
            else None,
            kubernetes_network_config=aws.eks_cluster.EksClusterKubernetesNetworkConfig(
                elastic_load_balancing=aws.eks_cluster.EksClusterKubernetesNetworkConfigElasticLoadBalancing(
                    enabled=True
                )
            )
            if auto
            else None,
            storage_config=aws.eks_cluster.EksClusterStorageConfig(
                block_storage=aws.eks_cluster.EksClusterStorageConfigBlockStorage(enabled=True)
            )
            if auto
            else None,
            # The log group first (with its retention and key), or EKS creates one that never expires.
            depends_on=[self.log_group, self.secrets_key_policy, *cluster_attachments],
        )
        self.arn = self.cluster.arn
        self.endpoint = self.cluster.endpoint
        self.security_group_id = self.cluster.vpc_config.cluster_security_group_id
        self.access_entries = {}
        for index, principal in enumerate(props.admin_role_arns):
            entry = aws.eks_access_entry.EksAccessEntry(
                self, f"admin-{index}", cluster_name=self.cluster.name, principal_arn=principal, type="STANDARD"
            )
            aws.eks_access_policy_association.EksAccessPolicyAssociation(
                self,
                f"admin-{index}-policy",
                cluster_name=self.cluster.name,
                principal_arn=principal,
                policy_arn=f"arn:{props.partition}:eks::aws:cluster-access-policy/{CLUSTER_ADMIN_POLICY}",
                access_scope=aws.eks_access_policy_association.EksAccessPolicyAssociationAccessScope(type="cluster"),
                depends_on=[entry],
            )
            self.access_entries[principal] = entry
        for index, principal in enumerate(props.deploy_role_arns):
            # No access policy: the group's Kubernetes RBAC (a Role in the workload namespace, in the manifests)
            # is all a deploy role may do.
            self.access_entries[principal] = aws.eks_access_entry.EksAccessEntry(
                self,
                f"deploy-{index}",
                cluster_name=self.cluster.name,
                principal_arn=principal,
                type="STANDARD",
                kubernetes_groups=[props.deploy_group],
            )


def _validate(id_: str, props: EksClusterProps) -> None:
    problems = []
    if props.endpoint_public_access and not props.public_access_cidrs:
        problems.append("endpoint_public_access needs public_access_cidrs (the public endpoint is never open to all)")
    if any(cidr.endswith("/0") for cidr in props.public_access_cidrs):
        problems.append("public_access_cidrs must not contain a /0 range")
    unknown = sorted(set(props.log_types) - set(CONTROL_PLANE_LOGS))
    if unknown:
        problems.append(f"log_types: unknown {', '.join(unknown)}; allowed: {', '.join(CONTROL_PLANE_LOGS)}")
    problems += log_group_problems("log_retention_days", props.log_retention_days)
    if not props.admin_role_arns:
        problems.append("admin_role_arns: at least one (the creator gets no implicit access)")
    if isinstance(props.subnet_ids, (list, tuple)) and len(props.subnet_ids) < 2:
        problems.append("subnet_ids: EKS needs subnets in at least two availability zones")
    if problems:
        raise ValueError(f"{id_}: " + "; ".join(problems))
