"""The workload manifests cdk8s writes: the Fargate task's hardening as Kubernetes fields, probes on /ping,
zone spread, the autoscalers, the load balancer wiring and the network policies."""

from __future__ import annotations

import dataclasses

import pytest
import yaml

from modules.kubernetes.spec import ContainerSpec, InferenceSpec, QueueWorkerSpec, WorkloadsSpec
from modules.kubernetes.workloads import _resource, applied_by_admin, write_manifests

IMAGE = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/p/inference:1.0.0"
QUEUE = "https://sqs.eu-west-1.amazonaws.com/123456789012/p-default"


def _spec(**overrides) -> WorkloadsSpec:
    inference = InferenceSpec(
        container=ContainerSpec(image=IMAGE, cpu_millicores=512, memory_mib=1024, environment={"LOG_LEVEL": "INFO"}),
        min_replicas=2,
        max_replicas=6,
        cpu_target_percent=60,
        load_balancer_cidrs=("10.0.32.0/24", "10.0.33.0/24"),
        target_group_name="p-inference",
    )
    worker = QueueWorkerSpec(
        container=ContainerSpec(
            image=IMAGE, cpu_millicores=1024, memory_mib=2048, environment={"QUEUE_URL": QUEUE}, args=("work",)
        ),
        queue_url=QUEUE,
        min_replicas=0,
        max_replicas=4,
        messages_per_replica=10,
        cooldown_seconds=600,
        scale_in_window_seconds=600,
        termination_grace_seconds=90,
    )
    values = {
        "environment": "test",
        "project": "p",
        "namespace": "inference",
        "region": "eu-west-1",
        "auto_mode": True,
        "deploy_group": "p-deployers",
        "inference": inference,
        "queue_worker": worker,
        **overrides,
    }
    return WorkloadsSpec(**values)


def _objects(tmp_path, spec: WorkloadsSpec) -> dict[tuple[str, str], dict]:
    files = write_manifests(spec, tmp_path / "k8s")
    return {(d["kind"], d["metadata"]["name"]): d for path in files for d in yaml.safe_load_all(path.read_text())}


@pytest.fixture
def objects(tmp_path):
    return _objects(tmp_path, _spec())


def test_the_charts_are_files_in_apply_order(tmp_path):
    files = write_manifests(_spec(), tmp_path / "k8s")

    assert [f.name for f in files] == [
        "00-cluster.k8s.yaml",
        "10-access.k8s.yaml",
        "20-inference.k8s.yaml",
        "30-queue-worker.k8s.yaml",
    ]


