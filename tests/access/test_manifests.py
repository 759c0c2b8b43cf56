"""The call manifests and their recorder: what a call needs from IAM, how calls become manifest entries, and
why a manifest cannot drift from the code."""

from __future__ import annotations

import json
import re
import types
from pathlib import Path

import boto3
import pytest
from botocore.stub import Stubber

from tests.access.test_resolve import write_stacks
from tools.access_check import actions
from tools.access_check.components import MANIFESTS_DIR, Call, Manifest, load_manifests
from tools.access_check.inventory import Inventory
from tools.access_check.recorder import CallRecorder, component_of, missing_from, symbolize, updated_manifest
from tools.access_check.stacks import Synthesized

PROJECT_ROOT = Path(__file__).resolve().parents[2]
JOB = "3f1c0b7e-5d2a-4e8b-9c1f-2a7d6e4b8c90"


def manifests() -> dict[str, Manifest]:
    return {manifest.component: manifest for manifest in load_manifests()}


def test_there_is_one_manifest_per_runtime_component() -> None:
    assert set(manifests()) == {"submit", "worker", "status", "predict", "async-results", "inference-service",
                                "queue-worker"}


def test_every_manifest_file_is_in_the_form_the_recorder_writes() -> None:
    for path in sorted(MANIFESTS_DIR.glob("*.json")):
        assert json.loads(path.read_text()) == Manifest.load(path).as_json(), path.name


def test_every_call_of_every_manifest_has_an_iam_mapping() -> None:
    unmapped = [f"{name}: {call.call}" for name, manifest in manifests().items() for call in manifest.calls
                if (call.service, call.operation) not in actions.OPERATIONS]

    assert unmapped == []


def test_the_queue_worker_is_recorded_from_its_own_tests_and_makes_the_workers_job_calls_plus_its_queues() -> None:
    worker, queue_worker = manifests()["worker"], manifests()["queue-worker"]
    recorded = {(call.call, tuple(sorted(call.params.items())), tuple(sorted(call.when.items())))
                for call in queue_worker.calls}

    assert queue_worker.recorded and queue_worker.runs_as == {"ecs_task_definition": "queue-worker/task-definition"}
    assert [call.describe() for call in worker.calls
            if (call.call, tuple(sorted(call.params.items())), tuple(sorted(call.when.items()))) not in recorded] == []
    assert {"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility"} <= {c.call for c in queue_worker.calls}


def test_model_calls_are_recorded_with_the_backend_they_were_made_under() -> None:
    model_calls = [call for manifest in manifests().values() for call in manifest.calls
                   if call.call.startswith("sagemaker-runtime:")
                   or (call.call == "s3:PutObject" and call.params.get("Key", "").startswith("async/input/"))]

    assert model_calls and all(set(call.when) == {"MODEL_BACKEND"} for call in model_calls)
    assert {call.when["MODEL_BACKEND"] for call in model_calls} == {"sagemaker", "sagemaker-async"}


def test_the_inference_service_makes_no_aws_call_so_its_code_imports_no_aws_sdk() -> None:
    """The model server's code; the image's other command (`work`, queue_worker/) is the queue-worker component."""
    program = PROJECT_ROOT / "containers" / "inference"
    sources = sorted(path for path in program.rglob("*.py") if "queue_worker" not in path.relative_to(program).parts)
    importing = [path.name for path in sources
                 if re.search(r"^\s*(import|from)\s+(boto3|botocore)\b", path.read_text(), re.MULTILINE)]

    assert sources and importing == []
    assert manifests()["inference-service"].calls == ()


# --- the recorder ------------------------------------------------------------------------------------------


def component_code(source: str, module: str = "lambdas.demo.handler") -> types.ModuleType:
    """A module that looks like a component's handler to the recorder (its name is what attributes calls)."""
    code = compile(source, f"{module.replace('.', '/')}.py", "exec")
    fake = types.ModuleType(module)
    exec(code, fake.__dict__)
    return fake


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> tuple[CallRecorder, object]:
    monkeypatch.setenv("RESULTS_BUCKET", "results-1234")
    session = boto3.session.Session(aws_access_key_id="x", aws_secret_access_key="y", region_name="eu-west-1")
    recorder = CallRecorder()
    recorder.install(session)
    return recorder, session.client("s3")


def test_a_call_from_component_code_is_recorded_in_the_manifests_terms(recorded) -> None:
    recorder, s3 = recorded
    handler = component_code(f"def run(s3):\n    s3.head_object(Bucket='results-1234', Key='results/{JOB}.json')\n")

    with Stubber(s3) as stubber:
        stubber.add_client_error("head_object", service_error_code="404", http_status_code=404)
        with pytest.raises(Exception, match="404"):
            handler.run(s3)
        stubber.add_response("head_object", {}, {"Bucket": "results-1234", "Key": "test-setup"})
        s3.head_object(Bucket="results-1234", Key="test-setup")  # the test's own call: no component

    assert recorder.calls == {"demo": {Call("s3:HeadObject", {"Bucket": "${RESULTS_BUCKET}",
                                                                 "Key": "results/${JOB_ID}.json"}, ("404",))}}


