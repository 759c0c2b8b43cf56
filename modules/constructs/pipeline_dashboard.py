"""The environment's CloudWatch dashboard: where people look during a rollout.

Why it is generated from the alarm definitions: a dashboard drawn by hand drifts from the alarms (a threshold
changed in config, an alarm added to a new queue). Here every alarm of the environment appears twice, by name:
in the status widget at the top, and as a graph of its own metric and threshold (an alarm graph widget draws
exactly what the alarm evaluates). The endpoint's variants are compared on graphs built from the same
AlarmDefinition objects that made their alarms, production and shadow side by side with the threshold line.
The rest is context the alarms do not cover: requests, errors and latency per API route, invocations per
variant, queue depth, and how many workers run.

Dashboard body format: https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/CloudWatch-Dashboard-Body-Structure.html
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from constructs import Construct

from modules import aws
from modules.constructs.alarm_definitions import AlarmDefinition

WIDTH = 24  # the dashboard grid's columns
GRAPH_WIDTH, GRAPH_HEIGHT = 8, 6


@dataclass(frozen=True, kw_only=True)
class Graph:
    """A time series: metric rows (namespace, name, dimension pairs, {options}) and optional threshold lines."""

    title: str
    metrics: tuple[tuple[Any, ...], ...]
    thresholds: tuple[tuple[str, float], ...] = ()  # (label, value)


@dataclass(frozen=True, kw_only=True)
class Section:
    """A titled row group of the dashboard: its graphs, then one graph per alarm it lists."""

    title: str
    graphs: tuple[Graph, ...] = ()
    alarms: tuple[tuple[str, str], ...] = ()  # (title, alarm ARN)


@dataclass(frozen=True, kw_only=True)
class PipelineDashboardProps:
    """The dashboard's name, region, time settings and sections, in order."""

    name: str
    region: str
    sections: tuple[Section, ...]
    period_seconds: int = 60
    start: str = "-PT3H"


class PipelineDashboard(Construct):
    """Exposes `dashboard` (aws_cloudwatch_dashboard) and `body` (the dict it was rendered from)."""

    def __init__(self, scope: Construct, id_: str, *, props: PipelineDashboardProps) -> None:
        super().__init__(scope, id_)
        problems = []
        if not props.sections:
            problems.append("sections: at least one")
        if props.period_seconds not in (60, 300):
            problems.append(f"period_seconds must be 60 or 300, got {props.period_seconds}")
        if problems:
            raise ValueError(f"{id_}: " + "; ".join(problems))
        self.body = dashboard_body(props)
        self.dashboard = aws.cloudwatch_dashboard.CloudwatchDashboard(
            self, "dashboard", dashboard_name=props.name, dashboard_body=canonical_json(self.body))


def canonical_json(document: dict[str, Any]) -> str:
    """Sorted keys, no spaces: the form the AWS provider normalizes the body to, so a plan never shows the stored
    body differing from the configured one (the emulator stores the string as given)."""
    text = json.dumps(document, sort_keys=True, separators=(",", ":"))
    if any(character in text for character in "<>&") or not text.isascii():
        raise ValueError("dashboard text must be ASCII without <, > or & (the provider escapes them differently)")
    return text


def variant_comparison(definitions_by_variant: dict[str, tuple[AlarmDefinition, ...]]) -> tuple[Graph, ...]:
    """One graph per alarmed metric with a line per variant and the alarm's threshold: production and shadow
    compared on the very definitions that alarm on them."""
    graphs = []
    production = next(iter(definitions_by_variant.values()))
    for index, definition in enumerate(production):
        rows = [tuple(definitions[index].graph_metric()) for definitions in definitions_by_variant.values()]
        graphs.append(Graph(title=f"{definition.metric_name} ({definition.stat}) per variant", metrics=tuple(rows),
                            thresholds=((f"alarm at {_number(definition.threshold)}", definition.threshold),)))
    return tuple(graphs)


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def dashboard_body(props: PipelineDashboardProps) -> dict[str, Any]:
    """Widgets laid out left to right, top to bottom: the alarm status first, then each section."""
    every_alarm = [arn for section in props.sections for _, arn in section.alarms]
    widgets: list[dict[str, Any]] = []
    y = 0
    if every_alarm:
        widgets.append({"type": "alarm", "x": 0, "y": y, "width": WIDTH, "height": 4,
                        "properties": {"title": "Every alarm of this environment", "alarms": every_alarm,
                                       "sortBy": "stateUpdatedTimestamp"}})
        y += 4
    for section in props.sections:
        widgets.append({"type": "text", "x": 0, "y": y, "width": WIDTH, "height": 1,
                        "properties": {"markdown": f"## {section.title}"}})
        y += 1
        cells = [_graph(graph, props) for graph in section.graphs] + [
            _alarm_graph(title, arn, props) for title, arn in section.alarms]
        for index, properties in enumerate(cells):
            column = index % (WIDTH // GRAPH_WIDTH)
            widgets.append({"type": "metric", "x": column * GRAPH_WIDTH, "y": y + index // (WIDTH // GRAPH_WIDTH) * GRAPH_HEIGHT,
                            "width": GRAPH_WIDTH, "height": GRAPH_HEIGHT, "properties": properties})
        y += -(-len(cells) // (WIDTH // GRAPH_WIDTH)) * GRAPH_HEIGHT
    return {"start": props.start, "periodOverride": "inherit", "widgets": widgets}


def _graph(graph: Graph, props: PipelineDashboardProps) -> dict[str, Any]:
    properties: dict[str, Any] = {"title": graph.title, "view": "timeSeries", "stacked": False,
                                  "region": props.region, "period": props.period_seconds,
                                  "metrics": [list(row) for row in graph.metrics]}
    if graph.thresholds:
        properties["annotations"] = {"horizontal": [{"label": label, "value": value}
                                                    for label, value in graph.thresholds]}
    return properties


def _alarm_graph(title: str, alarm_arn: str, props: PipelineDashboardProps) -> dict[str, Any]:
    """An alarm graph: CloudWatch draws the alarm's own metric and threshold."""
    return {"title": f"alarm: {title}", "view": "timeSeries", "stacked": False, "region": props.region,
            "annotations": {"alarms": [alarm_arn]}}
