"""The pieces of the batch smoke test that stand in for AWS Batch and EventBridge (the emulator runs neither)."""

from __future__ import annotations

import json

from moto.events.models import EventPattern

from tests.stacks.test_batch import _doc
from tools.local.batch_smoke import job_command, job_event


def test_the_jobs_command_takes_its_parameters_as_aws_batch_substitutes_them() -> None:
    definition = {"containerProperties": {"command": ["batch", "--manifest", "Ref::manifest", "Ref::unknown"]}}

    assert job_command(definition, {"manifest": "s3://b/requests/batches/x.json"}) == [
        "batch",
        "--manifest",
        "s3://b/requests/batches/x.json",
        "Ref::unknown",
    ]


def test_the_synthesized_rule_matches_the_parents_state_change_and_not_a_childs(synthesized) -> None:
    (rule,) = _doc(synthesized, "local")["resource"]["aws_cloudwatch_event_rule"].values()
    queue = json.loads(rule["event_pattern"])["detail"]["jobQueue"][0]
    pattern = EventPattern.load(rule["event_pattern"])
    parent = {
        "jobArn": "arn:aws:batch:eu-west-1:1:job/j",
        "jobId": "j",
        "jobQueue": queue,
        "status": "SUCCEEDED",
        "arrayProperties": {"size": 3, "statusSummary": {"SUCCEEDED": 3}},
        "parameters": {"batch_id": "b"},
    }

    assert pattern.matches_event(job_event(parent, "123456789012", "eu-west-1"))
    assert pattern.matches_event(job_event({**parent, "arrayProperties": {}}, "123456789012", "eu-west-1"))
    assert not pattern.matches_event(
        job_event({**parent, "arrayProperties": {"index": 0}}, "123456789012", "eu-west-1")
    )
    assert not pattern.matches_event(job_event({**parent, "status": "RUNNING"}, "123456789012", "eu-west-1"))