def test_a_call_or_an_outcome_the_manifest_lacks_is_reported() -> None:
    listed = Manifest("demo", {"lambda_handler": "lambdas.demo.handler.handler"},
                      (Call("s3:HeadObject", {"Bucket": "${RESULTS_BUCKET}"}, ("200",)),), True)

    new_outcome = {Call("s3:HeadObject", {"Bucket": "${RESULTS_BUCKET}"}, ("404",))}
    new_call = {Call("s3:DeleteObject", {"Bucket": "${RESULTS_BUCKET}"}, ("204",))}
    known = {Call("s3:HeadObject", {"Bucket": "${RESULTS_BUCKET}"}, ("200",))}

    assert [c.describe() for c in missing_from(listed, new_outcome)] == ["s3:HeadObject Bucket=${RESULTS_BUCKET} -> 404"]
    assert [c.call for c in missing_from(listed, new_call)] == ["s3:DeleteObject"]
    assert missing_from(listed, known) == []


def test_rerecording_merges_outcomes_and_keeps_where_the_component_runs() -> None:
    existing = manifests()["worker"]
    calls = {Call("s3:HeadObject", {"Bucket": "${RESULTS_BUCKET}"}, ("200",)),
             Call("s3:HeadObject", {"Bucket": "${RESULTS_BUCKET}"}, ("404",))}

    rewritten = updated_manifest(existing, "worker", calls)

    assert rewritten.runs_as == existing.runs_as and rewritten.note == existing.note
    assert rewritten.calls == (Call("s3:HeadObject", {"Bucket": "${RESULTS_BUCKET}"}, ("200", "404")),)


def test_values_become_symbols_and_calls_belong_to_the_component_on_the_stack() -> None:
    environment = {"RESULTS_TOPIC_ARN": "arn:aws:sns:eu-west-1:1:results"}

    assert symbolize("arn:aws:sns:eu-west-1:1:results", environment, ["RESULTS_TOPIC_ARN"]) == "${RESULTS_TOPIC_ARN}"
    assert symbolize(f"requests/{JOB}.json", environment, ["RESULTS_TOPIC_ARN"]) == "requests/${JOB_ID}.json"
    assert component_of(["botocore.client", "lambdas.model_client", "lambdas.submit.handler", "tests.x"]) == "submit"
    assert component_of(["botocore.client", "tests.lambdas.conftest"]) is None
    assert component_of(["botocore.client", "lambdas.jobs", "containers.inference.queue_worker.consumer"]) == \
        "queue-worker"
    assert component_of(["lambdas.jobs", "lambdas.worker.handler"]) == "worker"


# --- what a call needs ---------------------------------------------------------------------------------------


@pytest.fixture
def kms_bucket(tmp_path: Path) -> Inventory:
    stack = {"resource": {
        "aws_kms_key": {"key": {}},
        "aws_s3_bucket": {"bucket": {"bucket": "results-1234"}},
        "aws_s3_bucket_server_side_encryption_configuration": {"sse": {
            "bucket": "${aws_s3_bucket.bucket.id}",
            "rule": [{"apply_server_side_encryption_by_default": {"kms_master_key_id": "${aws_kms_key.key.arn}",
                                                                  "sse_algorithm": "aws:kms"},
                      "bucket_key_enabled": True}]}},
    }}
    return Inventory(Synthesized(write_stacks(tmp_path, {"storage": stack})))


def test_a_head_object_that_may_answer_404_needs_list_bucket_on_the_bucket(kms_bucket: Inventory) -> None:
    params = {"Bucket": "results-1234", "Key": f"results/{JOB}.json"}

    missing = actions.requests_for_call(kms_bucket, "role", "s3", "HeadObject", params, {"200", "404"}, "test")
    present = actions.requests_for_call(kms_bucket, "role", "s3", "HeadObject", params, {"200"}, "test")

    assert [(r.action, r.resource) for r in missing] == [
        ("s3:GetObject", f"arn:aws:s3:::results-1234/results/{JOB}.json"),
        ("s3:ListBucket", "arn:aws:s3:::results-1234")]
    assert [r.action for r in present] == ["s3:GetObject"], "HEAD decrypts nothing and found its object"


def test_writing_to_a_bucket_encrypted_with_a_customer_key_needs_that_key(kms_bucket: Inventory) -> None:
    key = kms_bucket.bucket_encryption("results-1234").key_arn

    [put, generate] = actions.requests_for_call(kms_bucket, "role", "s3", "PutObject",
                                                {"Bucket": "results-1234", "Key": "k"}, {"200"}, "test")

    assert (put.action, generate.action, generate.resource) == ("s3:PutObject", "kms:GenerateDataKey", key)
    assert generate.context["kms:EncryptionContext:aws:s3:arn"] == "arn:aws:s3:::results-1234"
    assert generate.context["kms:ViaService"] == "s3.eu-west-1.amazonaws.com"
