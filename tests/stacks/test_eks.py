"""The eks stack and what changes around it when an environment chooses EKS: no ECS services, the API's
/v1/predict through the VPC link to the EKS load balancer, and pods with exactly the ECS task roles' grants."""

from __future__ import annotations

import json
from functools import cache

import pytest
import yaml

from modules.config import load_config
from tests.conftest import PROJECT_ROOT

ENV = "local-eks"


def _doc(synthesized, stack: str, env: str = ENV) -> dict:
    return json.loads((synthesized[env] / "stacks" / stack / "cdk.tf.json").read_text())


def _resources(doc: dict, kind: str) -> dict:
    return doc.get("resource", {}).get(kind, {})


def _cluster(doc: dict) -> dict:
    [cluster] = _resources(doc, "aws_eks_cluster").values()
    return cluster


@cache
def _compose(orchestrator: str, emulator_url: str | None = None):
    """local-eks composed in-process with the given orchestrator (the ECS twin keeps every name)."""
    import os

    from cdktf import App

    import main

    if emulator_url:
        os.environ["PIPELINE_EMULATOR_URL"] = emulator_url
    try:
        config = load_config(PROJECT_ROOT / "config" / f"{ENV}.toml")
    finally:
        os.environ.pop("PIPELINE_EMULATOR_URL", None)
    if orchestrator == "ecs":
        compute = config.compute.model_copy(update={"orchestrator": "ecs"})
        api = config.api.model_copy(update={"predict_backend": "fargate"})
        config = config.model_copy(update={"compute": compute, "api": api})
    app = App(context={"excludeStackIdFromLogicalIds": "true", "allowSepCharsInLogicalIds": "true"})
    return main.compose(app, config)


def _synth(stack) -> dict:
    from cdktf import Testing

    return json.loads(Testing.synth(stack))


def test_on_eks_the_compute_stack_keeps_the_functions_and_builds_no_ecs(synthesized):
    compute = _doc(synthesized, "compute")

    assert not {"aws_ecs_cluster", "aws_ecs_service", "aws_ecs_task_definition", "aws_lb"} & set(compute["resource"])
    assert _resources(compute, "aws_lambda_function")
    assert "ecs_cluster_name" not in compute.get("output", {})


def test_the_functions_call_the_model_through_the_eks_load_balancer(synthesized):
    compute = _doc(synthesized, "compute")
    urls = {f["environment"]["variables"].get("MODEL_URL") for f in _resources(compute, "aws_lambda_function").values()}
    urls.discard(None)

    assert urls and all("cross-stack-reference-input-eks" in url and url.startswith("http://") for url in urls)


def test_the_api_routes_predict_through_the_vpc_link_to_the_eks_listener_with_the_same_auth(synthesized):
    api = _doc(synthesized, "api")
    integrations = [
        i for i in _resources(api, "aws_apigatewayv2_integration").values() if i.get("connection_type") == "VPC_LINK"
    ]
    routes = {r["route_key"]: r for r in _resources(api, "aws_apigatewayv2_route").values()}

    assert len(integrations) == 1
    assert "cross-stack-reference-input-eks" in integrations[0]["integration_uri"]
    assert integrations[0]["request_parameters"] == {"overwrite:path": "/invocations"}
    assert {route["authorization_type"] for route in routes.values()} == {"AWS_IAM"}
    assert "POST /v1/predict" in routes
    assert _resources(api, "aws_cloudwatch_metric_alarm"), "the API alarms stay"
    [stage] = _resources(api, "aws_apigatewayv2_stage").values()
    config = load_config(PROJECT_ROOT / "config" / f"{ENV}.toml")
    route_settings = stage["default_route_settings"]
    throttling = (route_settings["throttling_rate_limit"], route_settings["throttling_burst_limit"])
    assert throttling == (config.api.throttling_rate_limit, config.api.throttling_burst_limit) == (10, 20)


def test_the_load_balancer_lives_where_no_pod_does_and_only_it_reaches_the_pods(synthesized):
    eks = _doc(synthesized, "eks")
    [balancer] = _resources(eks, "aws_lb").values()
    [target_group] = _resources(eks, "aws_lb_target_group").values()
    [rule] = [
        r
        for r in _resources(eks, "aws_vpc_security_group_ingress_rule").values()
        if "cluster_security_group_id" in r["security_group_id"]
    ]

    assert all("aws_subnetvpc_public-" in subnet for subnet in balancer["subnets"]) and balancer["internal"] is True
    assert all("aws_subnetvpc_private-" in s for s in _cluster(eks)["vpc_config"]["subnet_ids"])
    assert target_group["target_type"] == "ip" and target_group["tags"] == {
        "eks:eks-cluster-name": "inference-local-eks"
    }
    assert (rule["from_port"], rule["to_port"]) == (8080, 8080) and "aws_security_group" in rule[
        "referenced_security_group_id"
    ]


