"""The environment's dashboard: every alarm in the status widget and as its own graph, variants compared on the
definitions that alarm on them, a grid that never overlaps."""

from __future__ import annotations

import json

import pytest

from modules.constructs.endpoint_alarms import EndpointAlarmsProps, endpoint_alarm_definitions
from modules.constructs.pipeline_dashboard import (
    Graph,
    PipelineDashboard,
    PipelineDashboardProps,
    Section,
    variant_comparison,
)
from tests.constructs.helpers import only, synth_with
from tests.constructs.sagemaker_fixtures import TOPIC

ARN = "arn:aws:cloudwatch:eu-west-1:123456789012:alarm:"


def _variants() -> dict:
    common = {"endpoint_name": "ep", "mode": "real-time", "alarm_topic_arn": TOPIC, "errors_threshold": 3,
              "latency_p99_ms": 800}
    return {"primary": endpoint_alarm_definitions(EndpointAlarmsProps(variant_name="primary", **common)),
            "shadow": endpoint_alarm_definitions(EndpointAlarmsProps(variant_name="shadow", shadow=True, **common))}


def _dashboard(sections) -> tuple[dict, dict]:
    doc = synth_with(lambda s: PipelineDashboard(s, "dashboard", props=PipelineDashboardProps(
        name="inference-local", region="eu-west-1", sections=sections)))
    dashboard = only(doc, "aws_cloudwatch_dashboard")
    return dashboard, json.loads(dashboard["dashboard_body"])


def test_variants_are_compared_on_the_definitions_that_alarm_on_them_with_the_alarms_threshold():
    graphs = {graph.title: graph for graph in variant_comparison(_variants())}
    latency = graphs["ModelLatency (p99) per variant"]
    assert latency.thresholds == (("alarm at 800000", 800000),)
    assert [row[:6] for row in latency.metrics] == [
        ("AWS/SageMaker", "ModelLatency", "EndpointName", "ep", "VariantName", "primary"),
        ("AWS/SageMaker", "ModelLatency", "EndpointName", "ep", "VariantName", "shadow")]
    assert latency.metrics[1][-1] == {"stat": "p99", "label": "shadow ModelLatency p99 (us)"}
    assert set(graphs) == {"Invocation5XXErrors (Sum) per variant", "InvocationModelErrors (Sum) per variant",
                           "ModelLatency (p99) per variant"}


def test_every_alarm_is_in_the_status_widget_and_drawn_as_its_own_graph():
    alarms = tuple((d.name, ARN + d.name) for d in _variants()["primary"])
    dashboard, body = _dashboard((
        Section(title="Endpoint", graphs=variant_comparison(_variants()), alarms=alarms),
        Section(title="Queues", graphs=(Graph(title="Depth", metrics=(("AWS/SQS", "ApproximateNumberOfMessagesVisible",
                                                                        "QueueName", "q", {"stat": "Maximum"}),)),)),
    ))
    assert dashboard["dashboard_name"] == "inference-local"
    status, *rest = body["widgets"]
    assert status["type"] == "alarm" and status["properties"]["alarms"] == [arn for _, arn in alarms]
    drawn = [w["properties"]["annotations"]["alarms"] for w in rest if "alarms" in w["properties"].get("annotations", {})]
    assert drawn == [[arn] for _, arn in alarms]
    assert [w["properties"]["markdown"] for w in rest if w["type"] == "text"] == ["## Endpoint", "## Queues"]
    assert all(w["properties"]["region"] == "eu-west-1" for w in rest if w["type"] == "metric")


def test_widgets_fill_the_24_column_grid_without_overlapping():
    sections = tuple(Section(title=f"s{i}", graphs=tuple(
        Graph(title=f"g{j}", metrics=(("N", "M", {"stat": "Sum"}),)) for j in range(i + 2))) for i in range(3))
    _, body = _dashboard(sections)
    cells = set()
    for widget in body["widgets"]:
        assert widget["x"] + widget["width"] <= 24
        for x in range(widget["x"], widget["x"] + widget["width"]):
            for y in range(widget["y"], widget["y"] + widget["height"]):
                assert (x, y) not in cells, f"overlap at {(x, y)}"
                cells.add((x, y))


def test_a_dashboard_without_sections_or_with_another_period_is_refused():
    with pytest.raises(ValueError, match="sections: at least one; period_seconds must be 60 or 300, got 10"):
        synth_with(lambda s: PipelineDashboard(s, "d", props=PipelineDashboardProps(
            name="n", region="eu-west-1", sections=(), period_seconds=10)))
