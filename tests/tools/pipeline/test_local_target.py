"""The pipeline CLI against a local deployment: jobs through the deployed topic and queues, results read back,
predict, queue depths, dead letters listed and redriven; errors in one line with the documented exit codes.

The functions' code runs in-process under the deployed environment variables; the model is the image's server.
"""

from __future__ import annotations

import json
import os
import uuid

import pytest

from lambdas import contract
from tools.pipeline.cli import EXIT_FAILED, EXIT_JOB_FAILED, EXIT_OK, EXIT_TIMEOUT, EXIT_USAGE, main

JOB = '{"instances": [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]}'


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def run_json(capsys, *argv: str) -> tuple[int, dict]:
    code, out, err = run(capsys, *argv, "--json")
    assert err == "" or code != EXIT_OK, err
    return code, json.loads(out) if out.strip() else {}


def test_a_job_submitted_inline_is_processed_by_the_deployed_queues_and_its_result_printed(deployment, model_url,
                                                                                         capsys):
    code, result = run_json(capsys, "jobs", "submit", "--inputs", JOB, "--model", "iris", "--wait",
                            "--model-url", model_url)
    assert code == EXIT_OK
    assert result["status"] == contract.STATUS_SUCCEEDED and result["model"] == "iris"
    assert [p["label"] for p in result["result"]["predictions"]] == ["setosa", "virginica"]
    stored = deployment.client("s3").get_object(Bucket=deployment.output("results_bucket_name"),
                                                Key=contract.result_key(result["job_id"]))
    assert json.loads(stored["Body"].read())["status"] == contract.STATUS_SUCCEEDED


def test_a_job_from_a_file_goes_to_the_queue_its_priority_selects_and_is_read_back_by_id(deployment, model_url,
                                                                                       capsys, tmp_path):
    job = tmp_path / "job.json"
    job.write_text(json.dumps({"model": "iris", "inputs": json.loads(JOB), "priority": "high"}))
    code, accepted = run_json(capsys, "jobs", "submit", "--file", str(job))
    assert code == EXIT_OK and accepted["status"] == contract.STATUS_PENDING
    code, depths = run_json(capsys, "queues")
    assert {row["queue"]: row["visible"] for row in depths["queues"]} == {"default": 0, "priority": 1}
    code, pending = run_json(capsys, "jobs", "get", accepted["job_id"])
    assert code == EXIT_OK and pending == {"job_id": accepted["job_id"], "status": contract.STATUS_PENDING}
    code, out, err = run(capsys, "jobs", "wait", accepted["job_id"], "--model-url", model_url)
    assert code == EXIT_OK
    assert out.startswith(f"job {accepted['job_id']}: succeeded after ") and '"label": "setosa"' in out
    assert f"waiting for job {accepted['job_id']}: pending" in err  # progress, on stderr


def test_quiet_submit_prints_only_the_job_id_for_scripts(deployment, capsys):
    code, out, err = run(capsys, "jobs", "submit", "--inputs", JOB, "-q")
    assert code == EXIT_OK and err == ""
    assert str(uuid.UUID(out.strip())) == out.strip()


def test_predict_answers_with_the_model_through_the_deployed_function(deployment, model_url, capsys):
    code, out, _ = run(capsys, "predict", "--file", "examples/predict.json", "--model-url", model_url)
    assert code == EXIT_OK
    assert out.splitlines()[1:] == [f"  instances[0]: setosa ({_score(out, 0)})", f"  instances[1]: virginica "
                                                                                   f"({_score(out, 1)})"]
    code, answer = run_json(capsys, "predict", "--inputs", "[[5.1, 3.5, 1.4, 0.2]]", "--model-url", model_url)
    assert code == EXIT_OK and answer["predictions"][0]["label"] == "setosa"


def _score(out: str, index: int) -> str:
    return out.splitlines()[1 + index].rsplit("(", 1)[1].rstrip(")")


def test_a_job_the_model_cannot_serve_ends_in_the_dead_letter_queue_and_a_redrive_after_the_fix_finishes_it(
        deployment, model_url, dead_model_url, capsys):
    code, out, _ = run(capsys, "jobs", "submit", "--file", "examples/job.json", "-q")
    job_id = out.strip()
    code, worked = run_json(capsys, "work", "--model-url", dead_model_url, "--timeout", "60")
    # Every try fails; the emulator moves the message once it was received max_receive_count times.
    assert code == EXIT_OK and worked["succeeded"] == 0 and worked["failed"] >= 1 and worked["left"] == 0

    code, letters = run_json(capsys, "dlq", "list")
    by_queue = {entry["queue"]: entry["messages"] for entry in letters["dead_letter_queues"]}
    assert [(m["job_id"], m["model"], m["priority"]) for m in by_queue["default"]] == [(job_id, "iris", "normal")]
    assert by_queue["priority"] == []
    code, again = run_json(capsys, "dlq", "list", "default")  # listing leaves the messages where they are
    assert [m["message_id"] for m in again["dead_letter_queues"][0]["messages"]] == \
        [m["message_id"] for m in by_queue["default"]]
    code, depths = run_json(capsys, "queues")
    assert {row["queue"]: row["dead_letters"] for row in depths["queues"]} == {"default": 1, "priority": 0}

    code, redriven = run_json(capsys, "dlq", "redrive", "default")
    assert redriven == {"queue": "default", "moved": 1, "method": "copy"}
    code, result = run_json(capsys, "jobs", "wait", job_id, "--model-url", model_url)
    assert code == EXIT_OK and result["status"] == contract.STATUS_SUCCEEDED
    code, depths = run_json(capsys, "queues")
    assert all(row["visible"] == row["dead_letters"] == 0 for row in depths["queues"])


