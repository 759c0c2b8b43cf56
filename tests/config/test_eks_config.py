"""The orchestrator choice and `[compute.eks]`: combinations EKS (or the pipeline on it) would refuse, or that
would cost a ten-minute cluster create to find out, are one config error naming the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from modules.config import ConfigError, PipelineConfig, load_config
from modules.config.eks import KUBERNETES_VERSIONS, is_arm_instance, is_gpu_instance
from modules.limits import EKS_AUTO_MODE_MIN_VERSION
from tests.config.config_text import load_config_text, shipped_config_text
from tests.conftest import PROJECT_ROOT

LOCAL_EKS = shipped_config_text("local-eks")
LOCAL = shipped_config_text("local")
EKS_SECTION = "[compute.eks]\n"


def _load(tmp_path: Path, text: str) -> PipelineConfig:
    """TEXT loaded as local-eks.toml, the environment these cases change."""
    return load_config_text(tmp_path, text, "local-eks.toml")


def _with_eks(extra: str) -> str:
    """local-eks.toml with EXTRA lines in its [compute.eks] section (replacing the keys the file sets)."""
    keys = {line.split("=", 1)[0].strip() for line in extra.splitlines()}
    kept = [line for line in LOCAL_EKS.splitlines() if line.split("=", 1)[0].strip() not in keys]
    return "\n".join(kept).replace(EKS_SECTION.strip(), EKS_SECTION + extra, 1) + "\n"


def test_the_shipped_eks_environment_runs_the_services_on_auto_mode_behind_the_api():
    config = load_config(PROJECT_ROOT / "config" / "local-eks.toml")

    assert config.compute.orchestrator == "eks" and config.compute.eks.auto_mode
    assert config.api.predict_backend == "eks"
    assert config.compute.eks.endpoint_public_access is False
    assert config.compute.eks.kubernetes_version in KUBERNETES_VERSIONS


@pytest.mark.parametrize("env", ["local", "dev", "prod"])
def test_the_other_environments_stay_on_ecs(env):
    assert load_config(PROJECT_ROOT / "config" / f"{env}.toml").compute.orchestrator == "ecs"


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (
            "inference_gpus = 1",
            "compute.eks.inference_gpus: 1 GPU(s) per pod need a node group with GPU instance types: set compute = "
            "'node-group'",
        ),
        (
            "endpoint_public_access = true",
            "compute.eks.public_access_cidrs: required with endpoint_public_access = true",
        ),
        (
            'endpoint_public_access = true\npublic_access_cidrs = ["0.0.0.0/0"]',
            "compute.eks.public_access_cidrs: 0.0.0.0/0 opens the Kubernetes API to the whole internet",
        ),
        (
            'public_access_cidrs = ["203.0.113.0/24"]',
            "compute.eks.public_access_cidrs: applies only with endpoint_public_access = true",
        ),
        (
            'endpoint_public_access = true\npublic_access_cidrs = ["203.0.113.7/24"]',
            "compute.eks.public_access_cidrs: '203.0.113.7/24' is not a network in CIDR notation",
        ),
        ('kubernetes_version = "1.28"', "compute.eks.kubernetes_version: Input should be '1.29'"),
        (
            'compute = "node-group"\ninference_gpus = 1',
            "compute.eks.inference_gpus: 1 GPU(s) per pod, but node_group.instance_types (m6i.large) has no GPU",
        ),
        (
            'compute = "node-group"\nnode_group = { instance_types = ["g5.xlarge"] }',
            "compute.eks.node_group.instance_types: GPU types (g5.xlarge) but inference_gpus = 0",
        ),
        (
            'compute = "node-group"\ninference_gpus = 1\nnode_group = { instance_types = ["g5.xlarge", "m6i.large"] }',
            "compute.eks.node_group.instance_types: g5.xlarge mixed with CPU types",
        ),
        (
            'compute = "node-group"\nnode_group = { instance_types = ["m7g.large"] }',
            "compute.eks.node_group.instance_types: m7g.large are arm64 (Graviton)",
        ),
        (
            'compute = "node-group"\nnode_group = { min_size = 3, desired_size = 2 }',
            "compute.eks.node_group: must satisfy min_size <= desired_size <= max_size, got 3 <= 2 <= 4",
        ),
        (
            'node_group = { instance_types = ["g5.xlarge"] }',
            "compute.eks.node_group: applies only to compute = 'node-group', not to 'auto-mode'",
        ),
        ('namespace = "Inference_NS"', "compute.eks.namespace: String should match pattern"),
    ],
)
def test_an_invalid_eks_combination_is_one_line_naming_the_field(tmp_path, extra, expected):
    with pytest.raises(ConfigError) as error:
        _load(tmp_path, _with_eks(extra))

    assert expected in str(error.value)
    assert "\n" not in str(error.value)


def test_a_cluster_nobody_may_administer_is_refused(tmp_path):
    text = LOCAL_EKS.replace('admin_role_arns = ["arn:aws:iam::123456789012:role/inference-local-eks-admin"]\n', "")

    with pytest.raises(ConfigError, match="compute.eks.admin_role_arns: at least one role"):
        _load(tmp_path, text)


def test_a_role_arn_that_is_no_role_is_refused(tmp_path):
    text = LOCAL_EKS.replace("role/inference-local-eks-deploy", "user/someone")

    with pytest.raises(ConfigError, match="compute.eks.deploy_role_arns: .*user/someone not an IAM role ARN"):
        _load(tmp_path, text)


def test_a_gpu_node_group_with_gpu_pods_is_accepted(tmp_path):
    config = _load(
        tmp_path,
        _with_eks(
            'compute = "node-group"\ninference_gpus = 1\nnode_group = { instance_types = ["g5.xlarge", "g6.xlarge"] }'
        ),
    )

    assert config.compute.eks.node_group.gpu and config.compute.eks.inference_gpus == 1


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (
            'compute = "node-group"\nnode_group = { system_size = 3 }',
            "compute.eks.node_group.system_size: applies only with GPU instance_types",
        ),
        (
            'compute = "node-group"\ninference_gpus = 1\n'
            'node_group = { instance_types = ["g5.xlarge"], system_instance_types = ["g5.xlarge"] }',
            "compute.eks.node_group.system_instance_types: g5.xlarge not an x86_64 CPU type",
        ),
        (
            'compute = "node-group"\ninference_gpus = 1\n'
            'node_group = { instance_types = ["g5.xlarge"], system_instance_types = ["m7g.large"] }',
            "compute.eks.node_group.system_instance_types: m7g.large not an x86_64 CPU type",
        ),
    ],
)
def test_the_system_node_group_settings_fit_only_beside_gpu_nodes_and_only_with_cpu_types(tmp_path, extra, expected):
    with pytest.raises(ConfigError, match=expected):
        _load(tmp_path, _with_eks(extra))


@pytest.mark.parametrize(
    ("replace", "by", "expected"),
    [
        ('predict_backend = "eks"', 'predict_backend = "fargate"', "api.predict_backend: 'fargate' is the ECS service"),
        (
            'allowed_account_ids = ["123456789012"]\n',
            "",
            "allowed_account_ids: required with compute.orchestrator = 'eks'",
        ),
        (
            "[compute.inference_service]\nmin_count = 1\n",
            "[compute.inference_service]\nmin_count = 0\n",
            "compute.inference_service.min_count: 0 is not possible on EKS",
        ),
        (
            "[compute.queue_worker]\n",
            "[compute.queue_worker]\nfargate_spot_weight = 3\n",
            "compute.queue_worker.fargate_spot_weight: applies only to compute.orchestrator = 'ecs'",
        ),
    ],
)
def test_what_depends_on_the_orchestrator_must_agree_with_it(tmp_path, replace, by, expected):
    with pytest.raises(ConfigError, match=expected):
        _load(tmp_path, LOCAL_EKS.replace(replace, by))


@pytest.mark.parametrize(
    ("section", "setting"),
    [
        ("inference_service", "requests_per_target = 50"),
        ("inference_service", "scale_in_cooldown_seconds = 600"),
        ("inference_service", "scale_out_cooldown_seconds = 30"),
        ("inference_service", "desired_count = 2"),
        ("queue_worker", "cooldown_seconds = 30"),
        ("queue_worker", "scale_out_evaluation_minutes = 3"),
        ("queue_worker", "desired_count = 1"),
    ],
)
def test_an_ecs_autoscaling_setting_that_does_nothing_on_eks_is_refused(tmp_path, section, setting):
    header = f"[compute.{section}]\n"
    with pytest.raises(ConfigError) as error:
        _load(tmp_path, LOCAL_EKS.replace(header, header + setting + "\n", 1))

    name = setting.split(" = ")[0]
    assert f"compute.{section}.{name}: does nothing on EKS" in str(error.value)
    assert "\n" not in str(error.value)


def test_the_scaling_settings_the_manifests_carry_are_accepted_on_eks_and_defaults_may_be_spelled_out(tmp_path):
    text = LOCAL_EKS.replace(
        "[compute.inference_service]\n", "[compute.inference_service]\ncpu_target_percent = 70\ndesired_count = 1\n"
    ).replace(
        "[compute.queue_worker]\n",
        "[compute.queue_worker]\nmessages_per_task = 3\nscale_in_evaluation_minutes = 5\ncooldown_seconds = 120\n",
    )

    config = _load(tmp_path, text)

    assert config.compute.inference_service.cpu_target_percent == 70
    assert config.compute.queue_worker.scale_in_evaluation_minutes == 5


def test_an_eks_section_or_backend_on_ecs_is_refused(tmp_path):
    text = (
        LOCAL.replace('predict_backend = "lambda"', 'predict_backend = "eks"')
        + '\n[compute.eks]\nadmin_role_arns = ["arn:aws:iam::123456789012:role/a"]\n'
    )

    with pytest.raises(ConfigError) as error:
        _load(tmp_path, text)

    assert "compute.eks: applies only to compute.orchestrator = 'eks'" in str(error.value)
    assert "api.predict_backend: 'eks' needs compute.orchestrator = 'eks'" in str(error.value)


def test_the_versions_start_where_auto_mode_does():
    assert KUBERNETES_VERSIONS[0] == f"1.{EKS_AUTO_MODE_MIN_VERSION.value[1]}"


@pytest.mark.parametrize(
    ("instance_type", "gpu", "arm"),
    [
        ("g5.xlarge", True, False),
        ("g4dn.2xlarge", True, False),
        ("p4d.24xlarge", True, False),
        ("m6i.large", False, False),
        ("m7a.large", False, False),
        ("m7g.large", False, True),
        ("c6gn.xlarge", False, True),
        ("g5g.xlarge", False, True),
        ("t4g.small", False, True),
    ],
)
def test_instance_families_are_told_apart(instance_type, gpu, arm):
    assert (is_gpu_instance(instance_type), is_arm_instance(instance_type)) == (gpu, arm)
