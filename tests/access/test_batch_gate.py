"""The access gate over the batch stack's principals and service calls: each mutation reintroduces one defect on a
copy of dev, and the gate must name principal and action."""

from __future__ import annotations

from tests.access.gate_runs import allowed, denials_of, gate_without_action
from tests.access.mutations import component_role, edit_policy, inventory_of, without_service_principal
from tools.access_check import check
from tools.access_check.report import denial_line


def test_the_batch_principals_and_service_calls_are_all_evaluated(gate) -> None:
    result = gate["dev"]
    deployed = {status.component for status in result.components if status.role}

    assert {"batch-submit", "batch-status", "batch-job"} <= deployed
    assert "events.amazonaws.com" in result.principals
    origins = {decision.request.origin.split(":")[0] for decision in result.evaluation.decisions}
    assert {
        "service call batch-fargate-agent-pulls-images-and-writes-logs",
        "service call eventbridge-publishes-to-topics",
        "service call sagemaker-runs-transform-jobs",
    } <= origins


def test_a_results_topic_without_the_eventbridge_grant_loses_the_completion_message(gate, stacks_copy) -> None:
    copy = stacks_copy("dev")
    inventory = inventory_of(copy)
    [topic] = [t for t in inventory.blocks("aws_sns_topic") if inventory.attr(t, "arn").endswith("-results")]
    topic_arn = inventory.attr(topic, "arn")
    assert allowed(gate["dev"], "events.amazonaws.com", "sns:Publish", topic_arn)
    [policy] = [p for p in inventory.blocks("aws_sns_topic_policy") if inventory.arg(p, "arn") == topic_arn]
    edit_policy(copy, policy, "policy", without_service_principal("events.amazonaws.com"))

    result = check.run(copy.root)

    [denial] = denials_of(result, "events.amazonaws.com", "sns:Publish")
    assert "eventbridge-publishes-to-topics" in denial_line(result, denial)


def test_a_batch_job_role_without_its_output_prefix_cannot_write_a_part(stacks_copy) -> None:
    copy = stacks_copy("dev")
    role = component_role(copy, "batch-job")

    result, denials = gate_without_action(copy, role, "s3:PutObject")

    lines = [denial_line(result, d) for d in denials]
    assert any("batch-job:" in line and "results/batches/" in line for line in lines)


def test_a_submit_function_without_submitjob_is_denied_on_the_queue_and_the_job_definition(stacks_copy) -> None:
    copy = stacks_copy("dev")
    role = component_role(copy, "batch-submit")

    result, denials = gate_without_action(copy, role, "batch:SubmitJob")

    assert sorted(d.request.resource.split(":")[5].split("/")[0] for d in denials) == ["job-definition", "job-queue"]
    assert all("batch-submit" in denial_line(result, d) for d in denials)
