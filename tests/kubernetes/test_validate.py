"""Manifests proven offline: every EKS environment's manifests validate against the pinned Kubernetes version's
schemas (strict) and the pinned CRD schemas, and the validator refuses what the API server would."""

from __future__ import annotations

import copy
import json

import kubernetes_validate
import pytest

from modules.config import load_config
from modules.config.eks import KUBERNETES_VERSIONS
from tests.conftest import EKS_ENVIRONMENTS, PROJECT_ROOT
from tools.kubernetes.validate import CRDS_DIR, CUSTOM_SCHEMAS, load_documents, validate_document, validate_folder


def _folder(synthesized, env):
    return synthesized[env] / "k8s" / env


def _version(env):
    return load_config(PROJECT_ROOT / "config" / f"{env}.toml").compute.eks.kubernetes_version


@pytest.mark.parametrize("env", EKS_ENVIRONMENTS)
def test_every_manifest_of_every_eks_environment_is_valid(synthesized, env):
    report = validate_folder(_folder(synthesized, env), _version(env))

    assert report.problems == []
    kinds = {checked.kind for checked in report.checked}
    assert {
        "Deployment",
        "Service",
        "PodDisruptionBudget",
        "HorizontalPodAutoscaler",
        "NetworkPolicy",
        "ScaledObject",
        "TriggerAuthentication",
        "TargetGroupBinding",
    } <= kinds
    custom = {c.kind for c in report.checked if c.schema.endswith(".json")}
    assert custom == {"ScaledObject", "TriggerAuthentication", "TargetGroupBinding"}


@pytest.fixture
def documents(synthesized):
    env = EKS_ENVIRONMENTS[0]
    return {(d["kind"], d["metadata"]["name"]): d for _, d in load_documents(_folder(synthesized, env))}


def test_an_unknown_field_in_a_built_in_kind_is_refused_as_strict_server_validation_would(documents):
    deployment = copy.deepcopy(documents[("Deployment", "inference")])
    deployment["spec"]["template"]["spec"]["containers"][0]["readOnlyRootFs"] = True

    schema, problems = validate_document(deployment, "1.35")

    assert schema is None and len(problems) == 1 and "readOnlyRootFs" in problems[0]


def test_a_wrong_type_in_a_custom_resource_is_refused_against_its_crd_schema(documents):
    scaled = copy.deepcopy(documents[("ScaledObject", "queue-worker")])
    scaled["spec"]["triggers"][0]["metadata"]["queueLength"] = 10  # KEDA's metadata values are strings

    _, problems = validate_document(scaled, "1.35")

    assert problems and "triggers.0.metadata.queueLength" in problems[0]


def test_the_crd_validation_rules_are_enforced_too(documents):
    scaled = copy.deepcopy(documents[("ScaledObject", "queue-worker")])
    scaled["spec"]["minReplicaCount"] = 5
    scaled["spec"]["maxReplicaCount"] = 2

    _, problems = validate_document(scaled, "1.35")

    assert problems == [
        "spec: minReplicaCount must be less than or equal to maxReplicaCount (keda.sh_v1alpha1_scaledobject.json)"
    ]


def test_a_kind_without_a_schema_is_an_error_never_a_skip():
    _, problems = validate_document(
        {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}, "1.35"
    )

    assert problems and "no schema for Widget" in problems[0]


def test_a_broken_reference_between_objects_is_found(synthesized, tmp_path):
    folder = _folder(synthesized, EKS_ENVIRONMENTS[0])
    for path in folder.glob("*.yaml"):
        text = path.read_text()
        if path.name.startswith("20-"):
            text = text.replace("serviceRef:\n    name: inference", "serviceRef:\n    name: model")
        (tmp_path / path.name).write_text(text)

    report = validate_folder(tmp_path, "1.35")

    assert any("TargetGroupBinding/inference: service 'model' is not in these manifests" in p for p in report.problems)


def test_the_pinned_versions_are_the_ones_kubernetes_validate_ships():
    shipped = {".".join(v.split(".")[:2]) for v in kubernetes_validate.utils.all_versions()}

    assert set(KUBERNETES_VERSIONS) <= shipped
    assert kubernetes_validate.__version__ == "1.37.0"


def test_each_crd_schema_names_its_pinned_upstream_release():
    for name in set(CUSTOM_SCHEMAS.values()):
        comment = json.loads((CRDS_DIR / name).read_text())["$comment"]
        assert "v2.20.2" in comment or "v3.5.0" in comment, name
    readme = (CRDS_DIR / "README.md").read_text()
    assert "68a5b5028f35b22d50597c69819ab32c4e92f21a" in readme and "11eb202c97e4ae2ee45e0658c4cde9a4b59f33d4" in readme
