"""The access gate over local, dev and prod, and on mutated copies that reintroduce each permission defect.

The first two tests are the gate itself: every recorded and declared call allowed, every unused grant explained.
The mutation tests prove it would catch the defects again, naming principal and action.
"""

from __future__ import annotations

import json

import pytest

from tests.access.gate_runs import allowed, denials_of, gate_without_action
from tests.access.mutations import (
    StacksCopy,
    component_role,
    edit_policy,
    eni_grant_only_with_vpc_condition,
    identity_policy_blocks,
    inventory_of,
    without_service_principal,
)
from tests.conftest import EKS_ENVIRONMENTS, ENVIRONMENTS
from tools.access_check import check
from tools.access_check.evaluate import Decision
from tools.access_check.report import denial_line


def gate_without_reads_under(copy: StacksCopy, role: str, prefix: str) -> tuple[check.Result, Decision]:
    """Take s3:GetObject on keys under PREFIX out of ROLE's identity policies in COPY and run the gate: its result,
    and the one read under PREFIX it denies (the async endpoint and its translator differ only in the prefix)."""
    result, denials = gate_without_action(
        copy, role, "s3:GetObject", lambda resources: any(prefix in resource for resource in resources)
    )
    [denial] = [d for d in denials if prefix in d.request.resource]
    return result, denial


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_every_runtime_call_is_allowed_by_the_synthesized_policies(gate, env: str) -> None:
    result = gate[env]

    denials = [denial_line(result, d) for d in result.denials]

    assert result.evaluation.decisions, "the gate evaluated nothing"
    assert not denials, f"{len(denials)} denied in {env}:\n" + "\n".join(denials)


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_every_unused_grant_is_explained_in_the_accepted_list(gate, env: str) -> None:
    result = gate[env]

    unexplained = [grant.describe() for grant in result.unexplained_unused]

    assert not unexplained, (
        f"{len(unexplained)} unused grants in {env}; grant less, or explain each in "
        "tools/access_check/accepted_unused.yaml:\n" + "\n".join(unexplained)
    )


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_every_deployed_runtime_has_a_manifest_and_the_services_acting_for_us_are_evaluated(gate, env: str) -> None:
    result = gate[env]
    principals = set(result.principals)
    deployed = {status.component for status in result.components if status.role}

    assert result.unproven == []
    # On EKS the model server runs as a pod without a pod identity (it calls no AWS API): no role to evaluate.
    services = {"queue-worker"} if env in EKS_ENVIRONMENTS else {"inference-service", "queue-worker"}
    assert {"submit", "worker", "status"} | services <= deployed
    assert ("async-results" in deployed) == (env == "local"), "only local runs an asynchronous endpoint"
    assert {
        "lambda.amazonaws.com",
        "sns.amazonaws.com",
        "cloudwatch.amazonaws.com",
        "apigateway.amazonaws.com",
        f"logs.{result.region}.amazonaws.com",
        "logging.s3.amazonaws.com",
    } <= principals
    assert result.recorded_calls > 0 and result.declared_calls > 0


# --- mutations: each reintroduces one defect on a copy, and the gate must name principal and action ---------


def test_a_worker_without_list_bucket_is_denied_because_s3_answers_403_for_a_missing_result(stacks_copy) -> None:
    copy = stacks_copy("dev")
    role = component_role(copy, "worker")

    result, denials = gate_without_action(copy, role, "s3:ListBucket")

    [denial] = [d for d in denials if "worker:" in d.request.origin]
    assert denial.request.resource == "arn:aws:s3:::" + denial.request.resource.rsplit(":", 1)[-1]
    line = denial_line(result, denial)
    assert "worker-lambda" in line and "s3:ListBucket" in line and "HeadObject" in line


def test_an_eni_grant_conditioned_on_ec2_vpc_leaves_the_sagemaker_endpoint_without_interfaces(stacks_copy) -> None:
    copy = stacks_copy("prod")
    inventory = inventory_of(copy)
    [model] = inventory.blocks("aws_sagemaker_model")
    role = inventory.arg(model, "execution_role_arn")
    for block in identity_policy_blocks(copy, role):
        edit_policy(copy, block, "policy", eni_grant_only_with_vpc_condition)

    result = check.run(copy.root)

    denials = [
        d
        for d in denials_of(result, role, "ec2:CreateNetworkInterface")
        if d.request.resource.endswith(":network-interface/*")
    ]
    assert denials, "CreateNetworkInterface on network-interface/* conditioned on ec2:Vpc must be denied"
    line = denial_line(result, denials[0])
    assert "sagemaker" in line and "ec2:CreateNetworkInterface" in line
    assert "AWS sends no ec2:Vpc" in line
    subnet_calls = [
        d
        for d in result.evaluation.decisions
        if d.request.principal == role
        and d.request.action == "ec2:CreateNetworkInterface"
        and ":subnet/" in d.request.resource
    ]
    assert subnet_calls and all(d.allowed for d in subnet_calls), "only the interface resource may fail"


