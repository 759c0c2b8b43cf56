"""The local AWS emulator: started on loopback, reused when one already answers, stopped only by its owner."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import boto3
import pytest

from tools import emulator as emulator_module
from tools.emulator import (
    EMULATED_SERVICES,
    Emulator,
    EmulatorError,
    answers,
    find_running,
    free_loopback_port,
    provider_settings,
    start_emulator,
    terraform_provider_endpoints,
    write_record,
)

PROJECT_ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.emulator


@pytest.fixture(autouse=True)
def _no_inherited_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    """A developer's MOTO_ENDPOINT must not decide which emulator these tests talk to."""
    monkeypatch.delenv(emulator_module.ENDPOINT_ENV, raising=False)


def test_a_started_emulator_answers_aws_calls_on_loopback_and_is_gone_after_the_context(tmp_path: Path) -> None:
    with start_emulator(reuse=False, state_file=tmp_path / "none.json") as emulator:
        assert emulator.url.startswith("http://127.0.0.1:")
        assert emulator.owned
        s3 = boto3.client("s3", endpoint_url=emulator.url, region_name="us-east-1",
                          aws_access_key_id="test", aws_secret_access_key="test")
        s3.create_bucket(Bucket="emulator-smoke")
        assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == ["emulator-smoke"]
        emulator.reset()
        assert s3.list_buckets()["Buckets"] == []
    assert not answers(emulator.url)


def test_an_emulator_recorded_in_the_state_file_is_reused_and_not_stopped_by_the_reuser(tmp_path: Path) -> None:
    state_file = tmp_path / "emulator.json"
    with start_emulator(reuse=False, state_file=state_file) as owner:
        write_record(owner, state_file)
        reused = start_emulator(state_file=state_file)
        assert (reused.url, reused.owned) == (owner.url, False)
        reused.stop()
        assert owner.is_healthy()


def test_a_record_of_an_emulator_that_no_longer_answers_is_ignored(tmp_path: Path) -> None:
    state_file = tmp_path / "emulator.json"
    state_file.write_text(json.dumps({"url": f"http://127.0.0.1:{free_loopback_port()}", "port": 1, "pid": None}))
    assert find_running(state_file) is None
    with start_emulator(state_file=state_file) as fresh:
        assert fresh.owned and fresh.is_healthy()


def test_moto_endpoint_is_reused_when_it_answers(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    with start_emulator(reuse=False, state_file=tmp_path / "none.json") as owner:
        monkeypatch.setenv(emulator_module.ENDPOINT_ENV, owner.url)
        reused = start_emulator(state_file=tmp_path / "none.json")
        assert (reused.port, reused.owned) == (owner.port, False)


def test_a_moto_endpoint_that_does_not_answer_is_an_error_not_a_second_emulator(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(emulator_module.ENDPOINT_ENV, f"http://127.0.0.1:{free_loopback_port()}")
    with pytest.raises(EmulatorError, match="does not answer"):
        start_emulator(state_file=tmp_path / "none.json")


def test_a_moto_endpoint_off_this_machine_is_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(emulator_module.ENDPOINT_ENV, "http://10.0.0.5:5000")
    with pytest.raises(EmulatorError, match="not on loopback"):
        start_emulator(state_file=tmp_path / "none.json")


def test_stopping_an_emulator_this_process_did_not_start_leaves_it_running(tmp_path: Path) -> None:
    with start_emulator(reuse=False, state_file=tmp_path / "none.json") as owner:
        Emulator(url=owner.url, port=owner.port, pid=owner.pid, owned=False).stop()
        assert owner.is_healthy()


def test_the_cli_starts_reports_and_stops_a_background_emulator(tmp_path: Path) -> None:
    state_file = tmp_path / "emulator.json"

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "tools.emulator", "--state-file", str(state_file), *args],
                              cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60, check=False)

    assert cli("status").returncode == 1
    started = cli("start")
    try:
        assert started.returncode == 0, started.stderr
        record = json.loads(state_file.read_text())
        assert record["url"] == f"http://127.0.0.1:{record['port']}"
        assert answers(record["url"])
        assert "already running" in cli("start").stdout
        status = cli("status")
        assert status.returncode == 0 and record["url"] in status.stdout
    finally:
        stopped = cli("stop")
    assert stopped.returncode == 0 and "stopped" in stopped.stdout
    assert not state_file.exists()
    assert not answers(record["url"])


