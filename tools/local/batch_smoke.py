"""The batch smoke test through the deployed batch stack: upload URLs -> POST /v1/batches -> the AWS Batch job ->
the job's command as local processes -> outputs -> GET /v1/batches/{id} -> the completion message.

What the emulator cannot do, and what stands in for it (docs/local-loop.md: "Emulator gaps"):
- moto runs no Batch containers (Docker): with its `use_docker` switch off it marks a submitted job SUCCEEDED, and
  this test runs the job's exact command (the deployed job definition's, with the job's parameters substituted) and
  environment (the job definition's, the image's MODEL_DIR, and what AWS Batch sets: AWS_BATCH_JOB_ARRAY_INDEX
  per child) as one local process per child;
- moto emits no Batch job-state events and its EventBridge delivers to no SNS target: this test builds the event
  AWS Batch sends for the parent job (its DescribeJobs description), checks that the deployed rule's pattern matches
  it and not a child's, renders the deployed target's input transformer (moto's own matcher and renderer) and
  publishes the result to the target topic, as EventBridge would.
The functions run in-process (like tools/local/smoke.py) with the environment of the deployed functions, read back
from the emulator.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
import urllib.request
import uuid
from datetime import UTC, datetime
from typing import Any

from tools.lambda_events import api_event
from tools.local.smoke import MODEL_DIR, Steps, handler_environment, wait_for
from tools.terraform_cli import BUILD_DIR, PROJECT_ROOT

IMAGE_ENTRY_POINT = PROJECT_ROOT / "containers" / "inference" / "serve.py"  # the image's ENTRYPOINT script
RECORDS, BAD_RECORDS = (30_000, 20_000), ['{"id": "bad-1", "features": [1, 2]}', "not json"]
JOB_TIMEOUT_SECONDS = 300
BATCH_OUTPUTS = (
    "batch_job_queue_arn",
    "batch_job_definition_arn",
    "batch_state_rule_arn",
    "function_name_batch_submit",
    "function_name_batch_status",
    "results_topic_arn",
)


def has_batch(outputs: dict[str, dict[str, Any]]) -> bool:
    return "batch" in outputs


def _records(count: int, start: int) -> list[str]:
    from sklearn.datasets import load_iris

    data = load_iris().data.tolist()
    return [json.dumps({"id": f"r-{n}", "features": data[n % len(data)]}) for n in range(start, start + count)]


def _simple_batch(emulator_url: str) -> None:
    """moto's Batch without Docker: a submitted job is marked SUCCEEDED at once."""
    request = urllib.request.Request(
        f"{emulator_url}/moto-api/config",
        method="POST",
        data=json.dumps({"batch": {"use_docker": False}}).encode(),
        headers={"Content-Type": "application/json"},
    )
    urllib.request.urlopen(request, timeout=10).close()


def job_command(definition: dict[str, Any], parameters: dict[str, str]) -> list[str]:
    """The container's command with AWS Batch's `Ref::<name>` parameter substitution."""
    return [
        parameters.get(part.removeprefix("Ref::"), part) if part.startswith("Ref::") else part
        for part in definition["containerProperties"]["command"]
    ]


def job_event(job: dict[str, Any], account: str, region: str) -> dict[str, Any]:
    """The Batch Job State Change event AWS Batch sends for JOB (its DescribeJobs description is the detail)."""
    now = datetime.now(UTC)
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Batch Job State Change",
        "source": "aws.batch",
        "account": account,
        "time": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [job["jobArn"]],
        "detail": job,
        "ingestion-time": now.timestamp(),
    }


