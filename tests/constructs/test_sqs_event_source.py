import pytest

from modules.constructs.sqs_event_source import SqsEventSource, SqsEventSourceProps
from tests.constructs.helpers import only, synth_with


def _source(stack, **overrides):
    props = {
        "queue_name": "p-default",
        "queue_arn": "arn:aws:sqs:eu-west-1:123456789012:p-default",
        "queue_visibility_timeout_seconds": 180,
        "function_name": "p-worker",
        "function_timeout_seconds": 30,
        "batch_size": 10,
        "batching_window_seconds": 0,
        **overrides,
    }
    return SqsEventSource(stack, "source", props=SqsEventSourceProps(**props))


def test_the_mapping_reports_partial_batch_failures():
    mapping = only(synth_with(_source), "aws_lambda_event_source_mapping")
    assert mapping["function_response_types"] == ["ReportBatchItemFailures"]
    assert mapping["batch_size"] == 10


def test_batching_and_maximum_concurrency_come_from_props():
    mapping = only(
        synth_with(lambda s: _source(s, batch_size=50, batching_window_seconds=5, maximum_concurrency=7)),
        "aws_lambda_event_source_mapping",
    )
    assert mapping["batch_size"] == 50
    assert mapping["maximum_batching_window_in_seconds"] == 5
    assert mapping["scaling_config"] == {"maximum_concurrency": 7}


def test_a_visibility_timeout_under_six_times_the_function_timeout_is_refused_naming_both():
    with pytest.raises(
        ValueError,
        match=r"visibility timeout 179 s, under 6 x the timeout of function "
        r"'p-worker' \(30 s\) = 180 s",
    ):
        synth_with(lambda s: _source(s, queue_visibility_timeout_seconds=179))


def test_exactly_six_times_is_enough():
    synth_with(lambda s: _source(s, queue_visibility_timeout_seconds=180))


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"batch_size": 0}, "batch_size must be 1-10000"),
        ({"batch_size": 11}, r"batch_size 11 \(> 10\) needs batching_window_seconds >= 1"),
        ({"batching_window_seconds": 301}, "batching_window_seconds must be 0-300"),
        ({"maximum_concurrency": 1}, "maximum_concurrency must be 2-1000"),
    ],
)
def test_invalid_batching_is_refused(overrides, message):
    with pytest.raises(ValueError, match=message):
        synth_with(lambda s: _source(s, **overrides))