def test_the_model_server_runs_the_image_non_root_read_only_with_its_size_and_ping_probes(objects):
    pod = objects[("Deployment", "inference")]["spec"]["template"]["spec"]
    [container] = pod["containers"]

    assert container["image"] == IMAGE
    assert container["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "runAsUser": 10001,
        "runAsGroup": 10001,
        "privileged": False,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    assert container["resources"] == {
        "requests": {"cpu": "512m", "memory": "1024Mi"},
        "limits": {"cpu": "512m", "memory": "1024Mi"},
    }
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"] == {"path": "/ping", "port": "http"}
    assert container["ports"] == [{"name": "http", "containerPort": 8080, "protocol": "TCP"}]
    assert container["volumeMounts"] == [{"name": "scratch", "mountPath": "/tmp"}]
    assert pod["automountServiceAccountToken"] is False and pod["serviceAccountName"] == "inference"


def test_pods_spread_over_zones_first(objects):
    [zone, host] = objects[("Deployment", "inference")]["spec"]["template"]["spec"]["topologySpreadConstraints"]

    assert (zone["topologyKey"], zone["whenUnsatisfiable"]) == ("topology.kubernetes.io/zone", "DoNotSchedule")
    assert host["topologyKey"] == "kubernetes.io/hostname"
    assert zone["labelSelector"] == {"matchLabels": {"app.kubernetes.io/name": "inference"}}


def test_the_autoscalers_own_the_replica_counts(objects):
    hpa = objects[("HorizontalPodAutoscaler", "inference")]["spec"]
    scaled = objects[("ScaledObject", "queue-worker")]["spec"]

    assert "replicas" not in objects[("Deployment", "inference")]["spec"]
    assert "replicas" not in objects[("Deployment", "queue-worker")]["spec"]
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (2, 6)
    assert hpa["metrics"][0]["resource"]["target"] == {"type": "Utilization", "averageUtilization": 60}
    assert objects[("PodDisruptionBudget", "inference")]["spec"]["maxUnavailable"] == 1
    assert (scaled["minReplicaCount"], scaled["maxReplicaCount"]) == (0, 4)


def test_keda_scales_the_worker_on_the_queue_backlog_with_pod_identity_down_to_zero(objects):
    [trigger] = objects[("ScaledObject", "queue-worker")]["spec"]["triggers"]
    authentication = objects[("TriggerAuthentication", "queue-worker")]["spec"]

    assert trigger["type"] == "aws-sqs-queue"
    assert trigger["metadata"] == {
        "queueURL": QUEUE,
        "awsRegion": "eu-west-1",
        "queueLength": "10",
        "scaleOnInFlight": "true",
        "activationQueueLength": "0",
    }
    assert trigger["authenticationRef"] == {"name": "queue-worker", "kind": "TriggerAuthentication"}
    assert authentication == {"podIdentity": {"provider": "aws", "identityOwner": "keda"}}


def test_the_worker_runs_the_queue_consumer_and_has_time_to_finish_its_job(objects):
    pod = objects[("Deployment", "queue-worker")]["spec"]["template"]["spec"]

    assert pod["containers"][0]["args"] == ["work"]
    assert pod["terminationGracePeriodSeconds"] == 90
    assert "ports" not in pod["containers"][0]


def test_only_the_load_balancer_subnets_reach_the_model_server(objects):
    policy = objects[("NetworkPolicy", "inference-from-load-balancer")]["spec"]
    deny = objects[("NetworkPolicy", "default-deny-ingress")]["spec"]

    assert deny == {"podSelector": {}, "policyTypes": ["Ingress"]}
    assert policy["ingress"] == [
        {
            "from": [{"ipBlock": {"cidr": "10.0.32.0/24"}}, {"ipBlock": {"cidr": "10.0.33.0/24"}}],
            "ports": [{"protocol": "TCP", "port": 8080}],
        }
    ]


def test_a_queue_worker_calling_the_model_in_the_cluster_is_admitted_too(tmp_path):
    spec = _spec()
    spec = dataclasses.replace(spec, inference=dataclasses.replace(spec.inference, admit_queue_worker=True))

    sources = _objects(tmp_path, spec)[("NetworkPolicy", "inference-from-load-balancer")]["spec"]["ingress"][0]["from"]

    assert {"podSelector": {"matchLabels": {"app.kubernetes.io/name": "queue-worker"}}} in sources


@pytest.mark.parametrize(
    ("auto_mode", "api_version"), [(True, "eks.amazonaws.com/v1"), (False, "elbv2.k8s.aws/v1beta1")]
)
def test_the_target_group_binding_fills_the_stacks_target_group_under_the_controllers_api(
    tmp_path, auto_mode, api_version
):
    binding = _objects(tmp_path, _spec(auto_mode=auto_mode))[("TargetGroupBinding", "inference")]

    assert binding["apiVersion"] == api_version
    assert binding["spec"] == {
        "serviceRef": {"name": "inference", "port": 8080},
        "targetGroupName": "p-inference",
        "targetType": "ip",
    }


def test_auto_mode_turns_network_policy_enforcement_on_and_a_node_group_cluster_does_it_in_its_addon(tmp_path):
    assert ("ConfigMap", "amazon-vpc-cni") in _objects(tmp_path / "a", _spec(auto_mode=True))
    assert ("ConfigMap", "amazon-vpc-cni") not in _objects(tmp_path / "b", _spec(auto_mode=False))


def test_gpu_pods_ask_for_their_gpus_and_tolerate_the_gpu_nodes_taint(tmp_path):
    spec = _spec(gpu_toleration=True)
    spec = dataclasses.replace(
        spec,
        inference=dataclasses.replace(spec.inference, container=dataclasses.replace(spec.inference.container, gpus=1)),
    )

    pod = _objects(tmp_path, spec)[("Deployment", "inference")]["spec"]["template"]["spec"]

    assert pod["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == "1"
    assert pod["tolerations"] == [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]


def test_the_namespace_enforces_the_restricted_pod_security_profile(objects):
    labels = objects[("Namespace", "inference")]["metadata"]["labels"]

    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"


def test_deployers_may_change_exactly_the_kinds_of_the_manifests_and_never_rbac(objects):
    rules = objects[("Role", "deployer")]["rules"]
    writable = {
        (group, resource)
        for rule in rules
        if "create" in rule["verbs"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
    }
    binding = objects[("RoleBinding", "deployer")]

    assert writable == {
        ("", "serviceaccounts"),
        ("", "services"),
        ("apps", "deployments"),
        ("autoscaling", "horizontalpodautoscalers"),
        ("eks.amazonaws.com", "targetgroupbindings"),
        ("keda.sh", "scaledobjects"),
        ("keda.sh", "triggerauthentications"),
        ("networking.k8s.io", "networkpolicies"),
        ("policy", "poddisruptionbudgets"),
    }
    assert binding["subjects"] == [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "p-deployers"}]


@pytest.mark.parametrize("auto_mode", [True, False])
def test_a_deploy_role_may_apply_every_object_of_its_files_and_each_admin_file_needs_an_admin(tmp_path, auto_mode):
    files = write_manifests(_spec(auto_mode=auto_mode), tmp_path / "k8s")
    documents = {path.name: list(yaml.safe_load_all(path.read_text())) for path in files}
    [role] = [d for d in documents["10-access.k8s.yaml"] if d["kind"] == "Role"]
    writable = {
        (group, resource)
        for rule in role["rules"]
        if {"create", "patch"} <= set(rule["verbs"])
        for group in rule["apiGroups"]
        for resource in rule["resources"]
    }

    def deployer_may(document) -> bool:
        api = document["apiVersion"]
        group = api.split("/", 1)[0] if "/" in api else ""
        in_namespace = document["metadata"].get("namespace") == role["metadata"]["namespace"]
        return in_namespace and (group, _resource(document["kind"])) in writable

    deployer = [name for name in documents if not applied_by_admin(tmp_path / name)]
    admin = [name for name in documents if applied_by_admin(tmp_path / name)]
    assert deployer == ["20-inference.k8s.yaml", "30-queue-worker.k8s.yaml"]
    assert admin == ["00-cluster.k8s.yaml", "10-access.k8s.yaml"]
    assert all(deployer_may(d) for name in deployer for d in documents[name])
    assert all(not all(deployer_may(d) for d in documents[name]) for name in admin)


def test_without_a_queue_worker_there_is_no_scaler_and_no_worker_account(tmp_path):
    objects = _objects(tmp_path, _spec(queue_worker=None))

    assert not {kind for kind, _ in objects} & {"ScaledObject", "TriggerAuthentication"}
    assert ("ServiceAccount", "queue-worker") not in objects
