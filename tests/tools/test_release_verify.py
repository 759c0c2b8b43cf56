"""The verified release (tools/release/verify.py) against the emulator: an endpoint on the configuration the apply
created passes; one that SageMaker (here: someone, out of band) put back on the old configuration fails, naming
both configurations, their models and artifacts, with exit 1; and the smoke call through the API must answer.

The emulator is moto's server with the SageMaker operations tools/emulator_server.py adds (UpdateEndpoint is
what a rollback calls, and moto 5.2.5 lacks it).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import boto3
import pytest

from tests.conftest import PROJECT_ROOT
from tools.api_client import ApiCallError, ApiClient, ApiResponse
from tools.emulator import start_emulator
from tools.release.verify import Applied, endpoint_differences, smoke_differences

pytestmark = pytest.mark.emulator
REGION, ENDPOINT, ROLE = "eu-west-1", "inference-local-inference", "arn:aws:iam::123456789012:role/ep-sagemaker"


@pytest.fixture(scope="module")
def emulator():
    with start_emulator(reuse=False, state_file=Path("/nonexistent/emulator.json")) as running:
        yield running


@pytest.fixture
def sagemaker(emulator):
    client = boto3.client(
        "sagemaker",
        endpoint_url=emulator.url,
        region_name=REGION,
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    yield client
    for endpoint in client.list_endpoints()["Endpoints"]:
        client.delete_endpoint(EndpointName=endpoint["EndpointName"])


def _release(sagemaker, version: str) -> tuple[str, str, str]:
    """A model and an endpoint configuration of VERSION, as the inference stack names them."""
    model, config = f"{ENDPOINT}-model{version.replace('.', '')}", f"{ENDPOINT}-config{version.replace('.', '')}"
    artifact = f"s3://inference-local-artifacts/models/inference/{version}/model.tar.gz"
    sagemaker.create_model(
        ModelName=model,
        ExecutionRoleArn=ROLE,
        PrimaryContainer={"Image": "repo/inference:1.0.0", "ModelDataUrl": artifact},
    )
    sagemaker.create_endpoint_config(
        EndpointConfigName=config,
        ProductionVariants=[
            {
                "VariantName": "primary",
                "ModelName": model,
                "ServerlessConfig": {"MemorySizeInMB": 2048, "MaxConcurrency": 2},
            }
        ],
    )
    return model, config, artifact


@pytest.fixture
def released(sagemaker) -> tuple[Applied, Applied]:
    """Version 1.0.0 deployed, then 2.0.0 applied (UpdateEndpoint, as Terraform does): (before, applied)."""
    old_model, old_config, old_artifact = _release(sagemaker, "1.0.0")
    sagemaker.create_endpoint(EndpointName=ENDPOINT, EndpointConfigName=old_config)
    model, config, artifact = _release(sagemaker, "2.0.0")
    sagemaker.update_endpoint(EndpointName=ENDPOINT, EndpointConfigName=config)
    return (Applied(ENDPOINT, old_config, old_model, old_artifact), Applied(ENDPOINT, config, model, artifact))


def test_an_endpoint_on_the_configuration_the_apply_created_is_verified(sagemaker, released):
    _, applied = released
    assert endpoint_differences(sagemaker, applied) == []


def test_a_silent_rollback_fails_verification_naming_both_configurations_models_and_artifacts(sagemaker, released):
    before, applied = released
    sagemaker.update_endpoint(EndpointName=ENDPOINT, EndpointConfigName=before.configuration_name)  # out of band

    [difference] = endpoint_differences(sagemaker, applied)

    assert difference.startswith(
        f"endpoint {ENDPOINT} serves configuration {before.configuration_name} (model "
        f"{before.model_name}, artifact {before.artifact_uri}), not "
        f"{applied.configuration_name} (model {applied.model_name}, artifact "
        f"{applied.artifact_uri}) that the apply created"
    )


def test_a_rollback_onto_a_configuration_the_apply_deleted_says_it_no_longer_exists(sagemaker, released):
    before, applied = released
    sagemaker.update_endpoint(EndpointName=ENDPOINT, EndpointConfigName=before.configuration_name)
    sagemaker.delete_endpoint_config(EndpointConfigName=before.configuration_name)  # create_before_destroy's delete

    [difference] = endpoint_differences(sagemaker, applied)

    assert (
        f"serves configuration {before.configuration_name} (deleted: the endpoint runs on a configuration that "
        "no longer exists)" in difference
    )


def test_a_configuration_holding_another_model_than_the_apply_set_is_named(sagemaker, released):
    before, applied = released
    wrong = Applied(ENDPOINT, applied.configuration_name, before.model_name, applied.artifact_uri)
    assert endpoint_differences(sagemaker, wrong) == [
        f"configuration {applied.configuration_name}: production variant runs {applied.model_name}, the apply set "
        f"{before.model_name}",
        f"model {before.model_name} loads {before.artifact_uri}, not {applied.artifact_uri}",
    ]


def test_a_missing_endpoint_is_a_difference_not_a_crash(sagemaker):
    assert endpoint_differences(sagemaker, Applied("nope", "c", "m", "s3://b/k")) == [
        "endpoint nope: cannot describe it (ValidationException)"
    ]


def test_the_cli_exits_1_with_one_line_per_difference_and_0_once_the_release_is_back(
    emulator, sagemaker, released, tmp_path
):
    before, applied = released
    outputs = tmp_path / "outputs.json"
    outputs.write_text(
        json.dumps(
            {
                "inference": {
                    "endpoint_name": ENDPOINT,
                    "endpoint_configuration_name": applied.configuration_name,
                    "model_name": applied.model_name,
                    "model_artifact_uri": applied.artifact_uri,
                }
            }
        )
    )
    env = {
        **os.environ,
        "AWS_ENDPOINT_URL": emulator.url,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "PIPELINE_ENV": "local",
    }

    def verify():
        return subprocess.run(
            [sys.executable, "-m", "tools.release", "verify", "--outputs", str(outputs), "--no-smoke"],
            cwd=PROJECT_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    sagemaker.update_endpoint(EndpointName=ENDPOINT, EndpointConfigName=before.configuration_name)
    rolled_back = verify()
    assert rolled_back.returncode == 1, rolled_back.stderr
    assert [line for line in rolled_back.stdout.splitlines() if line.startswith("DIFFERS")] == [
        f"DIFFERS {endpoint_differences(sagemaker, applied)[0]}"
    ]
    assert rolled_back.stdout.rstrip().endswith("NOT VERIFIED: 1 difference(s)")

    sagemaker.update_endpoint(EndpointName=ENDPOINT, EndpointConfigName=applied.configuration_name)
    restored = verify()
    assert (restored.returncode, restored.stdout.rstrip().splitlines()[-1]) == (0, "verified"), restored.stdout


def test_the_cli_exits_2_when_the_outputs_do_not_name_the_release(tmp_path):
    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps({"inference": {"endpoint_name": ENDPOINT}}))
    proc = subprocess.run(
        [sys.executable, "-m", "tools.release", "verify", "--outputs", str(outputs), "--no-smoke"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PIPELINE_ENV": "local"},
    )
    assert proc.returncode == 2
    assert (
        "the inference stack's outputs lack endpoint_configuration_name, model_name, model_artifact_uri" in proc.stderr
    )


# --- the smoke call --------------------------------------------------------------------------------------------


def _answering(status: int, body) -> callable:
    return lambda method, path, request: ApiResponse(status=status, body=body, headers={})


def test_the_smoke_call_passes_on_200_with_predictions_and_names_any_other_answer():
    request = {"instances": [[5.1, 3.5, 1.4, 0.2]]}
    assert smoke_differences(_answering(200, {"predictions": [{"label": "setosa"}]}), request)[0] == []
    assert smoke_differences(_answering(502, {"message": "the model is unavailable; retry later"}), request)[0] == [
        'POST /v1/predict answered 502, not 200: {"message": "the model is unavailable; retry later"}'
    ]
    assert smoke_differences(_answering(200, {"predictions": []}), request)[0] == [
        'POST /v1/predict answered 200 without predictions: {"predictions": []}'
    ]


class _Recorder(BaseHTTPRequestHandler):
    seen: list = []

    def do_POST(self):  # noqa: N802 (http.server's naming)
        body = self.rfile.read(int(self.headers["content-length"]))
        _Recorder.seen.append((self.path, dict(self.headers), body))
        answer = json.dumps({"predictions": [{"label": "setosa"}], "model_version": "iris-1"}).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args):
        pass


@pytest.fixture
def api():
    server = HTTPServer(("127.0.0.1", 0), _Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    _Recorder.seen.clear()
    yield f"http://127.0.0.1:{server.server_port}/"
    server.shutdown()


def test_the_api_client_signs_iam_calls_for_execute_api_and_sends_jwt_as_a_bearer_token(api):
    session = boto3.session.Session(aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="secret", region_name=REGION)
    answer = ApiClient(api, "iam", REGION, session=session).request("POST", "/v1/predict", {"instances": [[1]]})
    assert (answer.status, answer.body["model_version"]) == (200, "iris-1")
    path, headers, body = _Recorder.seen[-1]
    assert (path, json.loads(body)) == ("/v1/predict", {"instances": [[1]]})
    assert headers["Authorization"].startswith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")
    assert f"/{REGION}/execute-api/aws4_request" in headers["Authorization"]
    ApiClient(api, "jwt", REGION, token="header.payload.signature").request("POST", "/v1/predict", {})
    assert _Recorder.seen[-1][1]["Authorization"] == "Bearer header.payload.signature"


def test_a_jwt_api_without_a_token_and_an_unreachable_api_are_one_line_errors(monkeypatch):
    monkeypatch.delenv("PIPELINE_API_TOKEN", raising=False)
    with pytest.raises(ApiCallError, match="auth = 'jwt' needs a token: set PIPELINE_API_TOKEN"):
        ApiClient("https://api.example.com/", "jwt", REGION)
    with pytest.raises(ApiCallError, match="POST http://127.0.0.1:9/v1/predict: "):
        ApiClient("http://127.0.0.1:9/", "none", REGION, timeout=2).request("POST", "/v1/predict", {})


def test_the_e2e_rollback_simulation_is_caught_by_verify_and_leaves_the_release_in_place(emulator, sagemaker, released):
    from tools.local.release import _describe_release, _simulate_silent_rollback

    before, applied = released
    previous = _describe_release(sagemaker, before)
    sagemaker.delete_endpoint_config(EndpointConfigName=before.configuration_name)  # what the apply deletes
    sagemaker.delete_model(ModelName=before.model_name)

    line = _simulate_silent_rollback(sagemaker, previous, applied, emulator.url, PROJECT_ROOT / "config" / "local.toml")

    assert line.startswith(f"DIFFERS endpoint {ENDPOINT} serves configuration {before.configuration_name} (deleted: ")
    assert sagemaker.describe_endpoint(EndpointName=ENDPOINT)["EndpointConfigName"] == applied.configuration_name


def test_make_verify_local_without_a_local_deployment_says_so_and_exits_1(monkeypatch, capsys):
    """`make verify-local` runs `python -m tools.release verify --local`: its code path imports the local loop's
    verification for real (a wrong import once made it crash), and with no deployment recorded it names the fix."""
    import tools.local.__main__ as local_loop
    from tools.release import cli

    monkeypatch.setenv("PIPELINE_ENV", "local")
    monkeypatch.setattr(local_loop, "read_session", lambda: None)

    assert cli.main(["verify", "--local"]) == cli.EXIT_REFUSED
    said = capsys.readouterr().out
    assert "DIFFERS no local deployment recorded (.build/local-deploy.json): run `make deploy-local` first" in said


def test_a_local_release_goes_to_the_recorded_emulator_and_without_one_is_refused(
    emulator, tmp_path, monkeypatch, capsys
):
    """`make release` on an environment without allowed_account_ids (local) uploads to the emulator of
    `make deploy-local`, never to the account the shell's credentials reach (local's bucket names carry no account
    id); with no deployment recorded it is refused before any call."""
    import tools.local.__main__ as local_loop
    from tools.release import cli

    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "metadata.json").write_text('{"model_version": "iris-x"}\n')
    config = tmp_path / "local.toml"
    config.write_text((PROJECT_ROOT / "config" / "local.toml").read_text())
    monkeypatch.delenv("PIPELINE_ENV", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.setenv("PIPELINE_CONFIG", str(config))
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAREALLOOKING00000")  # what a shell with real credentials has
    monkeypatch.setattr(local_loop, "read_session", lambda: None)
    archive_args = ["package", str(tmp_path / "model"), "--output", str(tmp_path)]
    assert cli.main(archive_args) == 0
    archive = str(tmp_path / "model.tar.gz")

    assert cli.main(["upload", archive, "--version", "9.9.9"]) == cli.EXIT_REFUSED
    assert "no local deployment is recorded (.build/local-deploy.json): run `make deploy-local` first" in (
        capsys.readouterr().err
    )

    s3 = boto3.client(
        "s3", endpoint_url=emulator.url, region_name=REGION, aws_access_key_id="test", aws_secret_access_key="test"
    )
    s3.create_bucket(Bucket="inference-local-artifacts", CreateBucketConfiguration={"LocationConstraint": REGION})
    monkeypatch.setattr(local_loop, "read_session", lambda: {"emulator_url": emulator.url})

    assert cli.main(["upload", archive, "--version", "9.9.9"]) == 0
    s3.head_object(Bucket="inference-local-artifacts", Key="models/inference/9.9.9/model.tar.gz")
