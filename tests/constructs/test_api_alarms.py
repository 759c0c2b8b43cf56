import pytest

from modules.constructs.api_alarms import ApiAlarms, ApiAlarmsProps
from tests.constructs.helpers import synth_with

TOPIC = "arn:aws:sns:eu-west-1:123456789012:alarms"


def _alarms(**overrides) -> dict:
    props = {
        "name": "api",
        "api_id": "abc123",
        "alarm_topic_arn": TOPIC,
        "server_error_rate_percent": 1.0,
        "latency_p99_ms": 5000,
        **overrides,
    }
    doc = synth_with(lambda s: ApiAlarms(s, "alarms", props=ApiAlarmsProps(**props)))
    return {a["alarm_name"]: a for a in doc["resource"]["aws_cloudwatch_metric_alarm"].values()}


def test_the_5xx_alarm_is_a_rate_of_all_requests():
    alarm = _alarms(server_error_rate_percent=2.5)["api-5xx-rate"]
    assert alarm["threshold"] == 2.5
    queries = {q["id"]: q for q in alarm["metric_query"]}
    assert queries["errors"]["metric"]["metric_name"] == "5xx"
    assert queries["requests"]["metric"]["metric_name"] == "Count"
    assert queries["rate"]["expression"] == "IF(requests > 0, 100 * errors / requests, 0)"
    assert queries["rate"]["return_data"] is True
    assert queries["errors"]["metric"]["dimensions"] == {"ApiId": "abc123", "Stage": "$default"}


def test_latency_and_integration_latency_alarm_on_p99():
    alarms = _alarms(latency_p99_ms=800)
    for name in ("api-Latency-p99", "api-IntegrationLatency-p99"):
        assert alarms[name]["extended_statistic"] == "p99" and alarms[name]["threshold"] == 800
        assert alarms[name]["alarm_actions"] == [TOPIC]


def test_a_rate_above_100_percent_is_refused():
    with pytest.raises(ValueError, match=r"server_error_rate_percent must be in \(0, 100\], got 101"):
        _alarms(server_error_rate_percent=101)


def test_every_bad_threshold_and_a_missing_topic_are_named_in_one_error():
    with pytest.raises(ValueError) as error:
        _alarms(server_error_rate_percent=0, latency_p99_ms=0, alarm_topic_arn="")
    assert str(error.value) == (
        "alarms: server_error_rate_percent must be in (0, 100], got 0; latency_p99_ms must be >= 1, got 0; "
        "alarm_topic_arn is required (an alarm nobody hears is no alarm)"
    )


def test_alarms_need_three_bad_periods_and_announce_recovery():
    for alarm in _alarms().values():
        assert (alarm["evaluation_periods"], alarm["datapoints_to_alarm"]) == (3, 3)
        assert alarm["ok_actions"] == [TOPIC] and alarm["treat_missing_data"] == "notBreaching"
