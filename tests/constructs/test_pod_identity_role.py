"""A pod identity role: trusted only by EKS Pod Identity for one cluster of one account, bound to one service
account, with exactly the statements given."""

from __future__ import annotations

import json

import pytest

from modules.constructs.pod_identity_role import PodIdentityRole, PodIdentityRoleProps
from modules.constructs.policy_statements import statement
from tests.constructs.helpers import only, synth_with

CLUSTER = "arn:aws:eks:eu-west-1:123456789012:cluster/p"


def _role(stack, **overrides):
    props = {
        "role_name": "p-worker-pod",
        "cluster_name": "p",
        "cluster_arn": CLUSTER,
        "account_id": "123456789012",
        "namespace": "inference",
        "service_account": "queue-worker",
        "purpose": "tests",
        **overrides,
    }
    return PodIdentityRole(stack, "identity", props=PodIdentityRoleProps(**props))


def test_only_eks_pod_identity_for_this_cluster_may_assume_the_role():
    doc = synth_with(_role)
    trust = json.loads(only(doc, "aws_iam_role")["assume_role_policy"])["Statement"]

    assert trust == [
        {
            "Sid": "EksPodIdentityAssumesRole",
            "Effect": "Allow",
            "Principal": {"Service": "pods.eks.amazonaws.com"},
            "Action": ["sts:AssumeRole", "sts:TagSession"],
            "Condition": {
                "StringEquals": {"aws:SourceAccount": "123456789012"},
                "ArnEquals": {"aws:SourceArn": CLUSTER},
            },
        }
    ]
    association = only(doc, "aws_eks_pod_identity_association")
    assert (association["namespace"], association["service_account"]) == ("inference", "queue-worker")


def test_a_role_without_statements_has_no_policy_and_one_with_them_exactly_those():
    assert "aws_iam_role_policy" not in synth_with(_role)["resource"]

    doc = synth_with(lambda s: _role(s, policy_statements=(statement("Read", ["sqs:GetQueueAttributes"], ["arn:q"]),)))

    assert only(doc, "aws_iam_role_policy")["name"] == "least-privilege"
    assert only({"resource": doc["data"]}, "aws_iam_policy_document")["statement"][0]["actions"] == [
        "sqs:GetQueueAttributes"
    ]


def test_a_namespace_that_is_no_kubernetes_name_is_refused():
    with pytest.raises(ValueError, match="namespace must be a Kubernetes name"):
        synth_with(lambda s: _role(s, namespace="Not_A_Name"))
