"""The pipeline CLI against a real environment: the API's URL and auth read from the api stack's state in the
environment's backend (the dev state bucket, here on the emulator), every call SigV4-signed (auth = iam) or with a
bearer token (auth = jwt), the queues through SQS with the caller's credentials, and redrive by SQS's own move task.

The API is a stand-in for API Gateway on loopback: it verifies each signature the way API Gateway does
(recomputed with the caller's secret key) and hands the request to the deployed functions' code; a request that
is not signed, or signed for another service or region, gets API Gateway's 403.
"""

from __future__ import annotations

import hmac
import json
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.stub import Stubber

from lambdas import contract
from modules.config import load_config
from tests.conftest import PROJECT_ROOT
from tools import readme_examples
from tools.api_client import ApiClient
from tools.pipeline.cli import EXIT_FAILED, EXIT_OK, main
from tools.pipeline.deployment import WorkQueue
from tools.pipeline.queues import redrive_with_move_task

ACCESS_KEY, SECRET_KEY = "AKIDEXAMPLE", "caller-secret"
DEV = load_config(PROJECT_ROOT / "config" / "dev.toml")
TOKEN = "header.payload.signature"
_AUTHORIZATION = re.compile(r"^AWS4-HMAC-SHA256 Credential=(?P<key>[^/]+)/(?P<date>\d{8})/(?P<region>[^/]+)/"
                            r"(?P<service>[^/]+)/aws4_request, SignedHeaders=(?P<signed>[^,]+), "
                            r"Signature=(?P<signature>[0-9a-f]{64})$")


def signature_is_valid(method: str, url: str, headers: dict[str, str], body: bytes, region: str) -> bool:
    """API Gateway's check of an IAM-authorized request: the signature recomputed from the signed headers."""
    found = _AUTHORIZATION.match(headers.get("authorization", ""))
    if not found or found["key"] != ACCESS_KEY or found["service"] != "execute-api" or found["region"] != region:
        return False
    signed = {name: headers[name] for name in found["signed"].split(";")}
    request = AWSRequest(method=method, url=url, data=body, headers=signed)
    request.context["timestamp"] = headers["x-amz-date"]
    signer = SigV4Auth(Credentials(ACCESS_KEY, SECRET_KEY), "execute-api", region)
    expected = signer.signature(signer.string_to_sign(request, signer.canonical_request(request)), request)
    return hmac.compare_digest(expected, found["signature"])


@dataclass
class FakeApiGateway:
    """HTTP API stand-in: checks auth, then answers with the local pipeline's handlers (and runs the consumers
    before each status read, as the deployed worker would have by then)."""

    auth: str
    pipeline: Any
    url: str = ""
    seen: list[dict[str, Any]] = field(default_factory=list)


