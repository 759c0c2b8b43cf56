"""The EKS cluster construct: private endpoint, secrets under the customer key, every control-plane log with a
retention, access entries only, and Auto Mode's three blocks with the policies they need."""

from __future__ import annotations

import json

import pytest

from modules.constructs.eks_cluster import (
    AUTO_MODE_CLUSTER_POLICIES,
    NODE_GROUP_NODE_POLICIES,
    SECRETS_KEY_ACTIONS,
    EksCluster,
    EksClusterProps,
)
from tests.constructs.helpers import only, synth_with

KEY = "arn:aws:kms:eu-west-1:123456789012:key/k"
ADMIN = "arn:aws:iam::123456789012:role/admin"
DEPLOY = "arn:aws:iam::123456789012:role/deploy"


def _cluster(stack, **overrides):
    props = {
        "name": "p",
        "kubernetes_version": "1.35",
        "subnet_ids": ["subnet-a", "subnet-b"],
        "kms_key_arn": KEY,
        "admin_role_arns": (ADMIN,),
        "deploy_role_arns": (DEPLOY,),
        "deploy_group": "p-deployers",
        "log_retention_days": 30,
        **overrides,
    }
    return EksCluster(stack, "cluster", props=EksClusterProps(**props))


def _attached(doc: dict, role_suffix: str) -> set[str]:
    return {
        a["policy_arn"].rsplit("/", 1)[-1]
        for name, a in doc["resource"]["aws_iam_role_policy_attachment"].items()
        if role_suffix in name
    }


def test_the_cluster_is_private_encrypted_logged_and_admits_no_implicit_admin():
    doc = synth_with(_cluster)
    cluster = only(doc, "aws_eks_cluster")

    assert cluster["version"] == "1.35"
    assert cluster["vpc_config"]["endpoint_private_access"] is True
    assert cluster["vpc_config"]["endpoint_public_access"] is False
    assert "public_access_cidrs" not in cluster["vpc_config"]
    assert cluster["encryption_config"] == {"resources": ["secrets"], "provider": {"key_arn": KEY}}
    assert sorted(cluster["enabled_cluster_log_types"]) == [
        "api",
        "audit",
        "authenticator",
        "controllerManager",
        "scheduler",
    ]
    assert cluster["access_config"] == {
        "authentication_mode": "API",
        "bootstrap_cluster_creator_admin_permissions": False,
    }
    group = only(doc, "aws_cloudwatch_log_group")
    assert group["name"] == "/aws/eks/p/cluster" and group["kms_key_id"] == KEY and group["retention_in_days"] == 30
    assert any("log-group" in dependency for dependency in cluster["depends_on"])


def test_auto_mode_turns_on_compute_load_balancing_and_block_storage_with_their_policies():
    doc = synth_with(_cluster)
    cluster = only(doc, "aws_eks_cluster")

    assert cluster["compute_config"]["enabled"] is True
    assert cluster["compute_config"]["node_pools"] == ["general-purpose", "system"]
    assert cluster["kubernetes_network_config"] == {"elastic_load_balancing": {"enabled": True}}
    assert cluster["storage_config"] == {"block_storage": {"enabled": True}}
    assert cluster["bootstrap_self_managed_addons"] is False
    assert set(AUTO_MODE_CLUSTER_POLICIES) | {"AmazonEKSClusterPolicy"} == _attached(doc, "cluster-role")
    trust = json.loads(
        next(r["assume_role_policy"] for n, r in doc["resource"]["aws_iam_role"].items() if "cluster-role" in n)
    )
    assert trust["Statement"][0]["Action"] == ["sts:AssumeRole", "sts:TagSession"]


def test_a_node_group_cluster_keeps_its_own_addons_and_gives_the_nodes_the_cni_policy():
    doc = synth_with(lambda s: _cluster(s, auto_mode=False))
    cluster = only(doc, "aws_eks_cluster")

    assert not {"compute_config", "storage_config", "kubernetes_network_config"} & set(cluster)
    assert "bootstrap_self_managed_addons" not in cluster
    assert _attached(doc, "cluster-role") == {"AmazonEKSClusterPolicy"}
    assert _attached(doc, "node-role") == set(NODE_GROUP_NODE_POLICIES)


def test_the_cluster_role_may_use_the_key_for_secrets_before_the_cluster_exists():
    doc = synth_with(_cluster)
    policy = only(doc, "aws_iam_role_policy")
    document = only({"resource": doc["data"]}, "aws_iam_policy_document")

    assert policy["name"] == "secrets-encryption"
    assert document["statement"][0]["actions"] == SECRETS_KEY_ACTIONS
    assert document["statement"][0]["resources"] == [KEY]
    assert any("secrets-key" in d for d in only(doc, "aws_eks_cluster")["depends_on"])


def test_admins_get_cluster_admin_and_deployers_only_their_kubernetes_group():
    doc = synth_with(_cluster)
    entries = {e["principal_arn"]: e for e in doc["resource"]["aws_eks_access_entry"].values()}
    association = only(doc, "aws_eks_access_policy_association")

    assert entries[DEPLOY]["kubernetes_groups"] == ["p-deployers"]
    assert "kubernetes_groups" not in entries[ADMIN]
    assert association["principal_arn"] == ADMIN
    assert association["policy_arn"].endswith(":cluster-access-policy/AmazonEKSClusterAdminPolicy")
    assert association["access_scope"] == {"type": "cluster"}


def test_a_public_endpoint_carries_exactly_its_allow_list():
    doc = synth_with(lambda s: _cluster(s, endpoint_public_access=True, public_access_cidrs=("203.0.113.0/24",)))

    assert only(doc, "aws_eks_cluster")["vpc_config"]["public_access_cidrs"] == ["203.0.113.0/24"]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"endpoint_public_access": True}, "endpoint_public_access needs public_access_cidrs"),
        ({"endpoint_public_access": True, "public_access_cidrs": ("0.0.0.0/0",)}, "must not contain a /0 range"),
        ({"admin_role_arns": ()}, "admin_role_arns: at least one"),
        ({"log_types": ("api", "everything")}, "log_types: unknown everything"),
        ({"log_retention_days": 2}, "log_retention_days must be one of"),
        ({"subnet_ids": ["subnet-a"]}, "subnet_ids: EKS needs subnets in at least two availability zones"),
    ],
)
def test_invalid_props_are_refused_naming_the_field(overrides, message):
    with pytest.raises(ValueError, match=message):
        synth_with(lambda s: _cluster(s, **overrides))


def test_without_auto_mode_settings_the_roles_stay_but_the_blocks_go():
    doc = synth_with(lambda s: _cluster(s, auto_mode_settings=False))
    cluster = only(doc, "aws_eks_cluster")

    assert "compute_config" not in cluster and "storage_config" not in cluster
    assert set(AUTO_MODE_CLUSTER_POLICIES) <= _attached(doc, "cluster-role")
