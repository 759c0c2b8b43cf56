"""`python -m tools.kubernetes`: validate with exit codes, the pinned add-on installs, the CRD drift check."""

from __future__ import annotations

import copy
import json

import pytest

from tools.kubernetes import __main__ as cli
from tools.kubernetes.validate import CRDS_DIR


@pytest.fixture
def eks_env(monkeypatch, synthesized):
    monkeypatch.setenv("PIPELINE_ENV", "local-eks")
    monkeypatch.setenv("CDKTF_OUTDIR", str(synthesized["local-eks"]))


def test_validate_passes_the_synthesized_manifests_and_says_how_many(eks_env, capsys):
    assert cli.main(["validate"]) == cli.EXIT_OK
    assert "16 object(s) valid, 0 problem(s)" in capsys.readouterr().out


def test_validate_fails_on_an_invalid_manifest(eks_env, synthesized, tmp_path, capsys):
    source = synthesized["local-eks"] / "k8s" / "local-eks"
    for path in source.glob("*.yaml"):
        (tmp_path / path.name).write_text(path.read_text().replace("maxUnavailable: 1", "maxUnavailable: []"))

    assert cli.main(["validate", "--folder", str(tmp_path)]) == cli.EXIT_FAILED
    assert "INVALID 20-inference.k8s.yaml: PodDisruptionBudget/inference" in capsys.readouterr().err


def test_an_object_that_fails_its_crd_schema_is_not_counted_as_valid(eks_env, synthesized, tmp_path, capsys):
    source = synthesized["local-eks"] / "k8s" / "local-eks"
    for path in source.glob("*.yaml"):
        (tmp_path / path.name).write_text(path.read_text().replace("minReplicaCount: 0", "minReplicaCount: 9"))

    assert cli.main(["validate", "--folder", str(tmp_path)]) == cli.EXIT_FAILED
    out = capsys.readouterr().out
    assert "15 object(s) valid, 1 problem(s)" in out
    assert "ScaledObject/queue-worker" not in out


def test_an_environment_on_ecs_has_nothing_to_validate(monkeypatch, capsys):
    monkeypatch.setenv("PIPELINE_ENV", "dev")

    assert cli.main(["validate"]) == cli.EXIT_BAD_INPUT
    assert "PIPELINE_ENV=dev runs on ecs" in capsys.readouterr().err


def test_apply_without_kubectl_fails_clearly(eks_env, monkeypatch, capsys):
    monkeypatch.setenv("PATH", "/nonexistent")

    assert cli.main(["apply", "--dry-run=server"]) == cli.EXIT_BAD_INPUT
    assert "kubectl is not on PATH" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("only", "applied"),
    [
        ([], ["00-cluster", "10-access", "20-inference", "30-queue-worker"]),
        (["--only", "admin"], ["00-cluster", "10-access"]),
        (["--only", "deployer"], ["20-inference", "30-queue-worker"]),
    ],
)
def test_apply_can_take_only_the_files_a_cluster_admin_or_a_deploy_role_applies(
    eks_env, monkeypatch, tmp_path, only, applied
):
    log = tmp_path / "kubectl.log"
    kubectl = tmp_path / "bin" / "kubectl"
    kubectl.parent.mkdir()
    kubectl.write_text(f'#!/bin/sh\necho "$@" >> {log}\n')
    kubectl.chmod(0o755)
    monkeypatch.setenv("PATH", str(kubectl.parent))

    assert cli.main(["apply", "--dry-run=server", *only]) == cli.EXIT_OK
    calls = log.read_text().splitlines()
    assert [call.split(" -f ")[1].rsplit("/", 1)[1].split(".")[0] for call in calls] == applied
    assert all("--dry-run=server" in call for call in calls)


def test_install_pins_keda_and_on_auto_mode_installs_no_load_balancer_controller(eks_env, capsys):
    assert cli.main(["install", "--print"]) == cli.EXIT_OK

    [command] = capsys.readouterr().out.strip().splitlines()
    assert "upgrade --install keda keda --repo https://kedacore.github.io/charts --version 2.20.2" in command


def test_a_node_group_cluster_also_gets_the_pinned_load_balancer_controller():
    from modules.config import load_config
    from tests.conftest import PROJECT_ROOT

    config = load_config(PROJECT_ROOT / "config" / "local-eks.toml")
    eks = config.compute.eks.model_copy(update={"compute": "node-group"})
    config = config.model_copy(update={"compute": config.compute.model_copy(update={"eks": eks})})

    keda, controller = cli.install_commands(config, "vpc-0abc")

    assert controller[controller.index("--version") + 1] == "3.5.0"
    assert "vpcId=vpc-0abc" in controller and "clusterName=inference-local-eks" in controller
    with pytest.raises(cli.BadInput, match="needs the VPC id"):
        cli.install_commands(config, None)


def _node_group_config(**node_group):
    from modules.config import load_config
    from tests.conftest import PROJECT_ROOT

    config = load_config(PROJECT_ROOT / "config" / "local-eks.toml")
    eks = config.compute.eks
    eks = eks.model_copy(update={"compute": "node-group", "node_group": eks.node_group.model_copy(update=node_group)})
    if eks.node_group.gpu:
        eks = eks.model_copy(update={"inference_gpus": 1})
    assert eks.problems() == []
    return config.model_copy(update={"compute": config.compute.model_copy(update={"eks": eks})})


def test_gpu_pods_get_the_pinned_nvidia_device_plugin_and_cpu_pods_do_not():
    gpu = cli.install_commands(_node_group_config(instance_types=("g5.xlarge",)), "vpc-0abc")
    cpu = cli.install_commands(_node_group_config(), "vpc-0abc")

    [plugin] = [c for c in gpu if "nvidia-device-plugin" in c]
    assert plugin[plugin.index("--repo") + 1] == "https://nvidia.github.io/k8s-device-plugin"
    assert plugin[plugin.index("--version") + 1] == "0.17.1"
    assert not [c for c in cpu if "nvidia-device-plugin" in c] and len(cpu) == 2


def test_crd_drift_finds_an_invented_field_a_wrong_type_and_a_foreign_enum_value():
    transcribed = json.loads((CRDS_DIR / "keda.sh_v1alpha1_triggerauthentication.json").read_text())
    upstream = copy.deepcopy(transcribed["properties"]["spec"])
    upstream["properties"]["podIdentity"]["properties"].pop("externalID")
    upstream["properties"]["podIdentity"]["properties"]["provider"]["enum"].remove("aws")
    upstream["properties"]["podIdentity"]["properties"]["roleArn"]["type"] = "object"

    problems = cli.crd_drift(transcribed["properties"]["spec"], upstream)

    assert any("podIdentity.externalID: not in the upstream schema" in p for p in problems)
    assert any("podIdentity.provider: enum" in p for p in problems)
    assert any("podIdentity.roleArn: type 'string' upstream 'object'" in p for p in problems)
