import json

import pytest

from modules.constructs.fargate_service import FargateService, FargateServiceProps
from modules.constructs.policy_statements import statement
from tests.constructs.helpers import only, synth_with

REPO = "arn:aws:ecr:eu-west-1:123456789012:repository/p/inference"


def _service(stack, **overrides):
    props = {
        "name": "p-inference",
        "cluster_arn": "arn:cluster",
        "image": "repo.example/p/inference:1.0.0",
        "repository_arn": REPO,
        "region": "eu-west-1",
        "account_id": "123456789012",
        "kms_key_arn": "arn:aws:kms:eu-west-1:123456789012:key/k",
        "vpc_id": "vpc-1",
        "vpc_cidr": "10.0.0.0/16",
        "subnet_ids": ["s-1"],
        "log_retention_days": 30,
        "cpu": 512,
        "memory": 1024,
        "desired_count": 1,
        "container_port": 8080,
        **overrides,
    }
    return FargateService(stack, "svc", props=FargateServiceProps(**props))


def _container(doc):
    return json.loads(only(doc, "aws_ecs_task_definition")["container_definitions"])[0]


def test_the_container_is_read_only_non_root_and_logs_to_its_own_group():
    doc = synth_with(_service)
    container = _container(doc)
    assert container["readonlyRootFilesystem"] is True
    assert container["user"] == "10001:10001" and container["privileged"] is False
    assert container["portMappings"] == [{"containerPort": 8080, "protocol": "tcp"}]
    assert container["logConfiguration"]["logDriver"] == "awslogs"
    assert only(doc, "aws_cloudwatch_log_group")["name"] == "/ecs/p-inference"


def test_the_service_is_private_rolls_back_failed_deployments_and_leaves_the_count_to_autoscaling():
    service = only(synth_with(_service), "aws_ecs_service")
    assert service["network_configuration"]["assign_public_ip"] is False
    assert service["deployment_circuit_breaker"] == {"enable": True, "rollback": True}
    assert service["lifecycle"] == {"ignore_changes": ["desired_count"]}
    assert service["launch_type"] == "FARGATE" and service["enable_execute_command"] is False


def test_execution_and_task_roles_are_separate_and_least_privilege():
    grant = statement("Consume", ["sqs:ReceiveMessage"], ["arn:aws:sqs:eu-west-1:123456789012:q"])
    doc = synth_with(lambda s: _service(s, task_policy_statements=(grant,)))
    task = only(doc, "aws_ecs_task_definition")
    assert task["execution_role_arn"] != task["task_role_arn"]
    documents = doc["data"]["aws_iam_policy_document"]
    execution = next(v for k, v in documents.items() if "execution-role" in k)["statement"]
    pull = next(st for st in execution if st["sid"] == "PullOwnImage")
    assert pull["resources"] == [REPO]
    task_statements = next(v for k, v in documents.items() if "task-role" in k)["statement"]
    assert [st["sid"] for st in task_statements] == ["Consume"]
    for role in doc["resource"]["aws_iam_role"].values():
        trust = json.loads(role["assume_role_policy"])["Statement"][0]
        assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": "123456789012"}}


def test_without_grants_the_task_role_has_no_policy():
    doc = synth_with(_service)
    assert len(doc["resource"]["aws_iam_role_policy"]) == 1  # the execution role's only


def test_only_the_load_balancer_group_is_admitted_and_egress_is_https_to_the_vpc_and_s3():
    doc = synth_with(lambda s: _service(s, ingress_security_group_id="sg-alb", s3_prefix_list_id="pl-s3"))
    ingress = only(doc, "aws_vpc_security_group_ingress_rule")
    assert ingress["referenced_security_group_id"] == "sg-alb" and ingress["from_port"] == 8080
    egress = doc["resource"]["aws_vpc_security_group_egress_rule"].values()
    assert {(r.get("cidr_ipv4") or r.get("prefix_list_id"), r["from_port"]) for r in egress} == {
        ("10.0.0.0/16", 443),
        ("pl-s3", 443),
    }


def test_a_worker_without_port_takes_no_inbound_traffic_and_may_override_the_command():
    doc = synth_with(
        lambda s: _service(
            s, container_port=None, ingress_security_group_id="sg-alb", command=("python", "-m", "worker")
        )
    )
    assert "aws_vpc_security_group_ingress_rule" not in doc["resource"]
    container = _container(doc)
    assert "portMappings" not in container and container["command"] == ["python", "-m", "worker"]


def test_by_default_the_service_runs_on_the_fargate_launch_type_without_a_container_health_check():
    doc = synth_with(_service)
    service = only(doc, "aws_ecs_service")
    assert service["launch_type"] == "FARGATE" and "capacity_provider_strategy" not in service
    assert "healthCheck" not in _container(doc) and "stopTimeout" not in _container(doc)


def test_a_capacity_provider_strategy_replaces_the_launch_type_and_the_container_checks_itself():
    doc = synth_with(
        lambda s: _service(
            s,
            container_port=None,
            capacity_provider_strategy=(("FARGATE", 1, 0), ("FARGATE_SPOT", 0, 3)),
            health_check_command=("python", "-m", "queue_worker.health"),
            stop_timeout_seconds=120,
        )
    )
    service = only(doc, "aws_ecs_service")
    container = _container(doc)

    assert "launch_type" not in service
    assert service["capacity_provider_strategy"] == [
        {"base": 1, "capacity_provider": "FARGATE", "weight": 0},
        {"base": 0, "capacity_provider": "FARGATE_SPOT", "weight": 3},
    ]
    assert container["healthCheck"]["command"] == ["CMD", "python", "-m", "queue_worker.health"]
    assert container["stopTimeout"] == 120


def test_the_target_group_registers_the_container_after_its_grace_period():
    service = only(
        synth_with(lambda s: _service(s, target_group_arn="arn:tg", health_check_grace_seconds=90)), "aws_ecs_service"
    )
    assert service["load_balancer"] == [
        {"target_group_arn": "arn:tg", "container_name": "p-inference", "container_port": 8080}
    ]
    assert service["health_check_grace_period_seconds"] == 90


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"cpu": 256, "memory": 4096}, "memory: 4096 MiB is not allowed with cpu 256; allowed: 512, 1024, 2048"),
        ({"cpu": 300}, "cpu: 300 is not a Fargate CPU value"),
        ({"user": "0:0"}, "user must be a non-root"),
        ({"user": "root"}, "user must be a non-root"),
        ({"capacity_provider_strategy": (("FARGATE", 0, 1), ("EC2", 0, 1))}, "must name FARGATE and/or FARGATE_SPOT"),
        ({"capacity_provider_strategy": (("FARGATE", 1, 0),)}, "needs a weight > 0"),
        (
            {"capacity_provider_strategy": (("FARGATE", 1, 1), ("FARGATE_SPOT", 1, 1))},
            "only one provider may have a base",
        ),
        ({"stop_timeout_seconds": 121}, "stop_timeout_seconds must be 2-120"),
        ({"target_group_arn": "arn:tg"}, "target_group_arn needs health_check_grace_seconds"),
    ],
)
def test_invalid_settings_are_refused(overrides, message):
    with pytest.raises(ValueError, match=message):
        synth_with(lambda s: _service(s, **overrides))
