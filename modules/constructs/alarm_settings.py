"""The evaluation and notification settings shared by the pipeline's health alarms (API, SageMaker endpoint).

Why one place: an alarm that pages on one bad datapoint, or that never says when it recovers, trains people to
ignore it; every health alarm here waits for a trend and announces both transitions.
"""

from __future__ import annotations

from typing import Any

PERIOD_SECONDS = 300
EVALUATION_PERIODS = 3  # three bad 5-minute periods in a row: a trend, not a blip
# The soonest a health alarm can go to ALARM after things break: what a deployment's baking period must cover.
TIME_TO_ALARM_SECONDS = PERIOD_SECONDS * EVALUATION_PERIODS


def notifying_alarm_settings(alarm_topic_arn: str) -> dict[str, Any]:
    """Keyword arguments of CloudwatchMetricAlarm: N of N periods at or above the threshold, missing data is
    healthy, ALARM and OK both sent to ALARM_TOPIC_ARN."""
    return {"evaluation_periods": EVALUATION_PERIODS, "datapoints_to_alarm": EVALUATION_PERIODS,
            "comparison_operator": "GreaterThanOrEqualToThreshold", "treat_missing_data": "notBreaching",
            "alarm_actions": [alarm_topic_arn], "ok_actions": [alarm_topic_arn]}


def health_alarm_problems(latency_p99_ms: int, alarm_topic_arn: str) -> list[str]:
    """The checks every health-alarm construct shares, phrased once."""
    problems = []
    if latency_p99_ms < 1:
        problems.append(f"latency_p99_ms must be >= 1, got {latency_p99_ms}")
    if not alarm_topic_arn:
        problems.append("alarm_topic_arn is required (an alarm nobody hears is no alarm)")
    return problems
