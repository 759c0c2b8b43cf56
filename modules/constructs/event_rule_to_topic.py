"""An EventBridge rule on the default bus whose matching events are published, reshaped, to one SNS topic.

Why reshaped (an input transformer): subscribers of the topic get a small message in the pipeline's terms instead
of the service's whole event. The topic's policy must let events.amazonaws.com publish for this rule's ARN, and
the key of an encrypted topic must let EventBridge use it (the messaging stack grants both;
tools/access_check/service_calls.py proves it).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from constructs import Construct

from modules import aws
from modules.limits import EVENTBRIDGE_RULE_NAME

RULE_NAME = re.compile(r"^[\.\-_A-Za-z0-9]+$")
PLACEHOLDER = re.compile(r"<([A-Za-z0-9_]+)>")


@dataclass(frozen=True, kw_only=True)
class EventRuleToTopicProps:
    """Which events, where they go, and the message they become."""

    name: str  # rule name (ARN: arn:<partition>:events:<region>:<account>:rule/<name>)
    description: str
    event_pattern: dict[str, Any]
    topic_arn: str
    input_paths: dict[str, str] = field(default_factory=dict)  # placeholder -> JSON path into the event
    input_template: str = ""  # the message, with <placeholder>s; empty: the whole event


class EventRuleToTopic(Construct):
    """Exposes `rule` (`.arn`, `.name`), `target`."""

    def __init__(self, scope: Construct, id_: str, *, props: EventRuleToTopicProps) -> None:
        super().__init__(scope, id_)
        _validate(id_, props)
        self.rule = aws.cloudwatch_event_rule.CloudwatchEventRule(
            self,
            "rule",
            name=props.name,
            description=props.description,
            event_pattern=json.dumps(props.event_pattern, sort_keys=True),
        )
        transformer = None
        if props.input_template:
            transformer = aws.cloudwatch_event_target.CloudwatchEventTargetInputTransformer(
                input_template=props.input_template, input_paths=dict(sorted(props.input_paths.items())) or None
            )
        self.target = aws.cloudwatch_event_target.CloudwatchEventTarget(
            self, "target", rule=self.rule.name, target_id="topic", arn=props.topic_arn, input_transformer=transformer
        )


def _validate(id_: str, props: EventRuleToTopicProps) -> None:
    problems = []
    if not RULE_NAME.fullmatch(props.name) or len(props.name) > EVENTBRIDGE_RULE_NAME.value:
        problems.append(f"name {props.name!r}: 1-{EVENTBRIDGE_RULE_NAME.value} characters of A-Za-z0-9._-")
    if not props.event_pattern:
        problems.append("event_pattern is required (an empty pattern matches nothing)")
    unknown = sorted(set(PLACEHOLDER.findall(props.input_template)) - set(props.input_paths))
    if unknown:
        problems.append(f"input_template uses <{'>, <'.join(unknown)}> without an input path")
    if props.input_paths and not props.input_template:
        problems.append("input_paths need an input_template")
    if problems:
        raise ValueError(f"{id_}: " + "; ".join(problems))
