"""Gate: every synthesized stack of every environment passes `terraform init` + `terraform validate`
with the real Terraform CLI and the hashicorp/aws plugin from the offline mirror.

This gate fails (never skips) when Terraform or the mirror is missing: a green run must mean validated.
"""

from __future__ import annotations

import json

import pytest

from tests.conftest import EKS_ENVIRONMENTS, ENVIRONMENTS, record_gate, stack_dirs

# On an EKS environment only these stacks differ from the same environment on ECS in anything `terraform validate`
# checks (arguments and references, not names); the others are validated in `local` (saves ~35 s per environment).
EKS_CHANGED_STACKS = ("eks", "compute", "api")


@pytest.mark.terraform
@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_every_stack_is_valid_terraform(env, synthesized, terraform):
    stacks = stack_dirs(synthesized[env])
    if env in EKS_ENVIRONMENTS:
        stacks = [stack for stack in stacks if stack.name in EKS_CHANGED_STACKS]
    assert stacks, f"{env}: synth produced no stacks"
    failures = []
    for stack in stacks:
        init = terraform.run(["init", "-backend=false", "-input=false", "-no-color"], cwd=stack, check=False)
        if init.returncode != 0:
            failures.append(f"{stack.name}: terraform init failed:\n{init.stderr or init.stdout}")
            continue
        result = terraform.run(["validate", "-json", "-no-color"], cwd=stack, check=False)
        report = json.loads(result.stdout)
        if not report["valid"]:
            problems = [f"{d['severity']}: {d['summary']}: {d.get('detail', '')}" for d in report["diagnostics"]]
            failures.append(f"{stack.name}: " + "\n  ".join(problems))
            continue
        record_gate("terraform validate", f"{env}/{stack.name}")
    assert not failures, "\n".join(failures)


@pytest.mark.terraform
def test_an_eks_cluster_on_a_gpu_node_group_is_valid_terraform_with_valid_manifests(terraform, node_group_synthesized):
    """The node-group alternative (launch template, NVIDIA node group, add-ons, the load balancer controller's
    pod identity) is in no shipped environment: local-eks with it, both outputs validated."""
    from tools.kubernetes.validate import validate_folder

    stack = node_group_synthesized / "stacks" / "eks"

    assert (
        terraform.run(["init", "-backend=false", "-input=false", "-no-color"], cwd=stack, check=False).returncode == 0
    )
    report = json.loads(terraform.run(["validate", "-json", "-no-color"], cwd=stack, check=False).stdout)
    assert report["valid"], report["diagnostics"]
    doc = json.loads((stack / "cdk.tf.json").read_text())
    assert {"aws_eks_node_group", "aws_launch_template", "aws_eks_addon"} <= set(doc["resource"])
    # The GPU nodes are tainted: an untainted CPU group runs CoreDNS, the add-ons and the queue worker, and CoreDNS
    # waits for it (not for the GPU group, where it could never run).
    groups = {g["node_group_name"]: g for g in doc["resource"]["aws_eks_node_group"].values()}
    untainted = [name for name, g in groups.items() if not g.get("taint")]
    assert untainted == ["inference-local-eks-system"], sorted(groups)
    assert groups["inference-local-eks-system"]["ami_type"] == "AL2023_x86_64_STANDARD"
    assert groups["inference-local-eks-system"]["instance_types"] == ["m6i.large"]
    assert groups["inference-local-eks-nodes"]["labels"] == {"nvidia.com/gpu.present": "true"}
    [coredns] = [a for a in doc["resource"]["aws_eks_addon"].values() if a["addon_name"] == "coredns"]
    [waits_for] = coredns["depends_on"]
    assert waits_for.startswith("aws_eks_node_group.") and "system-node-group" in waits_for
    assert {a["service_account"] for a in doc["resource"]["aws_eks_pod_identity_association"].values()} == {
        "queue-worker",
        "keda-operator",
        "aws-load-balancer-controller",
    }
    manifests = validate_folder(node_group_synthesized / "k8s" / "local-eks", "1.35")
    assert manifests.problems == [] and manifests.checked