def run_batch_smoke(steps: Steps, *, emulator_url: str, region: str, outputs: dict[str, dict[str, Any]]) -> None:
    """Every step of the batch smoke test; raises StepFailed at the first failed step (already reported)."""
    import boto3

    from containers.inference import train
    from lambdas import contract

    flat = {name: value for stack in outputs.values() for name, value in stack.items()}
    with steps.step("deployed outputs name the batch queue, job definition, functions and state rule") as note:
        missing = [name for name in BATCH_OUTPUTS if name not in flat]
        if missing:
            raise RuntimeError(f"deployed stacks lack output(s) {', '.join(missing)}")
        note["detail"] = flat["batch_job_queue_arn"].rsplit("/", 1)[1]

    session = boto3.session.Session(aws_access_key_id="test", aws_secret_access_key="test", region_name=region)
    client = {
        name: session.client(name, endpoint_url=emulator_url)
        for name in ("s3", "sqs", "sns", "lambda", "batch", "events", "sts")
    }
    emulator = {
        "AWS_ENDPOINT_URL": emulator_url,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": region,
        "AWS_REGION": region,
    }
    probe_url = subscription_arn = None
    try:
        with steps.step("probe queue subscribed to the results topic (batch completions)"):
            _simple_batch(emulator_url)
            probe_url = client["sqs"].create_queue(QueueName=f"batch-probe-{int(time.time())}")["QueueUrl"]
            probe_arn = client["sqs"].get_queue_attributes(QueueUrl=probe_url, AttributeNames=["QueueArn"])[
                "Attributes"
            ]["QueueArn"]
            subscription_arn = client["sns"].subscribe(
                TopicArn=flat["results_topic_arn"],
                Protocol="sqs",
                Endpoint=probe_arn,
                Attributes={"RawMessageDelivery": "true"},
                ReturnSubscriptionArn=True,
            )["SubscriptionArn"]

        def deployed_environment(output: str) -> dict[str, str]:
            configuration = client["lambda"].get_function_configuration(FunctionName=flat[output])
            return {**configuration.get("Environment", {}).get("Variables", {}), **emulator}

        from lambdas.batch_status import handler as batch_status
        from lambdas.batch_submit import handler as batch_submit

        with handler_environment(deployed_environment("function_name_batch_submit")):
            with steps.step("batch_submit hands out upload URLs and the input is PUT to them") as note:
                answer = batch_submit.handler(api_event("POST", "/v1/batches", {"upload": {"parts": 2}}), None)
                if answer["statusCode"] != 201:
                    raise AssertionError(f"batch_submit answered {answer['statusCode']}: {answer.get('body')}")
                upload = json.loads(answer["body"])
                for part, (count, start) in zip(
                    upload["uploads"], ((RECORDS[0], 0), (RECORDS[1], RECORDS[0])), strict=True
                ):
                    lines = _records(count, start) + (BAD_RECORDS if start == 0 else [])
                    request = urllib.request.Request(
                        part["url"],
                        data=("\n".join(lines) + "\n").encode(),
                        method=part["method"],
                        headers={"Content-Type": "application/jsonlines"},
                    )
                    urllib.request.urlopen(request, timeout=30).close()
                note["detail"] = f"{sum(RECORDS) + len(BAD_RECORDS)} records in {len(upload['uploads'])} parts"

            with steps.step("batch_submit plans the parts and submits one AWS Batch array job") as note:
                answer = batch_submit.handler(api_event("POST", "/v1/batches", upload["next"]["body"]), None)
                if answer["statusCode"] != 202:
                    raise AssertionError(f"batch_submit answered {answer['statusCode']}: {answer.get('body')}")
                accepted = json.loads(answer["body"])
                batch_id = accepted["batch_id"]
                manifest_key = contract.batch_request_key(batch_id)
                manifest = json.loads(
                    client["s3"].get_object(Bucket=accepted["output"].split("/")[2], Key=manifest_key)["Body"].read()
                )
                job = client["batch"].describe_jobs(jobs=[manifest["job_id"]])["jobs"][0]
                if job["parameters"].get("batch_id") != batch_id or manifest_key not in job["parameters"]["manifest"]:
                    raise AssertionError(f"the submitted job carries parameters {job['parameters']}")
                note["detail"] = f"batch {batch_id}: {accepted['parts']} parts, array of {accepted['array_size']}"

        with steps.step("the job's command and environment run as local processes, one per array child") as note:
            [definition] = client["batch"].describe_job_definitions(jobDefinitions=[flat["batch_job_definition_arn"]])[
                "jobDefinitions"
            ]
            command = job_command(definition, job["parameters"])
            if not (MODEL_DIR / train.MODEL_FILE).is_file():
                train.write_model_dir(MODEL_DIR)
            environment = {
                **os.environ,
                **{item["name"]: item["value"] for item in definition["containerProperties"].get("environment", [])},
                "MODEL_DIR": str(MODEL_DIR),
                "AWS_BATCH_JOB_ID": job["jobId"],
                "AWS_BATCH_JOB_ATTEMPT": "1",
                **emulator,
            }
            size = (job.get("arrayProperties") or {}).get("size") or 0
            log = BUILD_DIR / "local-deploy" / "batch-job.log"
            log.parent.mkdir(parents=True, exist_ok=True)
            with log.open("w") as out:
                for index in range(size) if size else (None,):
                    child = environment if index is None else {**environment, "AWS_BATCH_JOB_ARRAY_INDEX": str(index)}
                    finished = subprocess.run(
                        [sys.executable, str(IMAGE_ENTRY_POINT), *command],
                        env=child,
                        cwd=PROJECT_ROOT,
                        stdout=out,
                        stderr=subprocess.STDOUT,
                        timeout=JOB_TIMEOUT_SECONDS,
                        check=False,
                    )
                    if finished.returncode != 0:
                        raise AssertionError(f"child {index} exited {finished.returncode} (log: {log})")
            note["detail"] = f"{' '.join(command)} x {size or 1}"

        with handler_environment(deployed_environment("function_name_batch_status")):
            with steps.step("batch_status reports every part done with the record counts") as note:
                answer = batch_status.handler(
                    api_event("GET", f"/v1/batches/{batch_id}", path_parameters={"id": batch_id}), None
                )
                report = json.loads(answer["body"])
                expected = {
                    "total": sum(RECORDS) + len(BAD_RECORDS),
                    "succeeded": sum(RECORDS),
                    "failed": len(BAD_RECORDS),
                }
                if (
                    answer["statusCode"] != 200
                    or report["records"] != expected
                    or report["parts"]["done"] != report["parts"]["total"]
                ):
                    raise AssertionError(f"status answered {answer['statusCode']}: {answer.get('body')[:2000]}")
                note["detail"] = (
                    f"state {report['state']}, {report['parts']['done']} parts, "
                    f"{expected['succeeded']} predictions, {expected['failed']} errors"
                )

        with steps.step("the job-state rule turns the parent job's end into the completion message"):
            from moto.events.models import EventPattern
            from moto.events.utils import EventTemplateParser

            rule_name = flat["batch_state_rule_arn"].rsplit("/", 1)[1]
            pattern = EventPattern.load(client["events"].describe_rule(Name=rule_name)["EventPattern"])
            [target] = client["events"].list_targets_by_rule(Rule=rule_name)["Targets"]
            account = client["sts"].get_caller_identity()["Account"]
            finished_job = {**client["batch"].describe_jobs(jobs=[job["jobId"]])["jobs"][0], "status": "SUCCEEDED"}
            parent_event = job_event(finished_job, account, region)
            child_event = job_event(
                {**finished_job, "jobId": f"{job['jobId']}:0", "arrayProperties": {"index": 0}}, account, region
            )
            if not pattern.matches_event(parent_event) or pattern.matches_event(child_event):
                raise AssertionError(f"the rule's pattern {pattern.dump()} must match the parent's event only")
            transformer = target["InputTransformer"]
            message = EventTemplateParser.parse(
                transformer["InputTemplate"], transformer["InputPathsMap"], parent_event
            )
            client["sns"].publish(TopicArn=target["Arn"], Message=json.dumps(message))  # what EventBridge does
            notices = [
                json.loads(m["Body"])
                for m in wait_for(
                    lambda: (
                        client["sqs"]
                        .receive_message(QueueUrl=probe_url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
                        .get("Messages")
                    ),
                    "the completion message",
                )
            ]
            wanted = {
                "kind": "batch",
                "batch_id": batch_id,
                "state": "SUCCEEDED",
                "batch_job_id": job["jobId"],
                "status_url": f"/v1/batches/{batch_id}",
            }
            if not any(wanted.items() <= notice.items() for notice in notices):
                raise AssertionError(f"expected {wanted}, the probe queue got {notices}")
    finally:
        if subscription_arn:
            with contextlib.suppress(Exception):
                client["sns"].unsubscribe(SubscriptionArn=subscription_arn)
        if probe_url:
            with contextlib.suppress(Exception):
                client["sqs"].delete_queue(QueueUrl=probe_url)
