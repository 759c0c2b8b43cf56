"""The image's `work` command as ECS runs it (`python /opt/program/serve.py work`, lambdas/ beside serve.py), here
`python containers/inference/serve.py work` with the repository root standing in for /opt/program's lambdas/:
a Fargate Spot interruption (SIGTERM, two minutes before the task is stopped) while a job runs, and the task
definition's health check command run from the image's working directory."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from lambdas import contract
from tests.lambdas.scripted_server import scripted_server

PROJECT_ROOT = Path(__file__).resolve().parents[3]
IMAGE_PROGRAM = PROJECT_ROOT / "containers" / "inference"  # /opt/program in the image
ANSWER = json.dumps({"predictions": [{"label": "setosa"}], "model_version": "scripted-1"}).encode()


def test_a_spot_interruption_lets_the_job_in_hand_finish_and_the_process_exit_0(
    pipeline, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with scripted_server(delay_seconds=2.0, body=ANSWER) as model:
        monkeypatch.setenv(contract.MODEL_BACKEND, contract.BACKEND_HTTP)
        monkeypatch.setenv(contract.MODEL_URL, model.url)
        monkeypatch.setenv(contract.QUEUE_BATCH_SIZE, "1")
        monkeypatch.setenv("HEALTH_FILE", str(tmp_path / "health"))
        monkeypatch.setenv("PYTHONPATH", str(PROJECT_ROOT))
        job_id = str(uuid.uuid4())
        pipeline.sqs.send_message(QueueUrl=pipeline.work_queue, MessageBody=json.dumps(
            {"job_id": job_id, "model": "iris", "priority": "normal", "inputs": {"instances": [[5.1, 3.5, 1.4, 0.2]]}}))
        log = tmp_path / "work.log"
        with log.open("wb") as out:
            process = subprocess.Popen([sys.executable, str(IMAGE_PROGRAM / "serve.py"), contract.WORK_COMMAND],
                                       cwd=IMAGE_PROGRAM, env=dict(os.environ), stdout=out, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 30
            while model.requests == 0 and time.monotonic() < deadline and process.poll() is None:
                time.sleep(0.05)
            assert model.requests == 1, f"the job never reached the model: {log.read_text()[-2000:]}"
            healthy = subprocess.run([sys.executable, "-m", "queue_worker.health"], cwd=IMAGE_PROGRAM,
                                     env=dict(os.environ), capture_output=True, text=True, timeout=30)
            process.send_signal(signal.SIGTERM)  # what ECS sends on a Spot interruption, a scale-in or a deploy
            stopped_at = time.monotonic()
            code = process.wait(timeout=30)
        finally:
            if process.poll() is None:
                process.kill()
    lines = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]

    assert healthy.returncode == 0, healthy.stderr
    assert code == 0, log.read_text()[-2000:]
    assert time.monotonic() - stopped_at < 25, "a stop waits for one long poll and the job in hand, no more"
    assert pipeline.read_json(contract.result_key(job_id))["status"] == "succeeded"
    assert pipeline.count(pipeline.work_queue) == 0, "the finished job's message was deleted"
    messages = [line["message"] for line in lines]
    assert messages.index("stopping: no new receives, finishing the jobs in hand") < messages.index("job processed")
    assert messages[-1] == "stopped"
