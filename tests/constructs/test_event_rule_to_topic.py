import json

import pytest

from modules.constructs.event_rule_to_topic import EventRuleToTopic, EventRuleToTopicProps
from tests.constructs.helpers import only, synth_with

TOPIC = "arn:aws:sns:eu-west-1:123456789012:p-results"


def _rule(stack, **overrides):
    props = {
        "name": "p-batch-state",
        "description": "d",
        "topic_arn": TOPIC,
        "event_pattern": {"source": ["aws.batch"], "detail": {"status": ["SUCCEEDED"]}},
        "input_paths": {"state": "$.detail.status"},
        "input_template": '{"state": "<state>"}',
        **overrides,
    }
    return EventRuleToTopic(stack, "rule", props=EventRuleToTopicProps(**props))


def test_matching_events_are_reshaped_and_published_to_the_topic():
    doc = synth_with(_rule)
    rule, target = only(doc, "aws_cloudwatch_event_rule"), only(doc, "aws_cloudwatch_event_target")
    assert json.loads(rule["event_pattern"]) == {"detail": {"status": ["SUCCEEDED"]}, "source": ["aws.batch"]}
    assert target["arn"] == TOPIC and target["rule"].startswith("${aws_cloudwatch_event_rule.")
    assert target["input_transformer"] == {
        "input_paths": {"state": "$.detail.status"},
        "input_template": '{"state": "<state>"}',
    }


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"name": "x" * 65}, "1-64 characters"),
        ({"event_pattern": {}}, "event_pattern is required"),
        ({"input_template": '{"id": "<job_id>"}'}, "without an input path"),
    ],
)
def test_a_rule_eventbridge_would_refuse_or_a_template_with_an_unknown_placeholder_is_refused(overrides, message):
    with pytest.raises(ValueError, match=message):
        synth_with(lambda s: _rule(s, **overrides))
