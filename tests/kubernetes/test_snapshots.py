"""Snapshot of every generated manifest file of every EKS environment (syrupy), like the stacks' JSON: a diff here
is a change to what runs in the cluster; review it, then `make snapshot-update`."""

from __future__ import annotations

import pytest
import yaml
from syrupy.extensions.json import JSONSnapshotExtension

from tests.conftest import EKS_ENVIRONMENTS
from tests.stacks.test_snapshots import MACHINE_SPECIFIC

FILES = ("00-cluster.k8s.yaml", "10-access.k8s.yaml", "20-inference.k8s.yaml", "30-queue-worker.k8s.yaml")


@pytest.fixture
def json_snapshot(snapshot):
    return snapshot.use_extension(JSONSnapshotExtension)


@pytest.mark.parametrize("file", FILES)
@pytest.mark.parametrize("env", EKS_ENVIRONMENTS)
def test_each_manifest_matches_its_snapshot(env, file, synthesized, json_snapshot):
    text = (synthesized[env] / "k8s" / env / file).read_text()

    assert MACHINE_SPECIFIC.search(text) is None
    assert list(yaml.safe_load_all(text)) == json_snapshot(name=f"{env}-{file.removesuffix('.k8s.yaml')}")
