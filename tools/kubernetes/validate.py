"""Validate generated Kubernetes manifests offline, the way the API server would refuse them.

- Built-in kinds against the Kubernetes JSON schemas of the cluster's pinned version, in strict mode (an unknown
  field is an error, as with kubectl's default server-side field validation), with `kubernetes-validate`, which
  ships the schemas (no download).
- Custom kinds (KEDA's ScaledObject and TriggerAuthentication, the TargetGroupBinding) against the CRD schemas in
  tools/kubernetes/crds/ (pinned upstream releases, see the README there), including the CRDs' validation rules.
- Across objects, what the API server cannot see but a rollout needs: every selector, scale target, service
  reference, service account and trigger authentication points at an object of these manifests, in the same
  namespace.

A kind with no schema is an error, never a skip.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml

CRDS_DIR = Path(__file__).resolve().parent / "crds"
# Custom (apiVersion, kind) -> schema file. The TargetGroupBinding of EKS Auto Mode (eks.amazonaws.com/v1) has the
# controller's spec; AWS publishes no CRD file for it.
CUSTOM_SCHEMAS = {
    ("keda.sh/v1alpha1", "ScaledObject"): "keda.sh_v1alpha1_scaledobject.json",
    ("keda.sh/v1alpha1", "TriggerAuthentication"): "keda.sh_v1alpha1_triggerauthentication.json",
    ("elbv2.k8s.aws/v1beta1", "TargetGroupBinding"): "elbv2.k8s.aws_v1beta1_targetgroupbinding.json",
    ("eks.amazonaws.com/v1", "TargetGroupBinding"): "elbv2.k8s.aws_v1beta1_targetgroupbinding.json",
}
# The CRDs' CEL rules (x-kubernetes-validations), as Python over the object the rule's `self` names.
CEL_RULES: dict[str, Callable[[dict[str, Any]], bool]] = {
    "!has(self.minReplicaCount) || self.minReplicaCount <= (has(self.maxReplicaCount) ? self.maxReplicaCount : 100)": lambda spec: (
        "minReplicaCount" not in spec or spec["minReplicaCount"] <= spec.get("maxReplicaCount", 100)
    ),
}
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition"}


@dataclass(frozen=True)
class Checked:
    file: str
    kind: str
    name: str
    schema: str  # "kubernetes <version> (strict)" or the CRD schema file


@dataclass
class Report:
    checked: list[Checked] = field(default_factory=list)  # the objects found valid (an invalid one is a problem)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.checked) and not self.problems


def load_documents(folder: Path) -> list[tuple[str, dict[str, Any]]]:
    """(file name, document) of every manifest in FOLDER, in apply order (file name order)."""
    documents = []
    for path in sorted(folder.glob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if document:
                documents.append((path.name, document))
    return documents


def validate_folder(folder: Path, kubernetes_version: str) -> Report:
    report = Report()
    if not folder.is_dir():
        report.problems.append(f"{folder}: no such folder (synthesize an EKS environment first)")
        return report
    documents = load_documents(folder)
    if not documents:
        report.problems.append(f"{folder}: holds no manifests")
    for file, document in documents:
        where = f"{file}: {document.get('kind')}/{document.get('metadata', {}).get('name')}"
        schema, problems = validate_document(document, kubernetes_version)
        report.problems += [f"{where}: {problem}" for problem in problems]
        if schema and not problems:  # checked against its schema and found valid: what the CLI counts as valid
            report.checked.append(Checked(file, document["kind"], document["metadata"]["name"], schema))
    report.problems += reference_problems([document for _, document in documents])
    return report


def validate_document(document: dict[str, Any], kubernetes_version: str) -> tuple[str | None, list[str]]:
    """(the schema it was checked against, the problems found)."""
    key = (document.get("apiVersion"), document.get("kind"))
    if key in CUSTOM_SCHEMAS:
        return CUSTOM_SCHEMAS[key], _custom_problems(document, CUSTOM_SCHEMAS[key])
    import kubernetes_validate

    try:
        kubernetes_validate.validate(document, kubernetes_version, strict=True)
    except kubernetes_validate.SchemaNotFoundError:
        return None, [
            f"no schema for {key[1]} ({key[0]}) in Kubernetes {kubernetes_version} nor in "
            f"tools/kubernetes/crds/: add the CRD schema of the pinned release"
        ]
    except kubernetes_validate.ValidationError as error:
        path = ".".join(str(part) for part in error.absolute_path) or "(object)"
        return None, [f"{path}: {error.message} (Kubernetes {kubernetes_version} schema, strict)"]
    return f"kubernetes {kubernetes_version} (strict)", []


@cache
def _schema(name: str) -> dict[str, Any]:
    return json.loads((CRDS_DIR / name).read_text(encoding="utf-8"))


def _custom_problems(document: dict[str, Any], schema_file: str) -> list[str]:
    import jsonschema

    schema = _schema(schema_file)
    validator = jsonschema.Draft202012Validator(schema)
    problems = [
        f"{'.'.join(str(p) for p in error.absolute_path) or '(object)'}: {error.message} ({schema_file})"
        for error in sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path))
    ]
    if not problems:
        problems += _rule_problems(schema, document, schema_file)
    return problems


def _rule_problems(schema: dict[str, Any], value: Any, schema_file: str, path: str = "") -> list[str]:
    """Evaluate the x-kubernetes-validations of SCHEMA (and its properties) on VALUE."""
    problems = []
    for rule in schema.get("x-kubernetes-validations", []):
        check = CEL_RULES.get(rule["rule"])
        if check is None:
            problems.append(
                f"{path or '(object)'}: rule {rule['rule']!r} of {schema_file} is not implemented in "
                "tools/kubernetes/validate.py (CEL_RULES)"
            )
        elif not check(value):
            problems.append(f"{path or '(object)'}: {rule['message']} ({schema_file})")
    if isinstance(value, dict):
        for name, sub in schema.get("properties", {}).items():
            if name in value:
                problems += _rule_problems(sub, value[name], schema_file, f"{path}.{name}".lstrip("."))
    return problems


# --- references across objects ------------------------------------------------------------------------------


def reference_problems(documents: Iterable[dict[str, Any]]) -> list[str]:
    """References that would leave a workload without its pods, traffic, scaling or identity."""
    documents = list(documents)
    namespaces = {d["metadata"]["name"] for d in documents if d.get("kind") == "Namespace"}
    by_kind: dict[str, dict[tuple[str | None, str], dict[str, Any]]] = {}
    for document in documents:
        metadata = document.get("metadata", {})
        by_kind.setdefault(document["kind"], {})[(metadata.get("namespace"), metadata.get("name"))] = document
    problems = []

    def label(document: dict[str, Any]) -> str:
        return f"{document['kind']}/{document['metadata']['name']}"

    def exists(kind: str, namespace: str | None, name: str) -> bool:
        return (namespace, name) in by_kind.get(kind, {})

    pods = [
        (namespace, document["spec"]["template"]) for (namespace, _), document in by_kind.get("Deployment", {}).items()
    ]
    for document in documents:
        kind, metadata = document["kind"], document.get("metadata", {})
        namespace = metadata.get("namespace")
        if kind not in CLUSTER_SCOPED and namespace not in namespaces and namespace != "kube-system":
            problems.append(f"{label(document)}: namespace {namespace!r} is not created by these manifests")
        spec = document.get("spec", {})
        if kind == "Deployment":
            template_labels = spec["template"]["metadata"].get("labels", {})
            if not _matches(spec["selector"].get("matchLabels", {}), template_labels):
                problems.append(f"{label(document)}: its selector does not match its own pod template")
            account = spec["template"]["spec"].get("serviceAccountName")
            if account and not exists("ServiceAccount", namespace, account):
                problems.append(f"{label(document)}: service account {account!r} is not in these manifests")
        if kind in ("Service", "PodDisruptionBudget", "NetworkPolicy"):
            selector = (
                spec.get("selector")
                if kind == "Service"
                else (spec.get("selector") or spec.get("podSelector") or {}).get("matchLabels")
            )
            if selector and not any(
                ns == namespace and _matches(selector, t["metadata"].get("labels", {})) for ns, t in pods
            ):
                problems.append(f"{label(document)}: selects no pod of these manifests ({selector})")
        if kind in ("HorizontalPodAutoscaler", "ScaledObject"):
            target = spec["scaleTargetRef"]
            if not exists(target.get("kind", "Deployment"), namespace, target["name"]):
                problems.append(
                    f"{label(document)}: scales {target.get('kind')}/{target['name']}, which these "
                    "manifests do not create"
                )
        if kind == "ScaledObject":
            for trigger in spec.get("triggers", []):
                reference = trigger.get("authenticationRef")
                if reference and not exists(
                    reference.get("kind", "TriggerAuthentication"), namespace, reference["name"]
                ):
                    problems.append(f"{label(document)}: trigger authentication {reference['name']!r} is missing")
        if kind == "TargetGroupBinding":
            reference = spec["serviceRef"]
            service = by_kind.get("Service", {}).get((namespace, reference["name"]))
            if service is None:
                problems.append(f"{label(document)}: service {reference['name']!r} is not in these manifests")
            elif not any(
                reference["port"] in (port.get("port"), port.get("name")) for port in service["spec"].get("ports", [])
            ):
                problems.append(f"{label(document)}: service {reference['name']!r} has no port {reference['port']!r}")
    return problems


def _matches(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return bool(selector) and all(labels.get(key) == value for key, value in selector.items())
