"""The storage stack's wiring: bucket names, teardown rules per environment, expiry of everything it keeps, outputs."""

from __future__ import annotations

import json

import pytest

from lambdas.contract import BATCH_INPUTS_PREFIX, REQUESTS_PREFIX, RESULTS_PREFIX
from modules.stacks.inference import (
    ASYNC_FAILURE_PREFIX,
    ASYNC_INPUT_PREFIX,
    ASYNC_OUTPUT_PREFIX,
    DATA_CAPTURE_PREFIX,
)
from tests.conftest import ENVIRONMENTS

FORCE_DESTROY = {"local": True, "dev": False, "prod": False, "local-eks": True}
# S3 names are global: dev and prod names end in the account id; local (the emulator, no account) keeps its names.
NAME_SUFFIX = {"local": "", "dev": "-111111111111", "prod": "-222222222222", "local-eks": "-123456789012"}
# config/<env>.toml [storage]: results_expiry_days, data_capture_expiry_days, access_log_expiry_days
EXPIRY_DAYS = {"local": (7, 7, 7), "dev": (30, 14, 30), "prod": (90, 30, 365), "local-eks": (7, 7, 7)}


def _storage(synthesized, env) -> dict:
    return json.loads((synthesized[env] / "stacks" / "storage" / "cdk.tf.json").read_text())


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_buckets_are_named_for_project_environment_purpose_and_account(env, synthesized):
    buckets = _storage(synthesized, env)["resource"]["aws_s3_bucket"].values()
    assert sorted(b["bucket"] for b in buckets) == [
        f"inference-{env}-{p}{NAME_SUFFIX[env]}" for p in ("access-logs", "artifacts", "results")
    ]


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_only_non_production_buckets_can_be_force_destroyed(env, synthesized):
    for bucket in _storage(synthesized, env)["resource"]["aws_s3_bucket"].values():
        assert bucket["force_destroy"] is FORCE_DESTROY[env]


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_every_data_bucket_uses_the_stack_key_and_logs_to_the_access_log_bucket(env, synthesized):
    doc = _storage(synthesized, env)
    key_ref = "${aws_kms_key." + next(iter(doc["resource"]["aws_kms_key"])) + ".arn}"
    sse = [
        c["rule"][0]["apply_server_side_encryption_by_default"]
        for c in doc["resource"]["aws_s3_bucket_server_side_encryption_configuration"].values()
    ]
    assert sorted(s.get("kms_master_key_id", s["sse_algorithm"]) for s in sse) == sorted([key_ref, key_ref, "AES256"])
    logging = doc["resource"]["aws_s3_bucket_logging"].values()
    assert len(logging) == 2 and all("access-logs" in entry["target_bucket"] for entry in logging)


def _expiries(doc: dict, bucket: str) -> dict[str, int]:
    """prefix ("" for the whole bucket) -> days of every expiring lifecycle rule of BUCKET's lifecycle resource."""
    (lifecycle,) = [
        v
        for name, v in doc["resource"]["aws_s3_bucket_lifecycle_configuration"].items()
        if name.startswith(f"{bucket}_")
    ]
    return {
        rule["filter"][0].get("prefix", ""): rule["expiration"][0]["days"]
        for rule in lifecycle["rule"]
        if "expiration" in rule
    }


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_everything_written_to_the_results_bucket_expires(env, synthesized):
    results_days, capture_days, _ = EXPIRY_DAYS[env]
    assert _expiries(_storage(synthesized, env), "results") == {
        REQUESTS_PREFIX: results_days,
        RESULTS_PREFIX: results_days,
        ASYNC_INPUT_PREFIX: results_days,
        ASYNC_OUTPUT_PREFIX: results_days,
        ASYNC_FAILURE_PREFIX: results_days,
        DATA_CAPTURE_PREFIX: capture_days,
        BATCH_INPUTS_PREFIX: results_days,
    }


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_access_logs_expire_and_model_artifacts_do_not(env, synthesized):
    doc = _storage(synthesized, env)
    assert _expiries(doc, "access-logs") == {"": EXPIRY_DAYS[env][2]}
    assert _expiries(doc, "artifacts") == {}


def test_sagemaker_writes_data_capture_under_the_prefix_that_expires(synthesized):
    """prod captures 20 % of its confidential payloads: the capture destination sits under the expiring prefix."""
    inference = json.loads((synthesized["prod"] / "stacks" / "inference" / "cdk.tf.json").read_text())
    (endpoint_config,) = inference["resource"]["aws_sagemaker_endpoint_configuration"].values()
    destination = endpoint_config["data_capture_config"]["destination_s3_uri"]
    assert (
        destination.endswith(f"/{DATA_CAPTURE_PREFIX}")
        and endpoint_config["data_capture_config"]["initial_sampling_percentage"] == 20
    )


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_bucket_names_and_arns_are_outputs(env, synthesized):
    outputs = _storage(synthesized, env)["output"]
    for purpose in ("artifacts", "results", "access_logs"):
        assert {f"{purpose}_bucket_name", f"{purpose}_bucket_arn"} <= set(outputs)
    assert "storage_kms_key_arn" in outputs


def test_load_balancers_may_write_access_logs_only_under_the_alb_prefix_in_this_accounts_folder(synthesized):
    doc = _storage(synthesized, "prod")
    documents = [d for name, d in doc["data"]["aws_iam_policy_document"].items() if name.startswith("access-logs")]
    grant = next(s for s in documents[0]["statement"] if s["sid"] == "LoadBalancerAccessLogDelivery")
    assert grant["actions"] == ["s3:PutObject"]
    assert grant["resources"] == [
        "arn:${data.aws_partition.partition.partition}:s3:::inference-prod-access-logs-222222222222/alb/*/AWSLogs/"
        "${data.aws_caller_identity.caller.account_id}/*"
    ]
    assert {p["type"] for p in grant["principals"]} == {"AWS", "Service"}
    compute = json.loads((synthesized["prod"] / "stacks" / "compute" / "cdk.tf.json").read_text())
    (load_balancer,) = compute["resource"]["aws_lb"].values()
    assert load_balancer["access_logs"]["prefix"].startswith("alb/")
