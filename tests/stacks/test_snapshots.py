"""Snapshot of every stack's synthesized JSON in every environment (syrupy). A diff here is a change to the
infrastructure: review it like a plan, then `make snapshot-update`.
"""

from __future__ import annotations

import json
import re

import pytest
from syrupy.extensions.json import JSONSnapshotExtension

from tests.conftest import ENVIRONMENTS, stack_dirs

MACHINE_SPECIFIC = re.compile(r'"/(tmp|root|home|work|opt|Users|var)/|\d{4}-\d{2}-\d{2}T\d{2}:\d{2}')


@pytest.fixture
def json_snapshot(snapshot):
    return snapshot.use_extension(JSONSnapshotExtension)


# In deployment order; test_the_snapshots_cover_every_synthesized_stack keeps this list honest.
STACKS = ("state", "network", "registry", "storage", "messaging", "compute", "inference", "api")


@pytest.mark.parametrize("stack", STACKS)
@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_each_stack_matches_its_snapshot(env, stack, synthesized, json_snapshot):
    doc = json.loads((synthesized[env] / "stacks" / stack / "cdk.tf.json").read_text())
    assert doc == json_snapshot(name=f"{env}-{stack}")


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_the_snapshots_cover_every_synthesized_stack(env, synthesized):
    assert sorted(p.name for p in stack_dirs(synthesized[env])) == sorted(STACKS)


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_synthesized_json_holds_no_machine_path_or_timestamp(env, synthesized):
    for stack in stack_dirs(synthesized[env]):
        text = (stack / "cdk.tf.json").read_text()
        match = MACHINE_SPECIFIC.search(text)
        assert match is None, f"{env}/{stack.name}: machine-specific value {match.group(0)!r}"


def test_local_environment_keeps_state_in_relative_files(synthesized):
    for stack in stack_dirs(synthesized["local"]):
        backend = json.loads((stack / "cdk.tf.json").read_text())["terraform"]["backend"]
        assert backend == {"local": {"path": f"../../../state/local/{stack.name}.tfstate"}}


ACCOUNTS = {"dev": "111111111111", "prod": "222222222222"}


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_remote_environments_use_one_locked_s3_key_per_stack_encrypted_with_the_state_key(env, synthesized):
    """Without kms_key_id, `encrypt = true` makes Terraform request SSE-S3 on every write, overriding the state
    bucket's SSE-KMS default; the key is named by its alias ARN (its key id is random, a backend cannot read it)."""
    keys = set()
    state_stack = json.loads((synthesized[env] / "stacks" / "state" / "cdk.tf.json").read_text())
    (state_bucket,) = [b["bucket"] for name, b in state_stack["resource"]["aws_s3_bucket"].items()
                       if name.startswith("state-bucket")]
    (alias,) = [a["name"] for a in state_stack["resource"]["aws_kms_alias"].values()]
    for stack in stack_dirs(synthesized[env]):
        backend = json.loads((stack / "cdk.tf.json").read_text())["terraform"]["backend"]
        if stack.name == "state":
            assert "local" in backend, "the state bootstrap stack keeps local state until state.self_managed"
            continue
        s3 = backend["s3"]
        assert s3["encrypt"] is True and s3["use_lockfile"] is True
        assert s3["kms_key_id"] == f"arn:aws:kms:eu-west-1:{ACCOUNTS[env]}:{alias}"
        assert s3["bucket"] == state_bucket == f"inference-{env}-tfstate-{ACCOUNTS[env]}"
        assert s3["key"] == f"inference-pipeline/{env}/{stack.name}.tfstate"
        keys.add(s3["key"])
    assert len(keys) == len(stack_dirs(synthesized[env])) - 1


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_provider_tags_every_resource_and_accepts_both_provider_lines(env, synthesized):
    for stack in stack_dirs(synthesized[env]):
        doc = json.loads((stack / "cdk.tf.json").read_text())
        tags = doc["provider"]["aws"][0]["default_tags"][0]["tags"]
        assert {tags["project"], tags["environment"], tags["stack"], tags["managed-by"]} == {
            "inference", env, stack.name, "cdktf"}
        assert doc["terraform"]["required_providers"]["aws"]["version"] == ">= 5.100.0, < 7.0.0"
        accounts = doc["provider"]["aws"][0].get("allowed_account_ids")
        # local has no account of its own: only the emulator's, so no real account can be touched (the local guard)
        assert accounts == {"local": ["123456789012"], "dev": ["111111111111"], "prod": ["222222222222"]}[env]
