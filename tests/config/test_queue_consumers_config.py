"""Who consumes the work queues, and what the queue worker and an asynchronous endpoint need from the config:
each rule one line naming the field and what is allowed."""

from __future__ import annotations

import pytest

from modules.config import ConfigError
from modules.config.compute import ComputeConfig
from tests.config.config_text import load_config_text, shipped_config_text

DEV = shipped_config_text("dev")
LOCAL = shipped_config_text("local")
QUEUES = ("default", "priority")


def _refused(tmp_path, text: str, name: str = "dev.toml") -> str:
    with pytest.raises(ConfigError) as error:
        load_config_text(tmp_path, text, name)
    return str(error.value)


def _with_compute(text: str, lines: str) -> str:
    return text.replace("[compute.lambdas]\n", f"[compute.lambdas]\n{lines}\n", 1)


# --- one consumer per queue ---------------------------------------------------------------------------------------


def test_by_default_the_queue_worker_takes_the_first_queue_and_the_worker_function_the_rest() -> None:
    compute = ComputeConfig()

    assert compute.worker_queue_for_fargate(QUEUES) == "default"
    assert compute.lambda_worker_queues(QUEUES) == ("priority",)
    assert compute.consumer_problems(QUEUES) == []


def test_without_a_queue_worker_the_worker_function_takes_every_queue() -> None:
    compute = ComputeConfig(queue_worker={"enabled": False})

    assert compute.worker_queue_for_fargate(QUEUES) is None
    assert compute.lambda_worker_queues(QUEUES) == QUEUES


def test_a_queue_claimed_by_both_consumers_is_one_line_naming_both_fields(tmp_path) -> None:
    message = _refused(tmp_path, _with_compute(DEV, 'worker_queues = ["default", "priority"]'))

    assert (
        "compute: work queue 'default' is claimed by both compute.lambdas.worker_queues and "
        "compute.queue_worker.queue; a queue has exactly one consumer"
    ) in message
    assert "\n" not in message


def test_a_queue_claimed_by_nobody_is_one_line_naming_where_to_claim_it(tmp_path) -> None:
    message = _refused(tmp_path, _with_compute(DEV, "worker_queues = []"))

    assert (
        "compute: work queue(s) 'priority' have no consumer; list them in compute.lambdas.worker_queues (the "
        "worker function) or set compute.queue_worker.queue (the queue worker)"
    ) in message


def test_a_disabled_queue_worker_leaves_its_queue_to_the_worker_functions_list(tmp_path) -> None:
    text = _with_compute(DEV, 'worker_queues = ["priority"]').replace(
        "[compute.queue_worker]\n", "[compute.queue_worker]\nenabled = false\n"
    )

    assert "work queue(s) 'default' have no consumer" in _refused(tmp_path, text)


@pytest.mark.parametrize(
    ("queue_worker", "reserved", "refused"),
    [
        (True, 4, True),  # one queue (priority) x 5
        (True, 5, False),
        (False, 9, True),  # two queues x 5
        (False, 10, False),
        (False, 0, True),  # 0 throttles every batch back into its queue
    ],
)
def test_the_workers_reservation_must_cover_what_its_event_sources_invoke_at_once(
    queue_worker: bool, reserved: int, refused: bool
) -> None:
    compute = ComputeConfig(
        queue_worker={"enabled": queue_worker},
        lambdas={"functions": {"worker": {"timeout_seconds": 30, "reserved_concurrency": reserved}}},
    )
    queues = 1 if queue_worker else 2

    expected = [
        f"compute.lambdas.functions.worker.reserved_concurrency: {reserved} is less than the worker's event sources "
        f"may invoke at once ({queues} queue(s) x compute.lambdas.worker_maximum_concurrency 5 = {queues * 5}); "
        "Lambda would throttle the rest, and throttled batches count towards the dead-letter limit; allowed: at "
        f"least {queues * 5}, unset, or a lower compute.lambdas.worker_maximum_concurrency"
    ]
    assert compute.consumer_problems(QUEUES) == (expected if refused else [])


def test_a_reservation_too_small_for_the_worker_stops_synth_naming_the_field(tmp_path) -> None:
    text = DEV.replace(
        "[compute.lambdas]\n", "[compute.lambdas.functions.worker]\nreserved_concurrency = 1\n\n[compute.lambdas]\n", 1
    )
    message = _refused(tmp_path, text)

    assert "compute.lambdas.functions.worker.reserved_concurrency: 1 is less than" in message
    assert "\n" not in message


