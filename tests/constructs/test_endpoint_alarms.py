import pytest

from modules.constructs.endpoint_alarms import EndpointAlarms, EndpointAlarmsProps
from tests.constructs.helpers import synth_with
from tests.constructs.sagemaker_fixtures import TOPIC


def _alarms(mode, **overrides) -> dict:
    props = {
        "endpoint_name": "ep",
        "variant_name": "primary",
        "mode": mode,
        "alarm_topic_arn": TOPIC,
        "errors_threshold": 5,
        "latency_p99_ms": 2000,
        **overrides,
    }
    doc = synth_with(lambda s: EndpointAlarms(s, "alarms", props=EndpointAlarmsProps(**props)))
    return {a["metric_name"]: a for a in doc["resource"]["aws_cloudwatch_metric_alarm"].values()}


def test_real_time_alarms_on_5xx_model_errors_and_p99_latency_to_the_topic():
    alarms = _alarms("real-time", errors_threshold=3, latency_p99_ms=1500)
    assert set(alarms) == {"Invocation5XXErrors", "InvocationModelErrors", "ModelLatency"}
    assert alarms["Invocation5XXErrors"]["statistic"] == "Sum" and alarms["Invocation5XXErrors"]["threshold"] == 3
    assert alarms["Invocation5XXErrors"]["dimensions"] == {"EndpointName": "ep", "VariantName": "primary"}
    latency = alarms["ModelLatency"]
    assert latency["extended_statistic"] == "p99" and latency["threshold"] == 1_500_000  # microseconds
    assert all(a["alarm_actions"] == [TOPIC] and a["ok_actions"] == [TOPIC] for a in alarms.values())


def test_async_alarms_on_invocation_failures():
    assert set(_alarms("async")) == {"InvocationFailures", "ModelLatency"}


def test_an_alarm_without_a_topic_is_refused():
    with pytest.raises(ValueError, match="alarm_topic_arn is required"):
        _alarms("serverless", alarm_topic_arn="")
