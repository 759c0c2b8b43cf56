"""A managed node group (the alternative to EKS Auto Mode, and the way to GPU instances): nodes from a launch
template that requires IMDSv2 with a hop limit of 1 (pods cannot borrow the node role; they use pod identity) and
encrypts the root volume; GPU nodes run the NVIDIA AMI and are tainted, so only pods asking for a GPU land there,
and carry the label the NVIDIA device plugin's chart selects its nodes by (without Node Feature Discovery).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cdktf import TerraformResourceLifecycle
from constructs import Construct

from modules import aws

AMI_TYPES = {False: "AL2023_x86_64_STANDARD", True: "AL2023_x86_64_NVIDIA"}
GPU_TAINT_KEY = "nvidia.com/gpu"
# The nvidia-device-plugin chart's default node affinity admits nodes with this label (or NFD's PCI vendor label).
GPU_PRESENT_LABEL = "nvidia.com/gpu.present"
ROOT_DEVICE = "/dev/xvda"  # the root device of the AL2023 EKS AMIs


@dataclass(frozen=True, kw_only=True)
class EksNodeGroupProps:
    """Which cluster, which instances, how many."""

    name: str  # node group and launch template name
    cluster_name: str
    node_role_arn: str
    subnet_ids: tuple[str, ...] | list[str]  # private subnets
    instance_types: tuple[str, ...]
    gpu: bool = False  # NVIDIA AMI plus the nvidia.com/gpu taint
    capacity_type: str = "ON_DEMAND"
    min_size: int
    desired_size: int
    max_size: int
    disk_size_gb: int
    labels: dict[str, str] = field(default_factory=dict)


class EksNodeGroup(Construct):
    """Exposes `node_group`, `launch_template`."""

    def __init__(self, scope: Construct, id_: str, *, props: EksNodeGroupProps) -> None:
        super().__init__(scope, id_)
        problems = []
        if not 1 <= props.min_size <= props.desired_size <= props.max_size:
            problems.append(
                f"sizes must satisfy 1 <= min <= desired <= max, got {props.min_size} <= "
                f"{props.desired_size} <= {props.max_size}"
            )
        if not props.instance_types:
            problems.append("instance_types: at least one")
        if props.capacity_type not in ("ON_DEMAND", "SPOT"):
            problems.append(f"capacity_type must be ON_DEMAND or SPOT, got {props.capacity_type!r}")
        if problems:
            raise ValueError(f"{id_}: " + "; ".join(problems))
        self.launch_template = aws.launch_template.LaunchTemplate(
            self,
            "launch-template",
            name=props.name,
            update_default_version=True,
            description=f"{props.name}: IMDSv2 only (hop limit 1), encrypted root volume",
            metadata_options=aws.launch_template.LaunchTemplateMetadataOptions(
                http_endpoint="enabled", http_tokens="required", http_put_response_hop_limit=1
            ),
            block_device_mappings=[
                aws.launch_template.LaunchTemplateBlockDeviceMappings(
                    device_name=ROOT_DEVICE,
                    ebs=aws.launch_template.LaunchTemplateBlockDeviceMappingsEbs(
                        volume_size=props.disk_size_gb,
                        volume_type="gp3",
                        encrypted="true",
                        delete_on_termination="true",
                    ),
                )
            ],
        )
        self.node_group = aws.eks_node_group.EksNodeGroup(
            self,
            "node-group",
            cluster_name=props.cluster_name,
            node_group_name=props.name,
            node_role_arn=props.node_role_arn,
            subnet_ids=list(props.subnet_ids),
            ami_type=AMI_TYPES[props.gpu],
            capacity_type=props.capacity_type,
            instance_types=list(props.instance_types),
            scaling_config=aws.eks_node_group.EksNodeGroupScalingConfig(
                min_size=props.min_size, desired_size=props.desired_size, max_size=props.max_size
            ),
            update_config=aws.eks_node_group.EksNodeGroupUpdateConfig(max_unavailable=1),
            launch_template=aws.eks_node_group.EksNodeGroupLaunchTemplate(
                id=self.launch_template.id, version=str(self.launch_template.latest_version)
            ),
            labels={**({GPU_PRESENT_LABEL: "true"} if props.gpu else {}), **props.labels} or None,
            taint=[aws.eks_node_group.EksNodeGroupTaint(key=GPU_TAINT_KEY, value="true", effect="NO_SCHEDULE")]
            if props.gpu
            else None,
            # Whatever scales the group (Cluster Autoscaler, Karpenter, a person) owns the count after creation.
            lifecycle=TerraformResourceLifecycle(ignore_changes=["scaling_config[0].desired_size"]),
        )
