"""Session-wide fixtures: synthesize every environment once (each process pays the jsii start-up once),
and report in the summary how many stacks Terraform validated and checkov scanned.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

PROJECT_ROOT = Path(__file__).resolve().parent.parent
ENVIRONMENTS = ("local", "dev", "prod", "local-eks")
# The environments whose inference service and queue worker run on EKS (config/<env>.toml: orchestrator = "eks").
EKS_ENVIRONMENTS = ("local-eks",)
# The environments with the batch stack (config/<env>.toml: [batch] enabled); local-eks covers the orchestrator only.
BATCH_ENVIRONMENTS = ("local", "dev", "prod")
GATE_COUNTS = {"terraform validate": set(), "checkov": set()}


def record_gate(gate: str, stack: str) -> None:
    """Tests of a gate call this for each stack they really checked; the summary prints the counts."""
    GATE_COUNTS[gate].add(stack)


@pytest.fixture(scope="session")
def synthesized(tmp_path_factory) -> dict[str, Path]:
    """environment name -> cdktf.out-like folder of that environment, synthesized once per session."""
    import main
    from modules.config import load_config
    from modules.synth_run import synthesize

    root = tmp_path_factory.mktemp("synth")
    outdirs = {}
    for env in ENVIRONMENTS:
        config = load_config(PROJECT_ROOT / "config" / f"{env}.toml")
        outdirs[env] = root / env
        synthesize(main.compose, config, outdirs[env])
    return outdirs


@pytest.fixture(scope="session")
def node_group_synthesized(tmp_path_factory) -> Path:
    """local-eks on a GPU node group instead of Auto Mode (the alternative no shipped environment uses), synthesized
    once: cdktf.out-like folder with stacks/ and k8s/local-eks/."""
    import main
    from modules.config import load_config
    from modules.synth_run import synthesize

    config = load_config(PROJECT_ROOT / "config" / "local-eks.toml")
    eks = config.compute.eks.model_copy(
        update={
            "compute": "node-group",
            "inference_gpus": 1,
            "node_group": config.compute.eks.node_group.model_copy(update={"instance_types": ("g5.xlarge",)}),
        }
    )
    config = config.model_copy(update={"compute": config.compute.model_copy(update={"eks": eks})})
    assert config.compute.eks.problems() == []
    outdir = tmp_path_factory.mktemp("synth-node-group") / "local-eks"
    synthesize(main.compose, config, outdir)
    return outdir


@pytest.fixture(scope="session")
def terraform():
    """The real Terraform CLI and offline provider mirror. A missing one FAILS the test that needs it, never
    skips it: a green run must mean validated, planned or deployed."""
    from tools.terraform_cli import TerraformNotFound, toolchain

    try:
        return toolchain()
    except TerraformNotFound as exc:
        missing = str(exc)
    pytest.fail(
        f"this test needs the real Terraform CLI and the hashicorp/aws provider mirror: {missing}", pytrace=False
    )


def stack_dirs(outdir: Path) -> list[Path]:
    return sorted(p for p in (outdir / "stacks").iterdir() if (p / "cdk.tf.json").is_file())


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    lines = [
        f"{gate}: {len(stacks)} stack(s) checked ({', '.join(sorted(stacks)) or 'none'})"
        for gate, stacks in GATE_COUNTS.items()
    ]
    terminalreporter.write_sep("=", "gates")
    for line in lines:
        terminalreporter.write_line(line)