@pytest.fixture
def api_gateway(deployment, model_url) -> Iterator[FakeApiGateway]:
    from tools.pipeline.deployment import local_deployment
    from tools.pipeline.local import HANDLER_LOG, LocalApi, LocalModel, LocalWorker

    config = load_config(PROJECT_ROOT / "config" / "local.toml")
    local = local_deployment(config)
    model = LocalModel(url=model_url)
    gateway = FakeApiGateway(auth="iam", pipeline=(LocalApi(local, config.api.lambda_routes(), model, HANDLER_LOG),
                                                    LocalWorker(local, model)))

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _answer(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            headers = {name.lower(): value for name, value in self.headers.items()}
            url = f"{gateway.url.rstrip('/')}{self.path}"
            gateway.seen.append({"method": self.command, "path": self.path, "headers": headers})
            if gateway.auth == "iam" and not signature_is_valid(self.command, url, headers, body, DEV.region):
                return self._send(403, {"message": "Forbidden"})
            if gateway.auth == "jwt" and headers.get("authorization") != f"Bearer {TOKEN}":
                return self._send(401, {"message": "Unauthorized"})
            api, worker = gateway.pipeline
            if self.command == "GET":
                worker.run_once()
            answer = api.request(self.command, self.path, json.loads(body) if body else None)
            self._send(answer.status, answer.body)

        def _send(self, status: int, document: Any) -> None:
            raw = json.dumps(document).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        do_GET = do_POST = _answer

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    gateway.url = f"http://127.0.0.1:{server.server_port}/"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield gateway
    server.shutdown()
    server.server_close()


@pytest.fixture
def dev_state(deployment, api_gateway, monkeypatch) -> None:
    """dev's state bucket (on the emulator) with the api and messaging stacks' state, and caller credentials."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", deployment.emulator_url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    s3 = deployment.client("s3")
    s3.create_bucket(Bucket=DEV.backend_bucket, CreateBucketConfiguration={"LocationConstraint": DEV.region})
    states = {"api": {"api_invoke_url": api_gateway.url, "api_auth": api_gateway.auth},
              "messaging": deployment.outputs["messaging"]}
    for stack, outputs in states.items():
        state = {"version": 4, "outputs": {name: {"value": value, "type": "string"} for name, value in outputs.items()}}
        s3.put_object(Bucket=DEV.backend_bucket, Key=f"{DEV.backend.key_prefix}/{stack}.tfstate",
                      Body=json.dumps(state).encode())


def test_a_job_goes_through_the_deployed_api_signed_with_sigv4_and_its_result_comes_back(dev_state, api_gateway,
                                                                                        capsys):
    code = main(["--env", "dev", "jobs", "submit", "--file", "examples/job.json", "--wait", "--json"])
    result = json.loads(capsys.readouterr().out)
    assert code == EXIT_OK and result["status"] == contract.STATUS_SUCCEEDED
    assert [p["label"] for p in result["result"]["predictions"]] == ["setosa", "virginica"]
    assert [call["method"] for call in api_gateway.seen][:2] == ["POST", "GET"]
    assert all(call["headers"]["authorization"].startswith(f"AWS4-HMAC-SHA256 Credential={ACCESS_KEY}/")
               for call in api_gateway.seen)


def test_predict_and_queue_depths_against_the_real_environment(dev_state, capsys):
    assert main(["--env", "dev", "predict", "--file", "examples/predict.json", "--json"]) == EXIT_OK
    assert [p["label"] for p in json.loads(capsys.readouterr().out)["predictions"]] == ["setosa", "virginica"]
    assert main(["--env", "dev", "queues", "--json"]) == EXIT_OK
    assert [row["queue"] for row in json.loads(capsys.readouterr().out)["queues"]] == ["default", "priority"]


def test_dead_letters_of_the_real_environment_are_listed_from_its_state_and_left_in_place(
        dev_state, deployment, capsys):
    dead_letter_url = deployment.output("dead_letter_queue_url_default")
    job = {"job_id": "3f1c0b7e-5d2a-4e8b-9c1f-2a7d6e4b8c90", "model": "iris", "priority": "normal"}
    deployment.client("sqs").send_message(QueueUrl=dead_letter_url, MessageBody=json.dumps(job))
    for _ in range(2):  # the second listing finds what the first one left
        assert main(["--env", "dev", "dlq", "list", "--json"]) == EXIT_OK
        listed = {entry["queue"]: entry["messages"] for entry in json.loads(capsys.readouterr().out)["dead_letter_queues"]}
        assert [(m["job_id"], m["model"], m["priority"]) for m in listed["default"]] == [tuple(job.values())]
        assert listed["priority"] == []
    assert main(["--env", "dev", "queues", "--json"]) == EXIT_OK
    depths = json.loads(capsys.readouterr().out)["queues"]
    assert {row["queue"]: row["dead_letters"] for row in depths} == {"default": 1, "priority": 0}


def test_a_signature_for_another_region_is_refused_by_the_gateway_as_aws_would(dev_state, api_gateway):
    answer = ApiClient(api_gateway.url, "iam", "us-east-1").request("POST", "/v1/predict",
                                                                     {"instances": [[5.1, 3.5, 1.4, 0.2]]})
    assert answer.status == 403
    unsigned = ApiClient(api_gateway.url, "none", "").request("GET", "/v1/jobs/3f1c0b7e-5d2a-4e8b-9c1f-2a7d6e4b8c90")
    assert unsigned.status == 403


def test_a_refused_call_is_one_line_naming_the_route_and_status(dev_state, api_gateway, capsys, monkeypatch):
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-the-callers-key")
    assert main(["--env", "dev", "predict", "--file", "examples/predict.json"]) == EXIT_FAILED
    err = capsys.readouterr().err
    assert err == 'error: POST /v1/predict answered 403: {"message": "Forbidden"}\n'


def test_a_bearer_token_is_sent_for_jwt_and_a_missing_one_is_named(dev_state, api_gateway, capsys, monkeypatch):
    api_gateway.auth = "jwt"
    args = ["--env", "dev", "--api-url", api_gateway.url, "predict", "--file", "examples/predict.json", "--json"]
    monkeypatch.setattr("tools.pipeline.cli.aws_deployment", _with_auth("jwt"))
    assert main(args) == EXIT_FAILED
    assert capsys.readouterr().err.startswith("error: auth = 'jwt' needs a token: set PIPELINE_API_TOKEN")
    monkeypatch.setenv("PIPELINE_API_TOKEN", TOKEN)
    assert main(args) == EXIT_OK
    assert api_gateway.seen[-1]["headers"]["authorization"] == f"Bearer {TOKEN}"


def _with_auth(auth: str):
    from tools.pipeline import deployment as module

    real = module.aws_deployment

    def patched(config):
        found = real(config)
        found.outputs["api"]["api_auth"] = auth
        return found

    return patched


def test_without_the_api_state_the_cli_says_the_environment_is_not_deployed(deployment, monkeypatch, capsys):
    monkeypatch.setenv("AWS_ENDPOINT_URL", deployment.emulator_url)
    deployment.client("s3").create_bucket(Bucket=DEV.backend_bucket,
                                          CreateBucketConfiguration={"LocationConstraint": DEV.region})
    assert main(["--env", "dev", "queues"]) == EXIT_FAILED
    err = capsys.readouterr().err
    assert err.startswith("error: no stack output 'api_invoke_url' in the state in "
                          f"s3://{DEV.backend_bucket}/inference-pipeline/dev/ (stacks read: none)")


def test_redrive_on_aws_uses_sqs_move_task_and_follows_it_to_completion():
    import boto3

    sqs = boto3.client("sqs", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="x")
    queue = WorkQueue(name="default", url="https://sqs.eu-west-1.amazonaws.com/111111111111/inference-dev-default",
                      dead_letter_url="https://sqs.eu-west-1.amazonaws.com/111111111111/inference-dev-default-dlq")
    arn = "arn:aws:sqs:eu-west-1:111111111111:inference-dev-default"
    progress: list[str] = []
    with Stubber(sqs) as stub:
        for url, queue_arn in ((queue.dead_letter_url, f"{arn}-dlq"), (queue.url, arn)):
            stub.add_response("get_queue_attributes", {"Attributes": {"QueueArn": queue_arn}},
                              {"QueueUrl": url, "AttributeNames": ["QueueArn"]})
        stub.add_response("start_message_move_task", {"TaskHandle": "h"},
                          {"SourceArn": f"{arn}-dlq", "DestinationArn": arn})
        for status, moved in (("RUNNING", 3), ("COMPLETED", 7)):
            stub.add_response("list_message_move_tasks", {"Results": [{
                "Status": status, "ApproximateNumberOfMessagesMoved": moved, "ApproximateNumberOfMessagesToMove": 7}]},
                {"SourceArn": f"{arn}-dlq", "MaxResults": 1})
        assert redrive_with_move_task(sqs, queue, progress.append, poll_seconds=0) == 7
    assert progress == ["moving default's dead letters: 3 of 7 so far"]


API_BLOCKS = [block for block in readme_examples.shell_blocks()
              if block.run == "api"]


@pytest.mark.parametrize("block", API_BLOCKS, ids=[block.where for block in API_BLOCKS])
def test_the_readmes_api_examples_run_as_pasted_against_the_deployed_api(block, dev_state, api_gateway):
    from tools.readme_examples import Runner

    outcome = Runner().run_static(block)
    assert outcome.passed, f"{block.where} failed:\n{outcome.output[-4000:]}"
    assert api_gateway.seen and all(call["headers"].get("authorization", "").startswith("AWS4-HMAC-SHA256")
                                    for call in api_gateway.seen)