def test_a_job_the_model_refuses_is_final_and_exits_3(deployment, model_url, capsys):
    code, result = run_json(capsys, "jobs", "submit", "--inputs", "[[1, 2, 3]]", "--model", "iris", "--wait",
                            "--model-url", model_url)
    assert code == EXIT_JOB_FAILED
    assert result["status"] == contract.STATUS_FAILED and "expected 4" in result["error"]


def test_waiting_longer_than_the_timeout_exits_4_with_the_status(deployment, dead_model_url, capsys):
    code, out, _ = run(capsys, "jobs", "submit", "--inputs", JOB, "--wait", "--timeout", "1",
                       "--model-url", dead_model_url)
    assert code == EXIT_TIMEOUT and " still pending after " in out


@pytest.mark.parametrize(("argv", "code", "message"), [
    (["jobs", "submit", "--inputs", '{"rows": [[1, 2]]}'], EXIT_FAILED,
     'error: POST /v1/jobs answered 400: expected a non-empty "instances" list of feature rows (field inputs.instances)'),
    (["jobs", "submit", "--inputs", "[[1, 2"], EXIT_USAGE, "error: the inputs is not valid JSON: "),
    (["jobs", "submit", "--file", "no/such.json"], EXIT_USAGE, "error: --file no/such.json: no such file"),
    (["jobs", "get", "not-a-uuid"], EXIT_FAILED,
     "error: GET /v1/jobs/not-a-uuid answered 400: job id must be a UUID like 3f1c0b7e-5d2a-4e8b-9c1f-2a7d6e4b8c90"),
    (["jobs", "get", "3f1c0b7e-5d2a-4e8b-9c1f-2a7d6e4b8c90"], EXIT_FAILED,
     "error: GET /v1/jobs/3f1c0b7e-5d2a-4e8b-9c1f-2a7d6e4b8c90 answered 404: no job 3f1c0b7e-5d2a-4e8b-9c1f-2a7d6e4b8c90"),
    (["dlq", "redrive", "urgent"], EXIT_FAILED, "error: no work queue 'urgent'; allowed: default, priority"),
    (["--env", "dev", "--target", "local", "queues"], EXIT_FAILED,
     "error: the local deployment ("),
    (["--env", "staging", "queues"], EXIT_USAGE, "error: PIPELINE_ENV=staging: no file config/staging.toml"),
], ids=["refused-by-the-handler", "bad-json", "missing-file", "bad-id", "unknown-job", "unknown-queue",
        "other-environment", "unknown-environment"])
def test_every_error_is_one_line_with_its_exit_code(deployment, capsys, argv, code, message):
    returned, out, err = run(capsys, *argv)
    assert returned == code
    assert err.startswith(message) and err.count("\n") == 1, err
    assert out == ""


def test_without_a_local_deployment_the_cli_says_what_to_run(deployment, capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("PIPELINE_LOCAL_DEPLOYMENT", str(tmp_path / "none.json"))
    code, out, err = run(capsys, "queues")
    assert code == EXIT_FAILED and "does not exist): run `make deploy-local` first" in err


def test_info_names_the_target_region_and_queues(deployment, capsys):
    code, info = run_json(capsys, "info")
    assert code == EXIT_OK
    assert (info["environment"], info["target"], info["region"]) == ("local", "local", "eu-west-1")
    assert [queue["name"] for queue in info["queues"]] == ["default", "priority"]


def test_the_pipeline_script_runs_from_any_directory_in_the_project_environment(deployment, tmp_path):
    import subprocess

    from tests.conftest import PROJECT_ROOT

    job = tmp_path / "mine.json"
    job.write_text('{"model": "iris", "inputs": {"instances": [[5.1, 3.5, 1.4, 0.2]]}}')
    env = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "VIRTUAL_ENV")}
    proc = subprocess.run([str(PROJECT_ROOT / "pipeline"), "jobs", "submit", "--file", "mine.json", "--json"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == EXIT_OK, proc.stderr
    assert json.loads(proc.stdout)["status"] == contract.STATUS_PENDING  # the relative --file is the caller's
