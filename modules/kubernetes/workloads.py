"""The workloads on EKS as Kubernetes manifests, synthesized with cdk8s from a WorkloadsSpec.

One file per chart, applied in name order (`make k8s-apply`; ADMIN_CHARTS by a cluster admin, the rest by a deploy
role: `make k8s-apply ONLY=admin|deployer`):
- 00-cluster:      the namespace (Pod Security "restricted" enforced) and, on Auto Mode, the switch that turns
                   on NetworkPolicy enforcement; cluster-scoped, so an admin applies it;
- 10-access:       the service accounts, and the deployers' Role: exactly the kinds these manifests contain, in
                   this namespace only (the deploy roles' access entries map to its group);
- 20-inference:    the model server (Deployment, Service, PodDisruptionBudget, HorizontalPodAutoscaler),
                   the TargetGroupBinding that puts its pods into the load balancer's target group, and the
                   NetworkPolicies: nothing in but the load balancer (and the queue worker when it calls the model);
- 30-queue-worker: the queue consumer, scaled on its queue's backlog by KEDA, to zero when idle.

Why cdk8s with plain API objects (no cdk8s-plus): every field is written out here as the API documents it, so a
reviewer reads the same names as in `kubectl explain`, and nothing is defaulted behind our back; cdk8s supplies the
construct tree, the namespace on every namespaced object and the YAML files.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lambdas.contract import HEALTH_CHECK_PATH, MODEL_SERVER_PORT
from modules.kubernetes.spec import (
    INFERENCE,
    KEDA_API,
    QUEUE_WORKER,
    RUN_AS,
    SCRATCH_PATH,
    ContainerSpec,
    WorkloadsSpec,
)

SCRATCH_VOLUME = "scratch"
SCRATCH_SIZE = "1Gi"
GPU_RESOURCE = "nvidia.com/gpu"
# The namespaced kinds the manifests contain, as RBAC names them (API group, resource): the deployers' Role.
DEPLOYER_VERBS = ["get", "list", "watch", "create", "update", "patch", "delete"]
READ_VERBS = ["get", "list", "watch"]
# The charts only a cluster admin may apply: 00-cluster is cluster-scoped (and on Auto Mode writes kube-system), and
# 10-access holds the deployers' own Role and RoleBinding, which the Role never grants (no RBAC for deployers). The
# other charts hold only kinds the deployers' Role grants (tests/kubernetes/test_workloads.py proves both).
ADMIN_CHARTS = ("00-cluster", "10-access")


def applied_by_admin(file: Path) -> bool:
    """Whether FILE (a chart's manifest file) needs a cluster admin, not a deploy role."""
    return file.name.split(".", 1)[0] in ADMIN_CHARTS


def write_manifests(spec: WorkloadsSpec, outdir: Path) -> list[Path]:
    """Synthesize the charts of SPEC into OUTDIR (replacing what was there); returns the files, in apply order."""
    import cdk8s

    outdir.mkdir(parents=True, exist_ok=True)
    for old in outdir.glob("*.k8s.yaml"):
        old.unlink()
    app = cdk8s.App(
        outdir=str(outdir), yaml_output_type=cdk8s.YamlOutputType.FILE_PER_CHART, output_file_extension=".k8s.yaml"
    )
    Manifests(app, spec)
    app.synth()
    return sorted(outdir.glob("*.k8s.yaml"))


class Manifests:
    """The charts of one environment (built on a cdk8s App)."""

    def __init__(self, app: Any, spec: WorkloadsSpec) -> None:
        import cdk8s

        self._cdk8s = cdk8s
        self.spec = spec
        self.labels = {
            "app.kubernetes.io/part-of": spec.project,
            "app.kubernetes.io/instance": spec.environment,
            "app.kubernetes.io/managed-by": "cdk8s",
        }
        self.kinds: list[tuple[str, str]] = []  # (apiVersion, kind) of every namespaced object, for the Role
        cluster = self._chart(app, "00-cluster", namespaced=False)
        access = self._chart(app, "10-access")
        if spec.inference:
            self._inference(self._chart(app, "20-inference"))
        if spec.queue_worker:
            self._queue_worker(self._chart(app, "30-queue-worker"))
        self._cluster(cluster)
        self._access(access)

    # --- plumbing -----------------------------------------------------------------------------------------------

    def _chart(self, app: Any, name: str, *, namespaced: bool = True) -> Any:
        return self._cdk8s.Chart(
            app,
            name,
            namespace=self.spec.namespace if namespaced else None,
            labels=self.labels,
            disable_resource_name_hashes=True,
        )

    def _object(
        self,
        chart: Any,
        api_version: str,
        kind: str,
        name: str,
        body: dict[str, Any],
        *,
        labels: dict[str, str] | None = None,
        annotations: dict[str, str] | None = None,
        namespace: str | None = None,
    ) -> Any:
        cdk8s = self._cdk8s
        metadata = cdk8s.ApiObjectMetadata(name=name, labels=labels, annotations=annotations, namespace=namespace)
        obj = cdk8s.ApiObject(chart, f"{kind}-{name}", api_version=api_version, kind=kind, metadata=metadata)
        for key, value in body.items():
            obj.add_json_patch(cdk8s.JsonPatch.add(f"/{key}", value))
        if chart.namespace:
            self.kinds.append((api_version, kind))
        return obj

    @staticmethod
    def _selector(component: str) -> dict[str, str]:
        return {"app.kubernetes.io/name": component}

    # --- cluster-scoped -----------------------------------------------------------------------------------------

    def _cluster(self, chart: Any) -> None:
        spec = self.spec
        # Pod Security Admission: every pod in the namespace must meet the "restricted" profile (non-root, no
        # privilege escalation, all capabilities dropped, RuntimeDefault seccomp).
        self._object(
            chart,
            "v1",
            "Namespace",
            spec.namespace,
            {},
            labels={
                "pod-security.kubernetes.io/enforce": "restricted",
                "pod-security.kubernetes.io/audit": "restricted",
                "pod-security.kubernetes.io/warn": "restricted",
            },
        )
        if spec.auto_mode:
            # Auto Mode accepts NetworkPolicies but enforces them only once its network policy controller is on
            # (https://docs.aws.amazon.com/eks/latest/userguide/auto-net-pol.html).
            self._object(
                chart,
                "v1",
                "ConfigMap",
                "amazon-vpc-cni",
                {"data": {"enable-network-policy-controller": "true"}},
                namespace="kube-system",
            )

    # --- access -------------------------------------------------------------------------------------------------

    def _access(self, chart: Any) -> None:
        spec = self.spec
        for component in (INFERENCE if spec.inference else None, QUEUE_WORKER if spec.queue_worker else None):
            if component:
                # No Kubernetes API token in the pods: the model server and the consumer never call the API.
                self._object(
                    chart,
                    "v1",
                    "ServiceAccount",
                    component,
                    {"automountServiceAccountToken": False},
                    labels=self._selector(component),
                )
        rules: dict[str, set[str]] = {}
        for api_version, kind in sorted(set(self.kinds)):
            group = api_version.split("/", 1)[0] if "/" in api_version else ""
            rules.setdefault(group, set()).add(_resource(kind))
        self._object(
            chart,
            "rbac.authorization.k8s.io/v1",
            "Role",
            "deployer",
            {
                "rules": [
                    *(
                        {"apiGroups": [group], "resources": sorted(resources), "verbs": DEPLOYER_VERBS}
                        for group, resources in sorted(rules.items())
                    ),
                    # Enough to watch a rollout and read why a pod failed; no exec, no port-forward, no secrets.
                    {"apiGroups": [""], "resources": ["pods", "pods/log", "events"], "verbs": READ_VERBS},
                    {"apiGroups": ["apps"], "resources": ["replicasets"], "verbs": READ_VERBS},
                ]
            },
        )
        self._object(
            chart,
            "rbac.authorization.k8s.io/v1",
            "RoleBinding",
            "deployer",
            {
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "deployer"},
                "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": spec.deploy_group}],
            },
        )

    # --- pods ---------------------------------------------------------------------------------------------------

    def _pod(
        self,
        component: str,
        container: ContainerSpec,
        *,
        ports: list[dict[str, Any]] | None = None,
        probes: dict[str, Any] | None = None,
        termination_grace_seconds: int,
        lifecycle: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """The pod template both workloads share: the Fargate task's hardening, as Kubernetes fields."""
        spec = self.spec
        cpu, memory = f"{container.cpu_millicores}m", f"{container.memory_mib}Mi"
        resources: dict[str, Any] = {
            "requests": {"cpu": cpu, "memory": memory},
            "limits": {"cpu": cpu, "memory": memory},
        }
        if container.gpus:
            resources["requests"][GPU_RESOURCE] = resources["limits"][GPU_RESOURCE] = str(container.gpus)
        main: dict[str, Any] = {
            "name": component,
            "image": container.image,
            # Tags are immutable in ECR; Always re-checks the pull credentials and costs one manifest request.
            "imagePullPolicy": "Always",
            "env": [{"name": key, "value": value} for key, value in sorted(container.environment.items())],
            "resources": resources,
            "securityContext": {
                "allowPrivilegeEscalation": False,
                "readOnlyRootFilesystem": True,
                "runAsNonRoot": True,
                "runAsUser": RUN_AS,
                "runAsGroup": RUN_AS,
                "privileged": False,
                "capabilities": {"drop": ["ALL"]},
                "seccompProfile": {"type": "RuntimeDefault"},
            },
            "volumeMounts": [{"name": SCRATCH_VOLUME, "mountPath": SCRATCH_PATH}],
            **({"ports": ports} if ports else {}),
            **(probes or {}),
            **({"lifecycle": lifecycle} if lifecycle else {}),
        }
        if container.args:
            main["args"] = list(container.args)
        pod: dict[str, Any] = {
            "serviceAccountName": component,
            "automountServiceAccountToken": False,
            "enableServiceLinks": False,
            "terminationGracePeriodSeconds": termination_grace_seconds,
            "securityContext": {
                "runAsNonRoot": True,
                "runAsUser": RUN_AS,
                "runAsGroup": RUN_AS,
                "fsGroup": RUN_AS,
                "seccompProfile": {"type": "RuntimeDefault"},
            },
            "containers": [main],
            "volumes": [{"name": SCRATCH_VOLUME, "emptyDir": {"sizeLimit": SCRATCH_SIZE}}],
            # One pod per zone before a second lands in any zone; hosts spread where they can.
            "topologySpreadConstraints": [
                {
                    "maxSkew": 1,
                    "topologyKey": "topology.kubernetes.io/zone",
                    "whenUnsatisfiable": "DoNotSchedule",
                    "labelSelector": {"matchLabels": self._selector(component)},
                },
                {
                    "maxSkew": 1,
                    "topologyKey": "kubernetes.io/hostname",
                    "whenUnsatisfiable": "ScheduleAnyway",
                    "labelSelector": {"matchLabels": self._selector(component)},
                },
            ],
        }
        if container.gpus and spec.gpu_toleration:
            pod["tolerations"] = [{"key": GPU_RESOURCE, "operator": "Exists", "effect": "NoSchedule"}]
        return {"metadata": {"labels": {**self.labels, **self._selector(component)}}, "spec": pod}

    def _deployment(self, chart: Any, component: str, template: dict[str, Any], *, max_surge: str) -> None:
        # No `replicas`: the autoscaler (HPA or KEDA) owns the count; an apply must not reset it.
        self._object(
            chart,
            "apps/v1",
            "Deployment",
            component,
            {
                "spec": {
                    "revisionHistoryLimit": 5,
                    "selector": {"matchLabels": self._selector(component)},
                    "strategy": {
                        "type": "RollingUpdate",
                        "rollingUpdate": {"maxUnavailable": 0, "maxSurge": max_surge},
                    },
                    "template": template,
                }
            },
            labels=self._selector(component),
        )

    # --- inference ----------------------------------------------------------------------------------------------

    def _inference(self, chart: Any) -> None:
        spec, service = self.spec, self.spec.inference
        ping = {"httpGet": {"path": HEALTH_CHECK_PATH, "port": "http"}}
        probes = {
            # The model loads before /ping answers: up to 5 minutes, without the liveness probe killing it.
            "startupProbe": {**ping, "periodSeconds": 5, "timeoutSeconds": 4, "failureThreshold": 60},
            "readinessProbe": {**ping, "periodSeconds": 10, "timeoutSeconds": 4, "failureThreshold": 3},
            "livenessProbe": {**ping, "periodSeconds": 15, "timeoutSeconds": 5, "failureThreshold": 3},
        }
        # The load balancer deregisters a terminating pod while it still serves: keep serving until it stopped.
        lifecycle = {"preStop": {"exec": {"command": ["sleep", str(service.deregistration_delay_seconds)]}}}
        template = self._pod(
            INFERENCE,
            service.container,
            ports=[{"name": "http", "containerPort": MODEL_SERVER_PORT, "protocol": "TCP"}],
            probes=probes,
            termination_grace_seconds=service.termination_grace_seconds,
            lifecycle=lifecycle,
        )
        self._deployment(chart, INFERENCE, template, max_surge="25%")
        self._object(
            chart,
            "v1",
            "Service",
            INFERENCE,
            {
                "spec": {
                    "type": "ClusterIP",
                    "selector": self._selector(INFERENCE),
                    "ports": [{"name": "http", "port": MODEL_SERVER_PORT, "targetPort": "http", "protocol": "TCP"}],
                }
            },
            labels=self._selector(INFERENCE),
        )
        # maxUnavailable, not minAvailable: with one replica a node drain (Auto Mode expires nodes) still proceeds.
        self._object(
            chart,
            "policy/v1",
            "PodDisruptionBudget",
            INFERENCE,
            {"spec": {"maxUnavailable": 1, "selector": {"matchLabels": self._selector(INFERENCE)}}},
        )
        self._object(
            chart,
            "autoscaling/v2",
            "HorizontalPodAutoscaler",
            INFERENCE,
            {
                "spec": {
                    "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": INFERENCE},
                    "minReplicas": service.min_replicas,
                    "maxReplicas": service.max_replicas,
                    "metrics": [
                        {
                            "type": "Resource",
                            "resource": {
                                "name": "cpu",
                                "target": {"type": "Utilization", "averageUtilization": service.cpu_target_percent},
                            },
                        }
                    ],
                    "behavior": {"scaleDown": {"stabilizationWindowSeconds": 300}},
                }
            },
        )
        self._object(
            chart,
            spec.target_group_binding_api,
            "TargetGroupBinding",
            INFERENCE,
            {
                "spec": {
                    "serviceRef": {"name": INFERENCE, "port": MODEL_SERVER_PORT},
                    "targetGroupName": service.target_group_name,
                    "targetType": "ip",
                }
            },
        )
        self._network_policies(chart)

    def _network_policies(self, chart: Any) -> None:
        service = self.spec.inference
        sources: list[dict[str, Any]] = [{"ipBlock": {"cidr": cidr}} for cidr in service.load_balancer_cidrs]
        if service.admit_queue_worker:
            sources.append({"podSelector": {"matchLabels": self._selector(QUEUE_WORKER)}})
        self._object(
            chart,
            "networking.k8s.io/v1",
            "NetworkPolicy",
            "default-deny-ingress",
            {"spec": {"podSelector": {}, "policyTypes": ["Ingress"]}},
        )
        self._object(
            chart,
            "networking.k8s.io/v1",
            "NetworkPolicy",
            f"{INFERENCE}-from-load-balancer",
            {
                "spec": {
                    "podSelector": {"matchLabels": self._selector(INFERENCE)},
                    "policyTypes": ["Ingress"],
                    "ingress": [{"from": sources, "ports": [{"protocol": "TCP", "port": MODEL_SERVER_PORT}]}],
                }
            },
        )

    # --- queue worker -------------------------------------------------------------------------------------------

    def _queue_worker(self, chart: Any) -> None:
        spec, worker = self.spec, self.spec.queue_worker
        # A consumer serves no HTTP: the liveness probe is the ECS task's health check (the receive loop's heartbeat
        # file, containers/inference/queue_worker/health.py), with its timings; no readiness (no traffic comes in).
        probes = (
            {
                "livenessProbe": {
                    "exec": {"command": list(worker.health_check_command)},
                    "initialDelaySeconds": 60,
                    "periodSeconds": 30,
                    "timeoutSeconds": 5,
                    "failureThreshold": 3,
                }
            }
            if worker.health_check_command
            else None
        )
        template = self._pod(
            QUEUE_WORKER, worker.container, probes=probes, termination_grace_seconds=worker.termination_grace_seconds
        )
        self._deployment(chart, QUEUE_WORKER, template, max_surge="1")
        # KEDA reads the queue with its own pod identity (the keda-operator service account's role).
        self._object(
            chart,
            KEDA_API,
            "TriggerAuthentication",
            QUEUE_WORKER,
            {"spec": {"podIdentity": {"provider": "aws", "identityOwner": "keda"}}},
        )
        self._object(
            chart,
            KEDA_API,
            "ScaledObject",
            QUEUE_WORKER,
            {
                "spec": {
                    "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": QUEUE_WORKER},
                    "minReplicaCount": worker.min_replicas,
                    "maxReplicaCount": worker.max_replicas,
                    "pollingInterval": 30,
                    "cooldownPeriod": worker.cooldown_seconds,
                    "advanced": {
                        "horizontalPodAutoscalerConfig": {
                            "behavior": {"scaleDown": {"stabilizationWindowSeconds": worker.scale_in_window_seconds}}
                        }
                    },
                    "triggers": [
                        {
                            "type": "aws-sqs-queue",
                            "name": "backlog",
                            "authenticationRef": {"name": QUEUE_WORKER, "kind": "TriggerAuthentication"},
                            "metadata": {
                                "queueURL": worker.queue_url,
                                "awsRegion": spec.region,
                                "queueLength": str(worker.messages_per_replica),
                                # Messages in flight count as backlog, so a pod holding a job is never scaled away; any
                                # visible message wakes the worker from zero.
                                "scaleOnInFlight": "true",
                                "activationQueueLength": "0",
                            },
                        }
                    ],
                }
            },
        )


def _resource(kind: str) -> str:
    """The RBAC resource name of KIND (its plural, lower case)."""
    lower = kind.lower()
    if lower.endswith("y"):
        return lower[:-1] + "ies"
    if lower.endswith("s"):
        return lower + "es"
    return lower + "s"