def test_stop_never_kills_a_process_that_merely_reuses_a_recorded_pid(tmp_path: Path) -> None:
    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        state_file = tmp_path / "emulator.json"
        state_file.write_text(json.dumps({"url": "http://127.0.0.1:9", "port": 9, "pid": bystander.pid}))
        stopped = subprocess.run([sys.executable, "-m", "tools.emulator", "--state-file", str(state_file), "stop"],
                                 cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60, check=False)
        assert "was not running" in stopped.stdout
        assert bystander.poll() is None
    finally:
        bystander.kill()
        bystander.wait()


def test_provider_settings_send_every_service_to_the_emulator_with_placeholder_credentials() -> None:
    url = "http://127.0.0.1:4566"
    settings = provider_settings(url)
    assert settings["access_key"] == settings["secret_key"] == "test"
    assert settings["skip_credentials_validation"] and settings["skip_requesting_account_id"]
    assert settings["skip_metadata_api_check"] == "true"
    assert settings["s3_use_path_style"]
    assert settings["endpoints"] == [terraform_provider_endpoints(url)]
    assert set(terraform_provider_endpoints(url).values()) == {url}
    used_by_the_stacks = {"s3", "sqs", "sns", "kms", "iam", "sts", "ec2", "ecr", "ecs", "elbv2", "logs",
                          "cloudwatch", "lambda", "sagemaker", "apigatewayv2", "appautoscaling", "dynamodb", "xray"}
    assert used_by_the_stacks <= set(EMULATED_SERVICES)


@pytest.mark.terraform
def test_every_emulated_service_is_an_endpoint_the_aws_provider_accepts(aws_provider_schema: dict) -> None:
    provider = aws_provider_schema["provider"]["block"]
    accepted = set(provider["block_types"]["endpoints"]["block"]["attributes"])
    assert set(EMULATED_SERVICES) - accepted == set()
    assert set(provider_settings("http://x")) - {"endpoints"} <= set(provider["attributes"])


def test_a_repeated_identical_create_function_is_answered_as_the_first_and_any_other_conflict_stays_a_409(
    tmp_path: Path,
) -> None:
    """The SDK repeats a request whose answer it lost; the AWS provider would then retry the 409 of a function the
    first request created for two minutes and fail (tools/emulator_server.py)."""
    import io
    import zipfile

    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("handler.py", "def handler(event, context):\n    return event\n")
    with start_emulator(reuse=False, state_file=tmp_path / "none.json") as emulator:
        clients = {name: boto3.client(name, endpoint_url=emulator.url, region_name="us-east-1",
                                      aws_access_key_id="test", aws_secret_access_key="test") for name in ("iam", "lambda")}
        role = clients["iam"].create_role(RoleName="fn", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        create = {"FunctionName": "fn", "Runtime": "python3.12", "Role": role, "Handler": "handler.handler",
                  "Code": {"ZipFile": code.getvalue()}}

        first = clients["lambda"].create_function(**create)
        repeated = clients["lambda"].create_function(**create)
        with pytest.raises(clients["lambda"].exceptions.ResourceConflictException):
            clients["lambda"].create_function(**create, MemorySize=512)
        clients["lambda"].delete_function(FunctionName="fn")
        recreated = clients["lambda"].create_function(**create)

        assert repeated["FunctionArn"] == first["FunctionArn"] and repeated["CodeSha256"] == first["CodeSha256"]
        assert clients["lambda"].get_function(FunctionName="fn")["Configuration"]["FunctionName"] == "fn"
        assert recreated["FunctionArn"] == first["FunctionArn"]
