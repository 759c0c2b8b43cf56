"""The queue consumer against the emulator's queue: jobs through the shared job library, the heartbeat, poison
and retryable failures, duplicates, a stop (SIGTERM) with jobs in hand, and task protection through a fake agent.

The pipeline's work queue redrives to its dead-letter queue after 2 receives (tests/lambdas/conftest.py)."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
import uuid
from typing import Any

import pytest

from containers.inference.queue_worker import health
from containers.inference.queue_worker.consumer import Consumer, Settings
from lambdas import contract, jobs
from tests.containers.queue_worker.conftest import run_until
from tests.lambdas.scripted_server import scripted_server

SETOSA = [5.1, 3.5, 1.4, 0.2]
ANSWER = json.dumps({"predictions": [{"label": "setosa"}], "model_version": "scripted-1"}).encode()


def job(**overrides) -> dict:
    return {
        "job_id": str(uuid.uuid4()),
        "model": "iris",
        "priority": "normal",
        "inputs": {"instances": [SETOSA]},
        **overrides,
    }


def send(pipeline, body: dict | str) -> None:
    pipeline.sqs.send_message(
        QueueUrl=pipeline.work_queue, MessageBody=body if isinstance(body, str) else json.dumps(body)
    )


def results(pipeline) -> list[str]:
    return pipeline.keys("results/")


# --- jobs -------------------------------------------------------------------------------------------------------


def test_a_job_is_processed_stored_announced_and_only_then_deleted(pipeline, http_model, make_consumer) -> None:
    work = job()
    send(pipeline, work)

    run_until(make_consumer(), lambda: pipeline.count(pipeline.work_queue) == 0)

    result = pipeline.read_json(contract.result_key(work["job_id"]))
    assert result["status"] == "succeeded" and result["result"]["predictions"][0]["label"] == "setosa"
    [notice] = pipeline.receive(pipeline.notifications_queue)
    assert json.loads(notice["Body"])["job_id"] == work["job_id"]


def test_a_large_job_reads_its_inputs_from_the_stored_request(pipeline, http_model, make_consumer) -> None:
    job_id = str(uuid.uuid4())
    pipeline.s3.put_object(
        Bucket=pipeline.bucket,
        Key=contract.request_key(job_id),
        Body=json.dumps({"job_id": job_id, "inputs": {"instances": [SETOSA]}}).encode(),
    )
    send(
        pipeline, {"job_id": job_id, "model": "iris", "priority": "normal", "request_key": contract.request_key(job_id)}
    )

    run_until(make_consumer(), lambda: pipeline.count(pipeline.work_queue) == 0)

    assert pipeline.read_json(contract.result_key(job_id))["status"] == "succeeded"


def test_the_sagemaker_backend_calls_the_endpoint_named_in_the_environment(
    pipeline, sagemaker_model: dict[str, Any], make_consumer
) -> None:
    work = job()
    send(pipeline, work)

    run_until(make_consumer(), lambda: pipeline.count(pipeline.work_queue) == 0)

    assert pipeline.read_json(contract.result_key(work["job_id"]))["result"] == sagemaker_model


def test_an_async_endpoint_gets_the_job_and_the_message_is_deleted_once_handed_off(
    pipeline, monkeypatch: pytest.MonkeyPatch, make_consumer
) -> None:
    monkeypatch.setenv(contract.MODEL_BACKEND, contract.BACKEND_SAGEMAKER_ASYNC)
    monkeypatch.setenv(contract.ENDPOINT_NAME, "iris-async")
    work = job()
    send(pipeline, work)

    run_until(make_consumer(), lambda: pipeline.count(pipeline.work_queue) == 0)

    assert pipeline.keys("async/input/") == [contract.async_input_key(work["job_id"])]
    assert results(pipeline) == []


def test_a_duplicate_delivery_gives_one_result_and_one_notice(pipeline, http_model, make_consumer) -> None:
    work = job()
    send(pipeline, work)
    send(pipeline, work)

    run_until(make_consumer(batch_size=1), lambda: pipeline.count(pipeline.work_queue) == 0)

    assert results(pipeline) == [contract.result_key(work["job_id"])]
    assert len(pipeline.receive(pipeline.notifications_queue)) == 1


def test_a_finished_job_frees_its_slot_for_the_next_receive(
    pipeline, http_model, make_consumer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """GIVEN two slots and one job WHEN the job has ended and the queue is empty THEN the next receives ask for two
    messages again, not one."""
    send(pipeline, job())
    consumer = make_consumer(batch_size=2)
    asked: list[int] = []
    real_receive = consumer._receive

    def counting_receive(count: int) -> list[dict]:
        asked.append(count)
        return real_receive(count)

    monkeypatch.setattr(consumer, "_receive", counting_receive)

    run_until(consumer, lambda: pipeline.count(pipeline.work_queue) == 0 and len(asked) >= 3)

    assert asked[0] == 2 and asked[-1] == 2, asked


# --- failures ---------------------------------------------------------------------------------------------------


def test_a_poison_message_reaches_the_dead_letter_queue_at_once_and_stores_nothing(
    pipeline, http_model, make_consumer
) -> None:
    send(pipeline, "{not json")

    seconds = run_until(
        make_consumer(retry_base_seconds=60, retry_max_seconds=60),
        lambda: pipeline.count(pipeline.dead_letter_queue) == 1,
    )

    assert seconds < 20, "a poison message is made visible again at once, not after a retry delay"
    assert results(pipeline) == []
    [dead] = pipeline.receive(pipeline.dead_letter_queue)
    assert dead["Body"] == "{not json"


def test_a_retryable_failure_is_left_invisible_for_its_backoff(pipeline, make_consumer, monkeypatch) -> None:
    with scripted_server(status=503, body=b'{"error": "warming up"}') as model:
        monkeypatch.setenv(contract.MODEL_BACKEND, contract.BACKEND_HTTP)
        monkeypatch.setenv(contract.MODEL_URL, model.url)
        send(pipeline, job())

        run_until(make_consumer(retry_base_seconds=3, retry_max_seconds=3), lambda: model.requests == 1)

    assert pipeline.receive(pipeline.work_queue) == [], "hidden for the backoff, not released at once"
    time.sleep(3.5)
    assert len(pipeline.receive(pipeline.work_queue)) == 1
    assert results(pipeline) == []


def test_the_backoff_doubles_per_receive_up_to_its_cap() -> None:
    settings = Settings(queue_url="q", retry_base_seconds=10, retry_max_seconds=300)

    assert [settings.retry_delay(n) for n in (1, 2, 3, 5, 9)] == [10, 20, 40, 160, 300]


def test_when_the_notice_cannot_be_sent_the_result_is_withdrawn_and_the_message_kept(
    pipeline, http_model, make_consumer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(contract.RESULTS_TOPIC_ARN, pipeline.results_topic + "-missing")
    send(pipeline, job())

    run_until(make_consumer(), lambda: pipeline.count(pipeline.dead_letter_queue) == 1)

    assert results(pipeline) == []


# --- the heartbeat ----------------------------------------------------------------------------------------------


def test_the_heartbeat_keeps_a_slow_jobs_message_hidden_past_its_lease(
    pipeline, make_consumer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """GIVEN a 1 s lease and a model that answers in 2.5 s WHEN the job runs with a free slot beside it THEN the
    message is renewed, never delivered a second time, and the model is called once."""
    with scripted_server(delay_seconds=2.5, body=ANSWER) as model:
        monkeypatch.setenv(contract.MODEL_BACKEND, contract.BACKEND_HTTP)
        monkeypatch.setenv(contract.MODEL_URL, model.url)
        monkeypatch.setenv(contract.MODEL_TIMEOUT_SECONDS, "5")
        send(pipeline, job())

        run_until(
            make_consumer(lease_seconds=1, heartbeat_seconds=0.3, batch_size=2),
            lambda: pipeline.count(pipeline.work_queue) == 0,
        )

    assert model.requests == 1
    assert len(results(pipeline)) == 1


# --- stopping: deploys, scale-in, Spot interruptions ------------------------------------------------------------


def test_sigterm_finishes_the_job_in_hand_and_leaves_the_rest_visible(
    pipeline, make_consumer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """GIVEN two jobs, one slot, a 1.5 s model WHEN SIGTERM arrives while the first job runs THEN that job is
    stored and deleted, the second was never taken, and the consumer exits 0."""
    with scripted_server(delay_seconds=1.5, body=ANSWER) as model:
        monkeypatch.setenv(contract.MODEL_BACKEND, contract.BACKEND_HTTP)
        monkeypatch.setenv(contract.MODEL_URL, model.url)
        first, second = job(), job()
        send(pipeline, first)
        consumer = make_consumer(batch_size=1)

        def terminate_once_busy() -> None:
            while model.requests == 0:
                time.sleep(0.02)
            send(pipeline, second)  # arrives while the only slot is taken: never received
            os.kill(os.getpid(), signal.SIGTERM)

        threading.Thread(target=terminate_once_busy, daemon=True).start()
        assert consumer.run() == 0

    assert results(pipeline) == [contract.result_key(first["job_id"])]
    [left] = pipeline.receive(pipeline.work_queue)
    assert json.loads(left["Body"])["job_id"] == second["job_id"]
    assert signal.getsignal(signal.SIGTERM) is not consumer.stop, "the previous handler is restored"


def test_messages_received_while_stopping_are_visible_again_at_once(
    pipeline, http_model, make_consumer, monkeypatch: pytest.MonkeyPatch
) -> None:
    send(pipeline, job())
    consumer = make_consumer(lease_seconds=60)
    real_receive = consumer._receive

    def stop_during_the_long_poll(count: int) -> list[dict]:
        messages = real_receive(count)
        consumer.stop(signal.SIGTERM)  # as if SIGTERM arrived while the receive was in flight
        return messages

    monkeypatch.setattr(consumer, "_receive", stop_during_the_long_poll)

    assert consumer.run() == 0

    assert results(pipeline) == []
    assert len(pipeline.receive(pipeline.work_queue)) == 1, "released, not hidden for the 60 s lease"


# --- task protection (against a fake ECS agent endpoint) ---------------------------------------------------------


def test_the_task_is_protected_while_it_holds_messages_and_released_when_idle(
    pipeline, http_model, make_consumer, fake_agent
) -> None:
    send(pipeline, job())

    run_until(make_consumer(), lambda: len(fake_agent.states) >= 2)

    assert fake_agent.states[0] == {"ProtectionEnabled": True, "ExpiresInMinutes": 10}
    assert fake_agent.states[1] == {"ProtectionEnabled": False}
    assert len(results(pipeline)) == 1


def test_a_refused_protection_does_not_stop_the_work(pipeline, http_model, make_consumer, fake_agent) -> None:
    fake_agent.answer = {"failure": {"Arn": "arn:aws:ecs:task", "Reason": "TASK_NOT_VALID"}}
    send(pipeline, job())

    run_until(make_consumer(), lambda: pipeline.count(pipeline.work_queue) == 0)

    assert len(results(pipeline)) == 1
    assert fake_agent.states[0]["ProtectionEnabled"] is True


def test_an_idle_consumer_that_never_held_a_message_never_calls_the_agent(pipeline, make_consumer, fake_agent) -> None:
    consumer = make_consumer()
    turns = []

    run_until(consumer, lambda: turns.append(1) or len(turns) > 40)

    assert fake_agent.states == []


# --- health -----------------------------------------------------------------------------------------------------


def test_the_loop_keeps_its_health_promise_while_running_and_withdraws_it_on_exit(
    pipeline, make_consumer, tmp_path
) -> None:
    consumer: Consumer = make_consumer()
    seen = []

    run_until(consumer, lambda: seen.append(health.problem(tmp_path / "health")) or len(seen) > 20)

    assert seen[20] is None, "healthy while running"
    assert not (tmp_path / "health").exists(), "no promise left behind by a consumer that exited"


def test_a_broken_promise_or_no_file_is_unhealthy(tmp_path) -> None:
    path = tmp_path / "health"
    assert "has not started" in health.problem(path)
    health.beat(path, next_beat_within=10)
    assert health.problem(path) is None
    assert "late" in health.problem(path, now=time.time() + 60)


def test_the_health_check_command_exits_1_when_unhealthy(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(health.HEALTH_FILE, str(tmp_path / "health"))
    assert health.main() == 1
    health.beat(tmp_path / "health", next_beat_within=10)
    assert health.main() == 0


def test_the_same_verdict_decides_for_both_consumers() -> None:
    assert jobs.verdict(jobs.MalformedJob("x")) == jobs.POISON
    assert jobs.verdict(jobs.model_client.ModelUnavailable("x")) == jobs.RETRY
    assert jobs.verdict(RuntimeError("x")) == jobs.RETRY