def test_the_queue_worker_may_take_another_queue(tmp_path) -> None:
    config = load_config_text(
        tmp_path, DEV.replace("[compute.queue_worker]\n", '[compute.queue_worker]\nqueue = "priority"\n')
    )
    queues = tuple(queue.name for queue in config.messaging.queues)

    assert config.compute.lambda_worker_queues(queues) == ("default",)


def test_a_queue_listed_twice_and_the_reserved_notifications_name_are_refused(tmp_path) -> None:
    assert "compute.lambdas.worker_queues: 'priority' listed more than once" in _refused(
        tmp_path, _with_compute(DEV, 'worker_queues = ["priority", "priority"]')
    )
    assert "queues: 'async-notifications' is the name of the asynchronous endpoint's notifications queue" in _refused(
        tmp_path, DEV.replace('name = "priority"', 'name = "async-notifications"')
    )


# --- the queue worker ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        ("fargate_weight = 0", "compute.queue_worker: fargate_weight/fargate_spot_weight: at least one must be > 0"),
        ("batch_size = 11", "compute.queue_worker.batch_size: Input should be less than or equal to 10"),
        (
            "stop_timeout_seconds = 121",
            "compute.queue_worker.stop_timeout_seconds: Input should be less than or equal to 120",
        ),
        (
            "stop_timeout_seconds = 30",
            "compute.queue_worker.stop_timeout_seconds: 30 s cannot fit a stop: one long poll "
            "(20 s) plus a job (10 s model timeout + 2 s) is 32 s",
        ),
        ('model_backend = "grpc"', "compute.queue_worker.model_backend: Input should be 'sagemaker' or 'http'"),
    ],
)
def test_queue_worker_settings_that_cannot_work_are_refused(tmp_path, lines, expected) -> None:
    text = DEV.replace("fargate_spot_weight = 1\n", "fargate_spot_weight = 0\n") if "fargate_weight" in lines else DEV
    assert expected in _refused(
        tmp_path, text.replace("[compute.queue_worker]\n", f"[compute.queue_worker]\n{lines}\n")
    )


def test_the_capacity_strategy_lists_only_providers_with_a_base_or_a_weight() -> None:
    spot_only = ComputeConfig(queue_worker={"fargate_base": 0, "fargate_weight": 0, "fargate_spot_weight": 1})
    mixed = ComputeConfig(queue_worker={"fargate_base": 2, "fargate_weight": 1, "fargate_spot_weight": 3})

    assert spot_only.queue_worker.capacity_provider_strategy == (("FARGATE_SPOT", 0, 1),)
    assert mixed.queue_worker.capacity_provider_strategy == (("FARGATE", 2, 1), ("FARGATE_SPOT", 0, 3))


def test_an_http_queue_worker_needs_something_to_call(tmp_path) -> None:
    text = DEV.replace("[compute.inference_service]\n", "[compute.inference_service]\nenabled = false\n").replace(
        "[compute.queue_worker]\n", '[compute.queue_worker]\nmodel_backend = "http"\n'
    )

    assert (
        "compute.queue_worker.model_backend: 'http' needs inference_service.enabled = true or a model_url"
        in _refused(tmp_path, text)
    )


# --- an asynchronous endpoint ------------------------------------------------------------------------------------


def test_the_local_loop_hands_its_queue_workers_jobs_to_an_asynchronous_endpoint(tmp_path) -> None:
    config = load_config_text(tmp_path, LOCAL, "local.toml")

    assert config.inference.mode == "async"
    assert config.compute.queue_worker_model_backend == "sagemaker"
    assert config.compute.backend_variable(config.compute.queue_worker_model_backend, "async") == "sagemaker-async"
    assert config.compute.backend_variable("sagemaker", "serverless") == "sagemaker"


def test_a_synchronous_predict_function_cannot_call_an_asynchronous_endpoint(tmp_path) -> None:
    text = LOCAL.replace('[compute]\nmodel_backend = "http"', '[compute]\nmodel_backend = "sagemaker"')

    assert (
        "api.predict_backend: 'lambda' calls the SageMaker endpoint synchronously, which an endpoint in mode "
        "'async' refuses"
    ) in _refused(tmp_path, text, "local.toml")


def test_fifo_topics_are_refused_with_an_asynchronous_endpoint(tmp_path) -> None:
    text = LOCAL.replace("[messaging]\n", "[messaging]\nfifo_topics = true\n")

    assert "inference.mode: 'async' needs standard topics" in _refused(tmp_path, text, "local.toml")
