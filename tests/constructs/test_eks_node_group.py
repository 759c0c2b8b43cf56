"""The managed node group: IMDSv2 only with hop limit 1, encrypted root volume, NVIDIA AMI and taint for GPUs."""

from __future__ import annotations

import pytest

from modules.constructs.eks_node_group import EksNodeGroup, EksNodeGroupProps
from tests.constructs.helpers import only, synth_with


def _group(stack, **overrides):
    props = {
        "name": "p-nodes",
        "cluster_name": "p",
        "node_role_arn": "arn:aws:iam::123456789012:role/n",
        "subnet_ids": ["subnet-a", "subnet-b"],
        "instance_types": ("m6i.large",),
        "min_size": 2,
        "desired_size": 2,
        "max_size": 4,
        "disk_size_gb": 50,
        **overrides,
    }
    return EksNodeGroup(stack, "nodes", props=EksNodeGroupProps(**props))


def test_nodes_require_imdsv2_with_hop_limit_one_and_encrypt_their_root_volume():
    doc = synth_with(_group)
    template = only(doc, "aws_launch_template")

    assert template["metadata_options"] == {
        "http_endpoint": "enabled",
        "http_tokens": "required",
        "http_put_response_hop_limit": 1,
    }
    ebs = template["block_device_mappings"][0]["ebs"]
    assert ebs["encrypted"] == "true" and ebs["volume_type"] == "gp3" and ebs["volume_size"] == 50
    group = only(doc, "aws_eks_node_group")
    assert group["ami_type"] == "AL2023_x86_64_STANDARD" and "taint" not in group
    assert group["lifecycle"]["ignore_changes"] == ["scaling_config[0].desired_size"]
    assert "remote_access" not in group


def test_the_root_volume_uses_the_key_the_disk_size_setting_documents():
    from modules.config.eks import NodeGroupConfig

    ebs = only(synth_with(_group), "aws_launch_template")["block_device_mappings"][0]["ebs"]
    documented = NodeGroupConfig.model_fields["disk_size_gb"].description

    assert "kms_key_id" not in ebs and "default EBS key" in documented and "not the cluster key" in documented


def test_gpu_nodes_run_the_nvidia_ami_and_admit_only_pods_that_tolerate_the_gpu_taint():
    group = only(synth_with(lambda s: _group(s, instance_types=("g5.xlarge",), gpu=True)), "aws_eks_node_group")

    assert group["ami_type"] == "AL2023_x86_64_NVIDIA"
    assert group["taint"] == [{"key": "nvidia.com/gpu", "value": "true", "effect": "NO_SCHEDULE"}]
    # What the NVIDIA device plugin chart's default node affinity selects (no Node Feature Discovery installed).
    assert group["labels"] == {"nvidia.com/gpu.present": "true"}


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"min_size": 3, "desired_size": 2}, "sizes must satisfy"),
        ({"instance_types": ()}, "instance_types: at least one"),
        ({"capacity_type": "RESERVED"}, "capacity_type must be ON_DEMAND or SPOT"),
    ],
)
def test_invalid_props_are_refused(overrides, message):
    with pytest.raises(ValueError, match=message):
        synth_with(lambda s: _group(s, **overrides))
