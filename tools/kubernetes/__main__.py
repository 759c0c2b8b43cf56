"""`python -m tools.kubernetes validate | apply | install | crd-drift`: the EKS workloads' manifests.

validate   check the synthesized manifests of PIPELINE_ENV offline (tools/kubernetes/validate.py); exit 1 on a problem
apply      validate, then `kubectl apply --server-side` every file in order; --only admin applies the files a
           cluster admin must (00-cluster, 10-access: cluster-scoped objects and the deployers' RBAC), --only
           deployer the rest (what the deploy roles' Role admits); --dry-run=server asks the API server only
install    the cluster add-ons the manifests rely on, each a pinned Helm chart: KEDA, on a node-group cluster
           the AWS Load Balancer Controller (Auto Mode has its own), and when the inference pods ask for GPUs the
           NVIDIA device plugin (without it no node offers nvidia.com/gpu); --print shows the commands only
crd-drift  compare a transcribed CRD schema (tools/kubernetes/crds/) with the upstream CRD file of a release

Exit codes: 0 done, 1 invalid manifests or a failed command, 2 bad input (config, missing tool or folder).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from tools.kubernetes.validate import CRDS_DIR, validate_folder

PROJECT_ROOT = Path(__file__).resolve().parents[2]
EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2
FIELD_MANAGER = "inference-pipeline"

# The add-ons, pinned; their CRD schemas in tools/kubernetes/crds/ are of the same releases.
KEDA_CHART = {
    "release": "keda",
    "repository": "https://kedacore.github.io/charts",
    "chart": "keda",
    "version": "2.20.2",
    "namespace": "keda",
}
LB_CONTROLLER_CHART = {
    "release": "aws-load-balancer-controller",
    "repository": "https://aws.github.io/eks-charts",
    "chart": "aws-load-balancer-controller",
    "version": "3.5.0",
    "namespace": "kube-system",
}

# Advertises the GPUs of the NVIDIA nodes as nvidia.com/gpu (the EKS AL2023 NVIDIA AMI has the driver and the
# container toolkit, not the plugin). Its default node affinity selects the nvidia.com/gpu.present label the GPU
# node group carries, and its default tolerations admit the GPU taint.
NVIDIA_DEVICE_PLUGIN_CHART = {
    "release": "nvidia-device-plugin",
    "repository": "https://nvidia.github.io/k8s-device-plugin",
    "chart": "nvidia-device-plugin",
    "version": "0.17.1",
    "namespace": "kube-system",
}


class BadInput(Exception):
    """One line for the user: a config, tool or folder problem."""


def _config():
    from modules.config import config_path_from_env, load_config

    config = load_config(config_path_from_env())
    if config.compute.orchestrator != "eks":
        raise BadInput(
            f"PIPELINE_ENV={config.environment} runs on {config.compute.orchestrator}: no Kubernetes "
            "manifests (choose an environment with compute.orchestrator = 'eks')"
        )
    return config


def manifests_folder(config: Any, folder: str | None = None) -> Path:
    if folder:
        return Path(folder)
    return Path(os.environ.get("CDKTF_OUTDIR") or PROJECT_ROOT / "cdktf.out") / "k8s" / config.environment


def cmd_validate(args: argparse.Namespace) -> int:
    if args.folder and args.kubernetes_version:  # both given: no config needed
        folder, version = Path(args.folder), args.kubernetes_version
    else:
        config = _config()
        folder = manifests_folder(config, args.folder)
        version = args.kubernetes_version or config.compute.eks.kubernetes_version
    report = validate_folder(folder, version)
    for checked in report.checked:
        print(f"ok  {checked.file}: {checked.kind}/{checked.name} ({checked.schema})")
    for problem in report.problems:
        print(f"INVALID {problem}", file=sys.stderr)
    print(f"{len(report.checked)} object(s) valid, {len(report.problems)} problem(s) in {folder}")
    return EXIT_OK if report.ok else EXIT_FAILED


def _tool(name: str) -> str:
    found = shutil.which(name)
    if not found:
        raise BadInput(
            f"{name} is not on PATH: install it to talk to the cluster (docs/eks.md: EKS as the orchestrator)"
        )
    return found


def files_to_apply(folder: Path, only: str | None = None) -> list[Path]:
    """The manifest files in apply order; ONLY "admin" or "deployer" keeps the files that one applies."""
    from modules.kubernetes.workloads import applied_by_admin

    files = sorted(folder.glob("*.yaml"))
    if only is None:
        return files
    return [path for path in files if applied_by_admin(path) == (only == "admin")]


def cmd_apply(args: argparse.Namespace) -> int:
    if cmd_validate(args) != EXIT_OK:
        return EXIT_FAILED
    config = _config()
    kubectl = _tool("kubectl")
    for path in files_to_apply(manifests_folder(config, args.folder), args.only):
        command = [kubectl, "apply", "--server-side", f"--field-manager={FIELD_MANAGER}", "-f", str(path)]
        if args.dry_run != "none":
            command.append(f"--dry-run={args.dry_run}")
        print("$ " + " ".join(command), flush=True)
        if subprocess.run(command, check=False).returncode != 0:
            return EXIT_FAILED
    return EXIT_OK


def install_commands(config: Any, vpc_id: str | None) -> list[list[str]]:
    """The Helm commands that install the add-ons this environment needs, at their pinned versions."""
    charts = [(KEDA_CHART, [])]
    if not config.compute.eks.auto_mode:
        if not vpc_id:
            raise BadInput(
                "the AWS Load Balancer Controller needs the VPC id (its pods cannot read instance "
                "metadata: hop limit 1): pass --vpc-id (output vpc_id of the network stack)"
            )
        charts.append(
            (
                LB_CONTROLLER_CHART,
                [
                    "--set",
                    f"clusterName={config.compute.eks_cluster_name(config.name_prefix)}",
                    "--set",
                    f"region={config.region}",
                    "--set",
                    f"vpcId={vpc_id}",
                    # Its pod identity association names this service account (modules/stacks/eks.py).
                    "--set",
                    "serviceAccount.name=aws-load-balancer-controller",
                    # Only TargetGroupBinding is used: no webhook may turn Services into load balancers.
                    "--set",
                    "enableServiceMutatorWebhook=false",
                ],
            )
        )
    if config.compute.inference_service.enabled and config.compute.eks.inference_gpus:
        charts.append((NVIDIA_DEVICE_PLUGIN_CHART, []))
    return [
        [
            "helm",
            "upgrade",
            "--install",
            chart["release"],
            chart["chart"],
            "--repo",
            chart["repository"],
            "--version",
            chart["version"],
            "--namespace",
            chart["namespace"],
            "--create-namespace",
            "--wait",
            *values,
        ]
        for chart, values in charts
    ]


def cmd_install(args: argparse.Namespace) -> int:
    config = _config()
    commands = install_commands(config, args.vpc_id)
    if args.print:
        for command in commands:
            print(" ".join(command))
        return EXIT_OK
    helm = _tool("helm")
    for command in commands:
        print("$ " + " ".join(command), flush=True)
        if subprocess.run([helm, *command[1:]], check=False).returncode != 0:
            return EXIT_FAILED
    return EXIT_OK


def crd_drift(transcribed: dict[str, Any], upstream: dict[str, Any], path: str = "") -> list[str]:
    """What the transcription has that the upstream schema has not (or has otherwise): fields, types, enums,
    required fields, bounds."""
    problems = []
    for key in ("type", "format", "minimum", "minLength", "minItems"):
        if key in transcribed and transcribed[key] != upstream.get(key):
            problems.append(f"{path or '(root)'}: {key} {transcribed[key]!r} upstream {upstream.get(key)!r}")
    if "enum" in transcribed and not set(transcribed["enum"]) <= set(upstream.get("enum", [])):
        problems.append(f"{path or '(root)'}: enum {transcribed['enum']} not within upstream {upstream.get('enum')}")
    missing_required = set(upstream.get("required", [])) - set(transcribed.get("required", []))
    if missing_required and transcribed.get("properties"):
        problems.append(f"{path or '(root)'}: upstream requires {sorted(missing_required)}")
    for name, sub in transcribed.get("properties", {}).items():
        if name in ("apiVersion", "kind", "metadata"):
            continue
        if name not in upstream.get("properties", {}):
            problems.append(f"{path}.{name}".lstrip(".") + ": not in the upstream schema")
            continue
        if "$ref" in sub:
            continue
        problems += crd_drift(sub, upstream["properties"][name], f"{path}.{name}".lstrip("."))
    if "items" in transcribed and "items" in upstream:
        problems += crd_drift(transcribed["items"], upstream["items"], f"{path}[]")
    return problems


def cmd_crd_drift(args: argparse.Namespace) -> int:
    import yaml

    crd = yaml.safe_load(Path(args.upstream).read_text(encoding="utf-8"))
    group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
    problems, compared = [], 0
    for version in crd["spec"]["versions"]:
        schema_file = CRDS_DIR / f"{group}_{version['name']}_{kind.lower()}.json"
        if not schema_file.is_file():
            continue
        compared += 1
        transcribed = json.loads(schema_file.read_text(encoding="utf-8"))
        problems += [f"{schema_file.name}: {p}" for p in crd_drift(transcribed, version["schema"]["openAPIV3Schema"])]
    if not compared:
        raise BadInput(f"{args.upstream}: no transcribed schema in {CRDS_DIR} for {kind} ({group})")
    for problem in problems:
        print(problem)
    print(f"{compared} version(s) compared, {len(problems)} difference(s)")
    return EXIT_FAILED if problems else EXIT_OK


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    parser = argparse.ArgumentParser(
        prog="python -m tools.kubernetes", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    for name, handler, help_ in (
        ("validate", cmd_validate, "validate the manifests offline"),
        ("apply", cmd_apply, "validate, then kubectl apply every file in order"),
    ):
        command = commands.add_parser(name, help=help_)
        command.add_argument("--folder", help="manifests folder (default: $CDKTF_OUTDIR or cdktf.out, k8s/<env>)")
        command.add_argument("--kubernetes-version", help="default: compute.eks.kubernetes_version of the config")
        if name == "apply":
            command.add_argument("--dry-run", choices=("none", "server", "client"), default="none")
            command.add_argument(
                "--only",
                choices=("admin", "deployer"),
                help="apply only a cluster admin's files (00-cluster, 10-access) or only a deploy role's (the "
                "rest); default: all, in order (as a cluster admin)",
            )
        command.set_defaults(handler=handler)
    install = commands.add_parser("install", help="install the pinned add-ons with Helm")
    install.add_argument("--vpc-id", default=os.environ.get("VPC_ID"), help="node-group clusters: the VPC id")
    install.add_argument("--print", action="store_true", help="print the commands, run nothing")
    install.set_defaults(handler=cmd_install)
    drift = commands.add_parser("crd-drift", help="compare a transcribed CRD schema with an upstream CRD file")
    drift.add_argument("upstream", help="the upstream CRD YAML (at the pinned release)")
    drift.set_defaults(handler=cmd_crd_drift)
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args))
    except BadInput as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except Exception as error:  # a config error: one line, exit 2
        from modules.config import ConfigError

        if isinstance(error, ConfigError):
            print(f"error: {error}", file=sys.stderr)
            return EXIT_BAD_INPUT
        raise


if __name__ == "__main__":
    sys.exit(main())