def test_a_publisher_without_generate_data_key_on_the_topic_key_is_denied(gate, stacks_copy) -> None:
    copy = stacks_copy("dev")
    inventory = inventory_of(copy)
    role = component_role(copy, "submit")
    [topic] = [t for t in inventory.blocks("aws_sns_topic") if inventory.attr(t, "arn").endswith("-requests")]
    key = inventory.topic_key(inventory.attr(topic, "arn"))
    assert key, "the requests topic is encrypted with a customer key"
    assert allowed(gate["dev"], role, "kms:GenerateDataKey", key), "before the mutation submit may use the key"

    result, denials = gate_without_action(
        copy, role, "kms:GenerateDataKey", lambda resources: key in resources or "*" in resources
    )

    [denial] = [d for d in denials if d.request.resource == key]
    line = denial_line(result, denial)
    assert "submit-lambda" in line and "kms:GenerateDataKey" in line and "sns:Publish" in line


def test_a_queue_policy_without_the_topic_grant_stops_delivery(gate, stacks_copy) -> None:
    copy = stacks_copy("dev")
    inventory = inventory_of(copy)
    [topic] = [t for t in inventory.blocks("aws_sns_topic") if inventory.attr(t, "arn").endswith("-requests")]
    subscription = next(
        s
        for s in inventory.blocks("aws_sns_topic_subscription")
        if inventory.arg(s, "topic_arn") == inventory.attr(topic, "arn")
    )
    queue_arn = inventory.arg(subscription, "endpoint")
    assert allowed(gate["dev"], "sns.amazonaws.com", "sqs:SendMessage", queue_arn)
    queue = inventory.find("aws_sqs_queue", queue_arn)
    policies = [(queue, "policy")] if "policy" in queue.body else []
    policies += [
        (block, "policy")
        for block in inventory.blocks("aws_sqs_queue_policy")
        if inventory.queue_arn(inventory.arg(block, "queue_url")) == queue_arn
    ]
    assert policies, "the queue has a policy"
    for block, argument in policies:
        edit_policy(copy, block, argument, without_service_principal("sns.amazonaws.com"))

    result = check.run(copy.root)

    [denial] = [
        d for d in denials_of(result, "sns.amazonaws.com", "sqs:SendMessage") if d.request.resource == queue_arn
    ]
    line = denial_line(result, denial)
    assert "sns.amazonaws.com sqs:SendMessage" in line and queue_arn in line


# --- EKS: the pods' pod identities --------------------------------------------------------------------------


@pytest.mark.parametrize("env", EKS_ENVIRONMENTS)
def test_on_eks_the_queue_worker_runs_as_its_pod_identity_and_keda_and_the_pod_identity_service_are_evaluated(
    gate, env: str
) -> None:
    result = gate[env]
    [worker] = [status for status in result.components if status.component == "queue-worker"]
    allowed_actions = {(d.request.principal, d.request.action) for d in result.evaluation.decisions if d.allowed}

    assert worker.role == "eks/queue-worker-identity/role" and worker.calls > 0
    assert ("pods.eks.amazonaws.com", "sts:TagSession") in allowed_actions
    assert any(
        action == "sqs:GetQueueAttributes" and "keda-operator" in principal for principal, action in allowed_actions
    )
    assert any(action == "kms:Encrypt" and "eks-cluster" in principal for principal, action in allowed_actions)


def test_a_queue_worker_pod_identity_without_receive_message_is_denied(stacks_copy) -> None:
    copy = stacks_copy(EKS_ENVIRONMENTS[0])
    role = component_role(copy, "queue-worker")
    assert "queue-worker-pod" in role

    _, [denial] = gate_without_action(copy, role, "sqs:ReceiveMessage")

    assert "queue-worker:" in denial.request.origin


