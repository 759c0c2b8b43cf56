"""The storage stack's wiring: bucket names, teardown rules per environment, result expiry, outputs."""

from __future__ import annotations

import json

import pytest

from lambdas.contract import REQUESTS_PREFIX, RESULTS_PREFIX
from tests.conftest import ENVIRONMENTS

FORCE_DESTROY = {"local": True, "dev": False, "prod": False}


def _storage(synthesized, env) -> dict:
    return json.loads((synthesized[env] / "stacks" / "storage" / "cdk.tf.json").read_text())


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_buckets_are_named_for_project_environment_and_purpose(env, synthesized):
    buckets = _storage(synthesized, env)["resource"]["aws_s3_bucket"].values()
    assert sorted(b["bucket"] for b in buckets) == [f"inference-{env}-{p}" for p in ("access-logs", "artifacts", "results")]


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_only_non_production_buckets_can_be_force_destroyed(env, synthesized):
    for bucket in _storage(synthesized, env)["resource"]["aws_s3_bucket"].values():
        assert bucket["force_destroy"] is FORCE_DESTROY[env]


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_every_data_bucket_uses_the_stack_key_and_logs_to_the_access_log_bucket(env, synthesized):
    doc = _storage(synthesized, env)
    key_ref = "${aws_kms_key." + next(iter(doc["resource"]["aws_kms_key"])) + ".arn}"
    sse = [c["rule"][0]["apply_server_side_encryption_by_default"]
           for c in doc["resource"]["aws_s3_bucket_server_side_encryption_configuration"].values()]
    assert sorted(s.get("kms_master_key_id", s["sse_algorithm"]) for s in sse) == sorted([key_ref, key_ref, "AES256"])
    logging = doc["resource"]["aws_s3_bucket_logging"].values()
    assert len(logging) == 2 and all("access-logs" in entry["target_bucket"] for entry in logging)


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_requests_and_results_expire(env, synthesized):
    lifecycles = _storage(synthesized, env)["resource"]["aws_s3_bucket_lifecycle_configuration"].values()
    prefixes = {rule["filter"][0].get("prefix") for lifecycle in lifecycles for rule in lifecycle["rule"]
                if "expiration" in rule}
    assert prefixes == {REQUESTS_PREFIX, RESULTS_PREFIX}


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_bucket_names_and_arns_are_outputs(env, synthesized):
    outputs = _storage(synthesized, env)["output"]
    for purpose in ("artifacts", "results", "access_logs"):
        assert {f"{purpose}_bucket_name", f"{purpose}_bucket_arn"} <= set(outputs)
    assert "storage_kms_key_arn" in outputs


def test_load_balancers_may_write_access_logs_only_under_the_alb_prefix(synthesized):
    doc = _storage(synthesized, "prod")
    documents = [d for name, d in doc["data"]["aws_iam_policy_document"].items() if name.startswith("access-logs")]
    grant = next(s for s in documents[0]["statement"] if s["sid"] == "LoadBalancerAccessLogDelivery")
    assert grant["actions"] == ["s3:PutObject"]
    assert grant["resources"] == ["arn:${data.aws_partition.partition.partition}:s3:::inference-prod-access-logs/alb/*"]
    assert {p["type"] for p in grant["principals"]} == {"AWS", "Service"}
    compute = json.loads((synthesized["prod"] / "stacks" / "compute" / "cdk.tf.json").read_text())
    (load_balancer,) = compute["resource"]["aws_lb"].values()
    assert load_balancer["access_logs"]["prefix"].startswith("alb/")
