"""The batch stack in every environment (on the session's synthesized output): Fargate Spot first, the job definition
running the image's batch mode, grants on exact prefixes, the completion rule and the opt-in switch."""

from __future__ import annotations

import json

import pytest

from lambdas import contract
from modules.config import load_config
from tests.conftest import BATCH_ENVIRONMENTS, PROJECT_ROOT

REMOTE = "${data.terraform_remote_state.cross-stack-reference-input-"


def _doc(synthesized, env: str, stack: str = "batch") -> dict:
    return json.loads((synthesized[env] / "stacks" / stack / "cdk.tf.json").read_text())


def _statements(doc: dict, prefix: str) -> dict[str, dict]:
    """sid -> statement of the policy document whose construct id starts with PREFIX."""
    documents = doc["data"]["aws_iam_policy_document"]
    return {st["sid"]: st for st in next(v for k, v in documents.items() if k.startswith(prefix))["statement"]}


def _objects(resources: list[str]) -> set[str]:
    """The key patterns of bucket-object ARNs (`<bucket arn>/<prefix>*` -> `<prefix>*`)."""
    return {resource.split("}/", 1)[1] for resource in resources}


@pytest.mark.parametrize("env", BATCH_ENVIRONMENTS)
def test_batch_waits_for_its_producers_and_the_api_for_batch(env, synthesized):
    manifest = json.loads((synthesized[env] / "manifest.json").read_text())["stacks"]
    assert set(manifest["batch"]["dependencies"]) == {"network", "registry", "storage", "messaging", "inference"}
    assert "batch" in manifest["api"]["dependencies"]


@pytest.mark.parametrize(("env", "spot", "on_demand"), [("local", 4, None), ("dev", 24, 8), ("prod", 179, 77)])
def test_the_queue_tries_fargate_spot_first_with_the_configured_share(env, spot, on_demand, synthesized):
    doc = _doc(synthesized, env)
    environments = doc["resource"]["aws_batch_compute_environment"]
    vcpus = {e["compute_resources"]["type"]: e["compute_resources"]["max_vcpus"] for e in environments.values()}
    (queue,) = doc["resource"]["aws_batch_job_queue"].values()
    first = queue["compute_environment_order"][0]["compute_environment"].split(".")[1]
    assert vcpus == {"FARGATE_SPOT": spot, **({"FARGATE": on_demand} if on_demand else {})}
    assert environments[first]["compute_resources"]["type"] == "FARGATE_SPOT"
    for environment in environments.values():
        assert all(subnet.startswith(f"{REMOTE}network.") for subnet in environment["compute_resources"]["subnets"])


@pytest.mark.parametrize("env", BATCH_ENVIRONMENTS)
def test_the_job_runs_the_inference_image_in_batch_mode_with_the_contract_environment(env, synthesized):
    doc = _doc(synthesized, env)
    (job,) = doc["resource"]["aws_batch_job_definition"].values()
    container = json.loads(job["container_properties"])
    environment = {item["name"] for item in container["environment"]}
    assert container["image"].startswith(f"{REMOTE}registry.") and container["image"].endswith(":1.0.0")
    assert container["command"] == ["batch", "--manifest", "Ref::manifest"]
    assert environment == {
        contract.RESULTS_BUCKET,
        contract.BATCH_RECORDS_PER_CALL,
        contract.BATCH_MAX_RECORD_BYTES,
        contract.LOG_LEVEL,
    }
    assert job["platform_capabilities"] == ["FARGATE"] and job["timeout"]["attempt_duration_seconds"] == 14400
    (group,) = [g for g in doc["resource"]["aws_cloudwatch_log_group"].values() if g["name"].startswith("/aws/batch/")]
    key = json.loads(next(iter(doc["resource"]["aws_kms_key"].values()))["policy"])
    logs = next(st for st in key["Statement"] if st["Sid"] == "CloudWatchLogsUse")
    assert group["kms_key_id"].startswith("${aws_kms_key.batch-key")
    assert group["retention_in_days"] == load_config(PROJECT_ROOT / "config" / f"{env}.toml").log_retention_days
    assert any(
        arn.endswith(f":log-group:{group['name']}")
        for arn in logs["Condition"]["ArnEquals"]["kms:EncryptionContext:aws:logs:arn"]
    )


def test_the_job_role_reads_and_writes_exactly_the_batch_prefixes(synthesized):
    job = _statements(_doc(synthesized, "dev"), "job_job-role-document")
    assert _objects(job["ReadManifests"]["resources"]) == {f"{contract.BATCH_REQUESTS_PREFIX}*"}
    assert _objects(job["ReadInputs"]["resources"]) == {f"{contract.BATCH_INPUTS_PREFIX}*"}
    assert _objects(job["WriteOutputs"]["resources"]) == {f"{contract.BATCH_RESULTS_PREFIX}*"}
    assert job["ListOutputs"]["condition"] == [
        {"test": "StringLike", "variable": "s3:prefix", "values": [f"{contract.BATCH_RESULTS_PREFIX}*"]}
    ]
    assert all(resource != "*" for st in job.values() for resource in st["resources"])