def test_a_manifest_pointing_the_worker_at_another_queue_is_denied(stacks_copy) -> None:
    """The manifests carry plain values derived from config: one that drifted from what Terraform creates shows up
    as a call the pod identity does not allow."""
    copy = stacks_copy(EKS_ENVIRONMENTS[0])
    for path in (copy.root.parent / "k8s").glob("*/30-queue-worker.k8s.yaml"):
        path.write_text(path.read_text().replace("-default\n", "-elsewhere\n"))
    role = component_role(copy, "queue-worker")

    result = check.run(copy.root)

    denied = {d.request.resource for d in denials_of(result, role, "sqs:ReceiveMessage")}
    assert denied and all(resource.endswith("-elsewhere") for resource in denied)


def test_a_pod_identity_nobody_declared_is_unproven(stacks_copy) -> None:
    copy = stacks_copy(EKS_ENVIRONMENTS[0])
    document = copy.load("eks")
    for association in document["resource"]["aws_eks_pod_identity_association"].values():
        if association["service_account"] == "queue-worker":
            association["service_account"] = "mystery-worker"
    copy.save("eks", document)

    result = check.run(copy.root)

    assert any("mystery-worker" in runtime for runtime in result.unproven)


def test_on_a_node_group_the_load_balancer_controller_may_bind_exactly_the_inference_targets(
    node_group_synthesized, evaluator
) -> None:
    result = check.run(node_group_synthesized / "stacks")
    registered = [d for d in result.evaluation.decisions if d.request.action == "elasticloadbalancing:RegisterTargets"]

    assert [denial_line(result, d) for d in result.denials] == []
    assert result.unproven == [] and not result.unexplained_unused
    assert registered and all(
        d.allowed and ":targetgroup/inference-local-eks-inference/" in d.request.resource for d in registered
    )


# --- issue 12: the queue worker's task protection, and the asynchronous endpoint's principals ---------------------


def test_a_queue_worker_without_task_protection_is_denied_what_its_agent_does_for_it(gate, stacks_copy) -> None:
    copy = stacks_copy("prod")
    role = component_role(copy, "queue-worker")

    result, [denial] = gate_without_action(copy, role, "ecs:UpdateTaskProtection")

    assert ":task/inference-prod/" in denial.request.resource
    assert "ecs-agent-sets-task-protection" in denial_line(result, denial)


def test_an_async_endpoint_whose_role_cannot_read_the_inputs_is_denied_every_handed_off_job(gate, stacks_copy) -> None:
    copy = stacks_copy("local")
    inventory = inventory_of(copy)
    [model] = inventory.blocks("aws_sagemaker_model")
    role = inventory.arg(model, "execution_role_arn")
    result, denial = gate_without_reads_under(copy, role, "/async/input/")
    assert "sagemaker-runs-async-inference" in denial_line(result, denial)


def test_a_translator_that_cannot_read_the_endpoints_answer_is_denied(gate, stacks_copy) -> None:
    copy = stacks_copy("local")
    role = component_role(copy, "async-results")
    assert allowed(
        gate["local"],
        role,
        "s3:PutObject",
        next(
            d.request.resource
            for d in gate["local"].evaluation.decisions
            if d.request.principal == role and d.request.action == "s3:PutObject"
        ),
    )

    result, denial = gate_without_reads_under(copy, role, "/async/output/")
    assert "async-results" in denial_line(result, denial)


def test_a_service_a_key_policy_names_but_no_call_comes_from_is_an_unused_grant(stacks_copy) -> None:
    """Least privilege both ways covers principals too: a service added to the messaging key's ServiceUse statement
    that no recorded or declared call comes from is reported, unexplained; the services that do call are not."""
    copy = stacks_copy("dev")
    messaging = copy.load("messaging")
    [key] = messaging["resource"]["aws_kms_key"].values()
    policy = json.loads(key["policy"])
    [service_use] = [s for s in policy["Statement"] if s.get("Sid") == "ServiceUse"]
    service_use["Principal"]["Service"].append("s3.amazonaws.com")
    key["policy"] = json.dumps(policy)
    copy.save("messaging", messaging)

    result = check.run(copy.root)

    flagged = {grant.principal: grant for grant in result.unused if grant.sid == "ServiceUse"}
    assert flagged["s3.amazonaws.com"].describe() == (
        "messaging/messaging-key/key (key policy) / ServiceUse: principal s3.amazonaws.com (no call comes from it)"
    )
    assert not flagged["s3.amazonaws.com"].explanation
    assert "sns.amazonaws.com" not in flagged and "cloudwatch.amazonaws.com" not in flagged