def test_the_cluster_is_private_encrypted_and_its_logs_keep_the_configured_retention(synthesized):
    eks = _doc(synthesized, "eks")
    cluster = _cluster(eks)
    config = load_config(PROJECT_ROOT / "config" / f"{ENV}.toml")

    assert cluster["version"] == config.compute.eks.kubernetes_version
    assert cluster["vpc_config"]["endpoint_public_access"] is False
    assert "aws_kms_key" in cluster["encryption_config"]["provider"]["key_arn"]
    [group] = _resources(eks, "aws_cloudwatch_log_group").values()
    assert group["retention_in_days"] == config.log_retention_days


def test_the_pod_identities_are_the_queue_worker_and_keda_and_nothing_for_the_model_server(synthesized):
    eks = _doc(synthesized, "eks")
    associations = {
        (a["namespace"], a["service_account"]) for a in _resources(eks, "aws_eks_pod_identity_association").values()
    }

    assert associations == {("inference", "queue-worker"), ("keda", "keda-operator")}


def _statements(doc: dict, role_path: str) -> list[dict]:
    """The statements of the inline policy of the role whose construct path ends with ROLE_PATH."""
    documents = doc["data"]["aws_iam_policy_document"]
    for name, policy in _resources(doc, "aws_iam_role_policy").items():
        if name.startswith(role_path.replace("/", "_") + "_"):
            document = policy["policy"].split(".")[-2]
            return sorted(documents[document]["statement"], key=lambda s: s["sid"])
    raise AssertionError(f"no role policy at {role_path}")


def test_the_queue_worker_pods_get_exactly_the_grants_of_the_ecs_task_role():
    eks_stacks, ecs_stacks = _compose("eks"), _compose("ecs")

    on_eks = _statements(_synth(eks_stacks["eks"]), "queue-worker-identity/policy")
    on_ecs = _statements(_synth(ecs_stacks["compute"]), "queue-worker/task-role-policy")

    def comparable(statements):
        # The data sources of partition and account are each stack's own: compare what they stand for.
        return json.loads(
            json.dumps(statements)
            .replace("data.aws_partition.partition.partition", "PARTITION")
            .replace("data.aws_caller_identity.caller.account_id", "ACCOUNT")
        )

    # Task protection is the ECS agent's call on the task role's behalf: no ECS agent runs in a pod.
    assert [s["sid"] for s in on_ecs if s not in on_eks] == ["ProtectBusyTask"]
    assert comparable(on_eks) == comparable([s for s in on_ecs if s["sid"] != "ProtectBusyTask"])
    assert {s["sid"] for s in on_eks} >= {"ConsumeWorkQueue", "WriteResults", "PublishResults", "MessagingKey"}


def _queue_worker_deployment(synthesized) -> dict:
    objects = yaml.safe_load_all((synthesized[ENV] / "k8s" / ENV / "30-queue-worker.k8s.yaml").read_text())
    return {o["kind"]: o for o in objects if o}


def test_the_queue_worker_pods_run_the_ecs_task_command_environment_and_health_check(synthesized):
    """Read as the local loop's smoke test reads them: it runs either container as a local process."""
    from tools.local.smoke import deployment_container, task_definition_container

    ecs = _synth(_compose("ecs")["compute"])
    [task] = [t for t in _resources(ecs, "aws_ecs_task_definition").values() if "queue-worker" in t["family"]]
    [ecs_container] = json.loads(task["container_definitions"])
    [pod_container] = _queue_worker_deployment(synthesized)["Deployment"]["spec"]["template"]["spec"]["containers"]
    pod_args, pod_environment = deployment_container(synthesized[ENV] / "k8s" / ENV / "30-queue-worker.k8s.yaml")
    ecs_command, ecs_environment = task_definition_container({"containerDefinitions": [ecs_container]})

    assert pod_args == ecs_command == ["work"]
    assert pod_container["livenessProbe"]["exec"]["command"] == ecs_container["healthCheck"]["command"][1:]
    assert sorted(pod_environment) == sorted(ecs_environment)
    # Terraform references on ECS, their plain values in the manifest; every other value is the same.
    assert {k: v for k, v in pod_environment.items() if "${" not in ecs_environment[k]} == {
        k: v for k, v in ecs_environment.items() if "${" not in v
    }
    assert pod_environment["QUEUE_URL"].endswith("/inference-local-eks-default")
    assert ecs_environment["MODEL_URL"] != pod_environment["MODEL_URL"] == "http://inference.inference.svc:8080"