def test_the_functions_submit_to_the_queue_and_describe_jobs_and_nothing_more(synthesized):
    doc = _doc(synthesized, "dev")
    submit = _statements(doc, "function-batch_submit_policy")
    status = _statements(doc, "function-batch_status_policy")
    assert submit["SubmitBatchJobs"]["resources"] == [
        "${aws_batch_job_queue.queue_job-queue_B49D54C4.arn}",
        "${aws_batch_job_definition.job_job-definition_A79D4674.arn}",
    ]
    assert _objects(submit["SignInputUploads"]["resources"]) == {f"{contract.BATCH_INPUTS_PREFIX}*"}
    assert submit["ListInputs"]["condition"][0]["values"] == [f"{contract.BATCH_INPUTS_PREFIX}*"]
    assert status["DescribeBatchJobs"] == {
        **status["DescribeBatchJobs"],
        "actions": ["batch:DescribeJobs"],
        "resources": ["*"],
    }
    assert _objects(status["ReadBatches"]["resources"]) == {
        f"{contract.BATCH_REQUESTS_PREFIX}*",
        f"{contract.BATCH_RESULTS_PREFIX}*",
    }
    environment = {
        f["function_name"]: f["environment"]["variables"] for f in doc["resource"]["aws_lambda_function"].values()
    }
    assert environment["inference-dev-batch-submit"][contract.BATCH_JOB_DEFINITION].startswith(
        "${aws_batch_job_definition."
    )


@pytest.mark.parametrize("env", BATCH_ENVIRONMENTS)
def test_a_finished_parent_job_of_the_queue_tells_the_results_topic_which_lets_only_that_rule_publish(env, synthesized):
    doc = _doc(synthesized, env)
    (rule,) = doc["resource"]["aws_cloudwatch_event_rule"].values()
    (target,) = doc["resource"]["aws_cloudwatch_event_target"].values()
    pattern = json.loads(rule["event_pattern"])
    assert pattern["detail"]["status"] == ["SUCCEEDED", "FAILED"]
    assert pattern["detail"]["arrayProperties"] == {"index": [{"exists": False}]}
    assert pattern["detail"]["jobQueue"] == ["${aws_batch_job_queue.queue_job-queue_B49D54C4.arn}"]
    assert target["arn"].startswith(f"{REMOTE}messaging.") and "results-topic" in target["arn"]
    assert (
        json.loads(target["input_transformer"]["input_template"].replace("<", "").replace(">", ""))["kind"] == "batch"
    )
    messaging = _doc(synthesized, env, "messaging")
    topic_policy = next(
        v for k, v in messaging["data"]["aws_iam_policy_document"].items() if k.startswith("results-topic")
    )["statement"]
    publish = next(st for st in topic_policy if st["sid"] == "ServicePublish")
    assert publish["principals"] == [{"type": "Service", "identifiers": ["events.amazonaws.com"]}]
    source = next(c for c in publish["condition"] if c["variable"] == "aws:SourceArn")["values"]
    assert source == [
        f"arn:${{data.aws_partition.partition.partition}}:events:eu-west-1:"
        f"${{data.aws_caller_identity.caller.account_id}}:rule/{rule['name']}"
    ]


@pytest.mark.parametrize("env", BATCH_ENVIRONMENTS)
def test_jobs_and_functions_only_call_out_on_https_to_the_vpc_and_s3(env, synthesized):
    doc = _doc(synthesized, env)
    rules = doc["resource"]["aws_vpc_security_group_egress_rule"].values()
    assert "aws_vpc_security_group_ingress_rule" not in doc["resource"]
    assert {(r["from_port"], r["to_port"]) for r in rules} == {(443, 443)}
    assert {("cidr_ipv4" in r, "prefix_list_id" in r) for r in rules} == {(True, False), (False, True)}


def test_batch_transform_runs_as_the_models_role_on_the_batch_prefixes_only(synthesized):
    doc = _doc(synthesized, "dev")
    (policy,) = [p for p in doc["resource"]["aws_iam_role_policy"].values() if p["name"] == "batch-transform"]
    transform = _statements(doc, "transform-policy-document")
    assert policy["role"].startswith(f"{REMOTE}inference.")
    assert _objects(transform["ReadTransformInputs"]["resources"]) == {f"{contract.BATCH_INPUTS_PREFIX}*"}
    assert _objects(transform["WriteTransformOutputs"]["resources"]) == {f"{contract.TRANSFORM_RESULTS_PREFIX}*"}


@pytest.mark.parametrize("env", BATCH_ENVIRONMENTS)
def test_the_names_config_checks_are_the_names_the_batch_stack_builds(env, synthesized):
    doc = _doc(synthesized, env)
    config = load_config(PROJECT_ROOT / "config" / f"{env}.toml")
    checked = {name for _, name, _, _ in config.batch.physical_names(config.name_prefix)}
    built = {v["name"] for v in doc["resource"]["aws_iam_role"].values()}
    built |= {
        v["name"] for v in doc["resource"]["aws_cloudwatch_log_group"].values() if v["name"].startswith("/aws/batch")
    }
    built |= {v["function_name"] for v in doc["resource"]["aws_lambda_function"].values()}
    built |= {
        v["name"]
        for kind in ("aws_batch_job_queue", "aws_batch_job_definition", "aws_cloudwatch_event_rule")
        for v in doc["resource"][kind].values()
    }
    assert checked == built


def test_batch_is_opt_in_without_it_there_is_no_stack_no_route_and_no_eventbridge_grant(tmp_path):
    from cdktf import App

    import main

    path = tmp_path / "dev.toml"
    path.write_text(
        (PROJECT_ROOT / "config" / "dev.toml")
        .read_text()
        .replace("[batch]\nenabled = true", "[batch]\nenabled = false")
    )
    app = App(context={"excludeStackIdFromLogicalIds": "true", "allowSepCharsInLogicalIds": "true"})

    stacks = main.compose(app, load_config(path))

    assert "batch" not in stacks
    assert not any("/v1/batches" in route for route in stacks["api"].routes)
    assert "events.amazonaws.com" not in json.dumps(stacks["messaging"].key.policy())