def test_keda_scales_the_queue_worker_on_the_queue_it_consumes_which_the_worker_function_does_not(synthesized):
    config = load_config(PROJECT_ROOT / "config" / f"{ENV}.toml")
    queues = tuple(queue.name for queue in config.messaging.queues)
    objects = _queue_worker_deployment(synthesized)
    [trigger] = objects["ScaledObject"]["spec"]["triggers"]
    [container] = objects["Deployment"]["spec"]["template"]["spec"]["containers"]
    consumed = config.compute.worker_queue_for_fargate(queues)
    sources = _resources(_doc(synthesized, "compute"), "aws_lambda_event_source_mapping")

    assert trigger["metadata"]["queueURL"] == {v["name"]: v["value"] for v in container["env"]}["QUEUE_URL"]
    assert trigger["metadata"]["queueURL"].endswith(f"-{consumed}")
    assert consumed not in config.compute.lambda_worker_queues(queues)
    assert sorted(name.split("_")[0] for name in sources) == [
        f"worker-source-{queue}" for queue in config.compute.lambda_worker_queues(queues)
    ]


def test_keda_may_only_read_the_backlog_of_the_queue_it_scales_on(synthesized):
    statements = _statements(_doc(synthesized, "eks"), "keda-identity/policy")

    assert [(s["sid"], s["actions"]) for s in statements] == [("ReadBacklog", ["sqs:GetQueueAttributes"])]
    assert "aws_sqs_queue" in statements[0]["resources"][0]


def test_every_name_the_eks_stack_builds_is_checked_against_the_aws_limits(synthesized):
    eks = _doc(synthesized, "eks")
    config = load_config(PROJECT_ROOT / "config" / f"{ENV}.toml")
    checked = {name for _, name, _, _ in config.compute.eks_physical_names(config.name_prefix)}
    built = {v["name"] for v in _resources(eks, "aws_iam_role").values()}
    built |= {
        v["name"]
        for kind in ("aws_cloudwatch_log_group", "aws_eks_cluster", "aws_lb", "aws_lb_target_group")
        for v in _resources(eks, kind).values()
    }

    assert checked == built


def test_on_the_emulator_the_gaps_drop_auto_mode_access_entries_pod_identities_and_managed_policies():
    doc = _synth(_compose("eks", "http://127.0.0.1:5000")["eks"])
    cluster = _cluster(doc)

    assert not {"compute_config", "storage_config", "kubernetes_network_config"} & set(cluster)
    for kind in (
        "aws_eks_access_entry",
        "aws_eks_access_policy_association",
        "aws_eks_pod_identity_association",
        "aws_iam_role_policy_attachment",
    ):
        assert _resources(doc, kind) and all(b.get("count") == 0 for b in _resources(doc, kind).values()), kind
    assert _resources(doc, "aws_iam_role_policy"), "the secrets key policy stays on the cluster role"
    assert not any(
        "cluster_security_group_id" in rule["security_group_id"]
        for rule in _resources(doc, "aws_vpc_security_group_ingress_rule").values()
    )


def test_the_manifests_are_written_next_to_the_stacks(synthesized):
    folder = synthesized[ENV] / "k8s" / ENV

    assert sorted(p.name for p in folder.iterdir()) == [
        "00-cluster.k8s.yaml",
        "10-access.k8s.yaml",
        "20-inference.k8s.yaml",
        "30-queue-worker.k8s.yaml",
    ]
    assert _doc(synthesized, "eks")["output"]["kubernetes_manifests"]["value"] == f"k8s/{ENV}"


@pytest.mark.parametrize("env", ["local", "dev", "prod"])
def test_environments_on_ecs_have_no_eks_stack_and_no_manifests(synthesized, env):
    assert not (synthesized[env] / "stacks" / "eks").exists()
    assert not (synthesized[env] / "k8s").exists()
