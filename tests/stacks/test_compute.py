"""The compute stack: wiring to network, registry, storage and messaging; the env-var contract; least-privilege
grants on exact ARNs; production protections; and every config check that guards it."""

from __future__ import annotations

import json
import re

import pytest

from lambdas import contract
from modules.config import ConfigError, load_config
from modules.config.lambdas import handler_folders
from tests.config.config_text import load_config_text, shipped_config_text
from tests.conftest import PROJECT_ROOT


def _doc(synthesized, env: str) -> dict:
    return json.loads((synthesized[env] / "stacks" / "compute" / "cdk.tf.json").read_text())


def _by_name(doc: dict, resource_type: str, key: str = "function_name") -> dict:
    return {v[key]: v for v in doc["resource"].get(resource_type, {}).values()}


def _queue_of(reference: str) -> str:
    """The work queue a cross-stack reference to a queue's ARN or URL names (messaging's construct id)."""
    return re.search(r"aws_sqs_queuequeue-([\w-]+?)_queue_", reference).group(1)


def _policy_of(doc: dict, function: str) -> dict[str, dict]:
    """sid -> statement of the least-privilege policy of FUNCTION (a folder name)."""
    documents = doc["data"]["aws_iam_policy_document"]
    statements = next(v for k, v in documents.items() if k.startswith(f"function-{function}_policy"))["statement"]
    return {st["sid"]: st for st in statements}


# --- wiring -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("env", ["local", "dev", "prod"])
def test_compute_depends_on_network_registry_storage_and_messaging(env, synthesized):
    manifest = json.loads((synthesized[env] / "manifest.json").read_text())
    assert set(manifest["stacks"]["compute"]["dependencies"]) == {"network", "registry", "storage", "messaging"}


def test_one_function_per_lambdas_folder_with_the_contract_handler(synthesized):
    functions = _by_name(_doc(synthesized, "dev"), "aws_lambda_function")
    # dev has no asynchronous endpoint, so no async_results function (see the local environment below)
    deployed = [name for name in handler_folders() if name != "async_results"]
    assert sorted(functions) == sorted(f"inference-dev-{name}" for name in deployed)
    for name in deployed:
        function = functions[f"inference-dev-{name}"]
        assert function["handler"] == f"lambdas.{name}.handler.handler"
        assert function["runtime"] == "python3.12"
        assert function["filename"].startswith("assets/")
        assert function["tracing_config"] == {"mode": "Active"}
        assert function["kms_key_arn"].startswith("${aws_kms_key.compute-key")
        assert str(function["vpc_config"]["subnet_ids"]).count("cross-stack-reference-input-network")


def test_environment_variables_are_the_contract_names(synthesized):
    functions = _by_name(_doc(synthesized, "dev"), "aws_lambda_function")
    env = {name.removeprefix("inference-dev-"): f["environment"]["variables"] for name, f in functions.items()}
    assert set(env["submit"]) == {
        contract.RESULTS_BUCKET,
        contract.REQUESTS_TOPIC_ARN,
        contract.MAX_PAYLOAD_BYTES,
        contract.LOG_LEVEL,
    }
    assert set(env["status"]) == {contract.RESULTS_BUCKET, contract.LOG_LEVEL}
    assert env["predict"][contract.MODEL_BACKEND] == contract.BACKEND_SAGEMAKER
    assert env["predict"][contract.ENDPOINT_NAME] == "inference-dev-inference"
    assert {contract.RESULTS_BUCKET, contract.RESULTS_TOPIC_ARN, contract.MODEL_BACKEND, contract.ENDPOINT_NAME} <= set(
        env["worker"]
    )
    assert "messaging" in env["submit"][contract.REQUESTS_TOPIC_ARN]


def test_the_http_backend_points_functions_at_the_load_balancer(synthesized):
    doc = _doc(synthesized, "local")
    predict = _by_name(doc, "aws_lambda_function")["inference-local-predict"]["environment"]["variables"]
    assert predict[contract.MODEL_BACKEND] == contract.BACKEND_HTTP
    assert re.fullmatch(r"http://\$\{aws_lb\.load-balancer_\w+\.dns_name\}", predict[contract.MODEL_URL])
    assert "InvokeOwnEndpoint" not in _policy_of(doc, "predict")


def test_grants_name_exact_arns_and_prefixes(synthesized):
    doc = _doc(synthesized, "dev")
    submit = _policy_of(doc, "submit")
    assert submit["WriteRequests"]["actions"] == ["s3:PutObject", "s3:DeleteObject"]
    assert all(r.endswith(f"/{contract.REQUESTS_PREFIX}*") for r in submit["WriteRequests"]["resources"])
    assert submit["PublishRequests"]["resources"][0].startswith(
        "${data.terraform_remote_state.cross-stack-reference-input-messaging"
    )
    status = _policy_of(doc, "status")
    assert {r.rsplit("/", 1)[-1] for r in status["ReadJobs"]["resources"]} == {"*"}
    assert status["ReadJobs"]["actions"] == ["s3:GetObject"]
    worker = _policy_of(doc, "worker")
    assert worker["InvokeOwnEndpoint"]["resources"] == [
        (
            "arn:${data.aws_partition.partition.partition}:sagemaker:eu-west-1:"
            "${data.aws_caller_identity.caller.account_id}:endpoint/inference-dev-inference"
        )
    ]
    assert len(worker["ConsumeWorkQueues"]["resources"]) == 1, "the queue worker consumes the other queue"
    for function in handler_folders():
        if f"function-{function}_policy" not in "".join(doc["data"]["aws_iam_policy_document"]):
            continue
        for st in _policy_of(doc, function).values():
            if st["resources"] == ["*"]:
                assert st["sid"] in ("XRayTraces", "VpcInterfacesDescribe"), st


def test_the_worker_function_consumes_the_queues_the_queue_worker_does_not_reporting_partial_failures(synthesized):
    mappings = _doc(synthesized, "dev")["resource"]["aws_lambda_event_source_mapping"].values()
    assert [_queue_of(mapping["event_source_arn"]) for mapping in mappings] == ["priority"]
    for mapping in mappings:
        assert mapping["function_response_types"] == ["ReportBatchItemFailures"]
        assert mapping["scaling_config"] == {"maximum_concurrency": 5}
        assert mapping["batch_size"] == 2


def test_lambda_and_service_groups_allow_only_https_to_the_vpc_and_s3(synthesized):
    doc = _doc(synthesized, "prod")
    for rule in doc["resource"]["aws_vpc_security_group_egress_rule"].values():
        assert rule.get("cidr_ipv4") != "0.0.0.0/0"
    ingress = doc["resource"]["aws_vpc_security_group_ingress_rule"].values()
    assert all(
        r.get("cidr_ipv4", "").startswith("${data.terraform_remote_state") or r.get("referenced_security_group_id")
        for r in ingress
    )


def test_production_protects_the_load_balancer_and_dev_does_not(synthesized):
    assert next(iter(_doc(synthesized, "prod")["resource"]["aws_lb"].values()))["enable_deletion_protection"] is True
    assert next(iter(_doc(synthesized, "dev")["resource"]["aws_lb"].values()))["enable_deletion_protection"] is False


def test_production_runs_the_configured_immutable_tag(synthesized):
    doc = _doc(synthesized, "prod")
    for task in doc["resource"]["aws_ecs_task_definition"].values():
        assert json.loads(task["container_definitions"])[0]["image"].endswith(":1.0.0")


def test_services_autoscale_and_the_queue_worker_scales_on_backlog_only(synthesized):
    doc = _doc(synthesized, "dev")
    targets = {t["resource_id"].split("/")[-1]: t for t in doc["resource"]["aws_appautoscaling_target"].values()}
    assert len(targets) == 2
    policies = {p["name"]: p["policy_type"] for p in doc["resource"]["aws_appautoscaling_policy"].values()}
    assert policies == {
        "cpu-target-tracking": "TargetTrackingScaling",
        "requests-target-tracking": "TargetTrackingScaling",
        "inference-dev-queue-worker-backlog-per-task": "TargetTrackingScaling",
        "inference-dev-queue-worker-scale-out": "StepScaling",
        "inference-dev-queue-worker-scale-in": "StepScaling",
    }


def test_outputs_name_functions_load_balancer_and_cluster(synthesized):
    outputs = _doc(synthesized, "dev")["output"]
    assert {f"function_name_{name}" for name in handler_folders() if name != "async_results"} <= set(outputs)
    assert {"inference_load_balancer_dns", "inference_listener_arn", "ecs_cluster_name", "model_url"} <= set(outputs)
    assert all(outputs[name].get("description") for name in outputs if not name.startswith("cross-stack-output"))


# --- the queue worker: one consumer per queue, the image's `work` command, Fargate Spot ---------------------------


def _queue_worker(doc: dict) -> tuple[dict, dict, dict]:
    """(container definition, environment, service) of the queue worker."""
    task = next(t for t in doc["resource"]["aws_ecs_task_definition"].values() if t["family"].endswith("queue-worker"))
    [container] = json.loads(task["container_definitions"])
    service = next(s for s in doc["resource"]["aws_ecs_service"].values() if s["name"].endswith("queue-worker"))
    return container, {e["name"]: e["value"] for e in container["environment"]}, service


@pytest.mark.parametrize("env", ["local", "dev", "prod"])
def test_every_work_queue_has_exactly_one_consumer(synthesized, env):
    doc = _doc(synthesized, env)
    config = load_config(PROJECT_ROOT / "config" / f"{env}.toml")
    by_function = [
        _queue_of(m["event_source_arn"])
        for m in doc["resource"]["aws_lambda_event_source_mapping"].values()
        if "worker" in m["function_name"]
    ]
    _, environment, _ = _queue_worker(doc)
    by_container = [_queue_of(environment[contract.QUEUE_URL])]

    assert sorted(by_function + by_container) == sorted(queue.name for queue in config.messaging.queues)


def test_the_prod_queue_worker_runs_the_consumer_on_spot_with_a_health_check_and_the_full_stop_timeout(synthesized):
    container, environment, service = _queue_worker(_doc(synthesized, "prod"))

    assert container["command"] == [contract.WORK_COMMAND] and "portMappings" not in container
    assert container["healthCheck"]["command"] == ["CMD", "python", "-m", "queue_worker.health"]
    assert container["stopTimeout"] == 120
    assert environment[contract.QUEUE_BATCH_SIZE] == "5"
    assert environment[contract.MODEL_BACKEND] == contract.BACKEND_SAGEMAKER
    assert "launch_type" not in service
    assert service["capacity_provider_strategy"] == [
        {"base": 1, "capacity_provider": "FARGATE", "weight": 1},
        {"base": 0, "capacity_provider": "FARGATE_SPOT", "weight": 3},
    ]
    assert service["depends_on"] == ["aws_ecs_cluster_capacity_providers.cluster_capacity-providers_D17397A4"]


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_the_inference_service_stays_on_on_demand_capacity(synthesized, env):
    service = next(
        s for s in _doc(synthesized, env)["resource"]["aws_ecs_service"].values() if s["name"].endswith("-inference")
    )
    assert service["launch_type"] == "FARGATE" and "capacity_provider_strategy" not in service


def test_the_queue_worker_may_protect_only_its_own_clusters_tasks(synthesized):
    statements = {st["sid"]: st for st in _statements(_doc(synthesized, "prod"), "queue-worker_task-role-document")}
    protect = statements["ProtectBusyTask"]
    assert protect["actions"] == ["ecs:UpdateTaskProtection"]
    assert protect["resources"] == [
        "arn:${data.aws_partition.partition.partition}:ecs:eu-west-1:"
        "${data.aws_caller_identity.caller.account_id}:task/inference-prod/*"
    ]


def test_an_async_endpoints_callers_hand_off_and_async_results_translates_its_notifications(synthesized):
    """local: the queue worker calls the asynchronous endpoint; async_results consumes its notifications."""
    doc = _doc(synthesized, "local")
    _, environment, _ = _queue_worker(doc)
    statements = {st["sid"]: st for st in _statements(doc, "queue-worker_task-role-document")}
    functions = _by_name(doc, "aws_lambda_function")
    mapping = next(
        m for m in doc["resource"]["aws_lambda_event_source_mapping"].values() if "async-results" in json.dumps(m)
    )

    assert environment[contract.MODEL_BACKEND] == contract.BACKEND_SAGEMAKER_ASYNC
    assert statements["InvokeOwnEndpointAsync"]["actions"] == ["sagemaker:InvokeEndpointAsync"]
    assert statements["WriteAsyncInputs"]["resources"][0].endswith(f"/{contract.ASYNC_INPUT_PREFIX}*")
    assert "InvokeOwnEndpoint" not in statements
    assert functions["inference-local-async-results"]["handler"] == "lambdas.async_results.handler.handler"
    assert "async-notifications" in mapping["event_source_arn"] and mapping["batch_size"] == 10
    translator = {st["sid"]: st for st in _statements(doc, "function-async_results_policy")}
    assert sorted(r.rsplit("/", 2)[-2] for r in translator["ReadAsyncAnswers"]["resources"]) == ["input", "output"]


# --- only what is used is deployed; reservations are opt-in --------------------------------------------------------


def test_prod_deploys_no_predict_function_because_its_predict_route_goes_to_fargate(synthesized):
    """GIVEN api.predict_backend = "fargate" in prod, THEN the predict function, its role, log group, package and
    output are all absent, while dev (predict_backend = "lambda") keeps them."""
    prod, dev = _doc(synthesized, "prod"), _doc(synthesized, "dev")
    assert sorted(_by_name(prod, "aws_lambda_function")) == [
        "inference-prod-status",
        "inference-prod-submit",
        "inference-prod-worker",
    ]
    assert not [
        k
        for kind in ("aws_iam_role", "aws_cloudwatch_log_group")
        for k, v in prod["resource"][kind].items()
        if "predict" in json.dumps(v)
    ]
    assert "function_name_predict" not in prod["output"]
    assert "inference-dev-predict" in _by_name(dev, "aws_lambda_function")
    assert "function_name_predict" in dev["output"]


@pytest.mark.parametrize("env", ["local", "dev", "prod"])
def test_no_function_reserves_concurrency_unless_its_config_asks(env, synthesized):
    """Lambda refuses a reservation that leaves the account under 100 unreserved executions (new accounts can
    have a quota of 10), so no environment file reserves any by default."""
    functions = _by_name(_doc(synthesized, env), "aws_lambda_function")
    assert functions
    assert {
        name: f["reserved_concurrent_executions"]
        for name, f in functions.items()
        if "reserved_concurrent_executions" in f
    } == {}


def test_a_reservation_applies_to_the_one_function_that_sets_it_and_an_idle_worker_is_left_out(tmp_path):
    """GIVEN submit reserves 5 and one work queue, consumed by the queue worker, THEN only submit carries a
    reservation, and the worker function, its event sources and its output are gone."""
    from cdktf import Testing

    path = tmp_path / "local.toml"
    path.write_text(
        (PROJECT_ROOT / "config" / "local.toml")
        .read_text()
        .replace('[[messaging.queues]]\nname = "priority"\nfilter = { priority = ["high"] }\n', "")
        .replace(
            "[compute.inference_service]",
            "[compute.lambdas.functions.submit]\nreserved_concurrency = 5\n\n[compute.inference_service]",
        )
    )
    stacks = _compose(load_config(path))
    doc = json.loads(Testing.synth(stacks["compute"]))
    functions = _by_name(doc, "aws_lambda_function")
    assert {name: f.get("reserved_concurrent_executions") for name, f in functions.items()} == {
        "inference-local-async-results": None,
        "inference-local-predict": None,
        "inference-local-status": None,
        "inference-local-submit": 5,
    }
    assert [
        m["function_name"]
        for m in doc["resource"]["aws_lambda_event_source_mapping"].values()
        if "worker" in m["function_name"]
    ] == []
    assert "function_name_worker" not in doc["output"]
    assert stacks["compute"].left_out_functions == ("worker",)


# --- TLS between API Gateway and the load balancer ---------------------------------------------------------------


def test_prod_serves_the_internal_load_balancer_over_https_with_the_configured_certificate(synthesized):
    doc = _doc(synthesized, "prod")
    balancer = load_config(PROJECT_ROOT / "config" / "prod.toml").compute.load_balancer
    (lb,) = doc["resource"]["aws_lb"].values()
    assert lb["internal"] is True
    listeners = {listener["protocol"]: listener for listener in doc["resource"]["aws_lb_listener"].values()}
    assert listeners["HTTPS"]["port"] == 443
    assert listeners["HTTPS"]["certificate_arn"] == balancer.certificate_arn
    assert listeners["HTTPS"]["ssl_policy"].startswith("ELBSecurityPolicy-TLS13")
    assert listeners["HTTP"]["default_action"][0]["type"] == "redirect"
    https_id = next(k for k, v in doc["resource"]["aws_lb_listener"].items() if v["protocol"] == "HTTPS")
    assert doc["output"]["inference_listener_arn"]["value"] == f"${{aws_lb_listener.{https_id}.arn}}"
    assert doc["output"]["model_url"]["value"] == f"https://{balancer.tls_server_name}"


def test_the_http_backend_behind_tls_calls_the_certificate_name(tmp_path):
    """GIVEN prod with model_backend = "http", THEN MODEL_URL is https://<tls_server_name>: the load balancer's own
    DNS name is not on the certificate, so only that name verifies."""
    from cdktf import Testing

    path = tmp_path / "prod.toml"
    path.write_text(PROD.replace('[compute]\nmodel_backend = "sagemaker"', '[compute]\nmodel_backend = "http"'))
    config = load_config(path)
    doc = json.loads(Testing.synth(_compose(config)["compute"]))
    worker = _by_name(doc, "aws_lambda_function")["inference-prod-worker"]["environment"]["variables"]
    assert worker[contract.MODEL_URL] == f"https://{config.compute.load_balancer.tls_server_name}"


# --- the Fargate scratch volume and the image ------------------------------------------------------------------


def _dockerfile_runtime_stage(image: str) -> list[str]:
    """The instructions of the last stage of containers/IMAGE/Dockerfile, continuation lines joined."""
    text = (PROJECT_ROOT / "containers" / image / "Dockerfile").read_text()
    instructions = re.sub(r"\\\n\s*", " ", text).splitlines()
    instructions = [line.strip() for line in instructions if line.strip() and not line.lstrip().startswith("#")]
    last_from = max(i for i, line in enumerate(instructions) if line.upper().startswith("FROM "))
    return instructions[last_from:]


def _declared_volumes(stage: list[str]) -> dict[str, int]:
    """VOLUME path -> index of its instruction in STAGE (JSON and plain forms)."""
    volumes = {}
    for index, line in enumerate(stage):
        if line.upper().startswith("VOLUME "):
            argument = line[len("VOLUME ") :].strip()
            paths = json.loads(argument) if argument.startswith("[") else argument.split()
            volumes.update({path: index for path in paths})
    return volumes


def _writable_by(stage: list[str], path: str, uid: str, before: int) -> bool:
    """Whether a RUN before index BEFORE leaves PATH writable for UID: world-writable by chmod, or owned by UID."""
    for line in stage[:before]:
        if not line.upper().startswith("RUN "):
            continue
        for mode in re.findall(rf"chmod\s+(?:-\w+\s+)*([0-7]{{3,4}})\s+(?:\S+\s+)*{re.escape(path)}(?:\s|$|&|;)", line):
            if int(mode, 8) & 0o002:
                return True
        if re.search(rf"chown\s+(?:-\w+\s+)*{uid}(:\S+)?\s+(?:\S+\s+)*{re.escape(path)}(?:\s|$|&|;)", line):
            return True
    return False


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_every_task_mount_is_a_volume_the_image_declares_writable_for_the_container_user(env, synthesized):
    """Fargate creates a bind mount root-owned with mode 0755 unless the image declares the path as a VOLUME (AWS,
    "Use bind mounts with Amazon ECS"): GIVEN each task definition's mounts and user, THEN the image's Dockerfile
    declares each mount path as a VOLUME, after a RUN that makes it writable for that user."""
    config = load_config(PROJECT_ROOT / "config" / f"{env}.toml")
    images = {
        f"{config.name_prefix}-inference": config.compute.inference_service.image,
        f"{config.name_prefix}-queue-worker": config.compute.queue_worker.image,
    }
    tasks = _doc(synthesized, env)["resource"]["aws_ecs_task_definition"].values()
    assert len(tasks) == 2
    for task in tasks:
        (container,) = json.loads(task["container_definitions"])
        stage = _dockerfile_runtime_stage(images[task["family"]])
        volumes = _declared_volumes(stage)
        uid = container["user"].split(":")[0]
        assert container["mountPoints"], task["family"]
        for mount in container["mountPoints"]:
            path = mount["containerPath"]
            assert path in volumes, f"{task['family']}: {path} is mounted but the image declares no VOLUME for it"
            assert _writable_by(stage, path, uid, volumes[path]), (
                f"{task['family']}: no RUN before VOLUME {path} makes it writable for uid {uid}"
            )


# --- AWS's rules the emulator does not enforce (issue 11) --------------------------------------------------------


def _statements(doc: dict, document_prefix: str) -> list[dict]:
    documents = doc["data"]["aws_iam_policy_document"]
    return next(v for k, v in documents.items() if k.startswith(document_prefix))["statement"]


@pytest.mark.parametrize("env", ["dev", "prod"])
@pytest.mark.parametrize(
    "document", ["function-worker_policy", "queue-worker_task-role-document", "function-status_policy"]
)
def test_every_role_that_looks_up_a_result_may_list_the_results_bucket_so_a_missing_key_is_404(
    synthesized, env, document
):
    """Defect 1: without s3:ListBucket S3 answers HeadObject on a missing results/<id>.json with 403, so every
    first delivery of every job failed into the DLQ. The grant is on the bucket itself, with no condition."""
    statements = _statements(_doc(synthesized, env), document)
    listing = [st for st in statements if "s3:ListBucket" in st["actions"]]
    assert len(listing) == 1, statements
    [grant] = listing
    assert grant["actions"] == ["s3:ListBucket"]
    assert grant["resources"] == [
        "${data.terraform_remote_state.cross-stack-reference-input-storage.outputs."
        "cross-stack-output-aws_s3_bucketresults_bucket_F5D1CF61arn}"
    ]
    assert "condition" not in grant and grant["effect"] == "Allow"


def _environment(doc: dict) -> dict[str, dict[str, str]]:
    functions = {
        f["function_name"].split("-", 2)[-1]: f["environment"]["variables"]
        for f in doc["resource"]["aws_lambda_function"].values()
    }
    for task in doc["resource"]["aws_ecs_task_definition"].values():
        [container] = json.loads(task["container_definitions"])
        functions[container["name"].split("-", 2)[-1]] = {e["name"]: e["value"] for e in container["environment"]}
    return functions


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        # serverless endpoint: 4 MB everywhere the model is called
        (
            "dev",
            {
                "submit": 4_000_000,
                "predict": 4_000_000,
                "worker": 4_000_000,
                "queue-worker": 4_000_000,
                "inference": 4_669_440,
            },
        ),
        # real-time endpoint, /v1/predict on Fargate: Lambda routes are bounded by the Lambda event, the service by
        # API Gateway's 10 MB
        ("prod", {"submit": 4_669_440, "worker": 4_669_440, "queue-worker": 4_669_440, "inference": 10_000_000}),
        # http backend, /v1/predict on the predict Lambda: the Lambda event bounds everything
        # the queue worker hands jobs to an asynchronous endpoint (S3 input, 1 GB): the Lambda event bounds it too
        (
            "local",
            {
                "submit": 4_669_440,
                "predict": 4_669_440,
                "worker": 4_669_440,
                "queue-worker": 4_669_440,
                "inference": 4_669_440,
            },
        ),
    ],
)
def test_every_function_and_container_gets_the_payload_limit_of_its_route(synthesized, env, expected):
    """Defect 6: 6 MiB everywhere was more than a serverless endpoint (4 MB) or a Lambda event (6 MiB with
    the envelope and base64) carries."""
    environment = _environment(_doc(synthesized, env))
    assert {name: int(environment[name][contract.MAX_PAYLOAD_BYTES]) for name in expected} == expected


@pytest.mark.parametrize("env", ["local", "dev", "prod"])
def test_the_model_timeout_reaches_every_model_caller(synthesized, env):
    environment = _environment(_doc(synthesized, env))
    config = load_config(PROJECT_ROOT / "config" / f"{env}.toml")
    callers = [caller for caller in ("predict", "worker", "queue-worker") if caller in environment]
    assert {"worker", "queue-worker"} <= set(callers)
    for caller in callers:
        assert environment[caller][contract.MODEL_TIMEOUT_SECONDS] == str(config.compute.model_timeout_seconds)


@pytest.mark.parametrize("env", ["local", "dev", "prod"])
def test_functions_behind_the_api_end_before_api_gateway_cuts_the_integration(synthesized, env):
    """Defect 5: a 30 s function under a 29 s integration is cut by API Gateway, which answers for it."""
    from modules.config.compute import API_HEADROOM_SECONDS

    doc = _doc(synthesized, env)
    api = json.loads((synthesized[env] / "stacks" / "api" / "cdk.tf.json").read_text())
    integrations = api["resource"]["aws_apigatewayv2_integration"].values()
    batch = json.loads((synthesized[env] / "stacks" / "batch" / "cdk.tf.json").read_text())
    timeouts = {
        f["function_name"].split("-", 2)[-1].replace("-", "_"): f["timeout"]
        for stack in (doc, batch)
        for f in stack["resource"]["aws_lambda_function"].values()
    }
    routed = {
        re.search(r"aws_lambda_functionfunction-(\w+?)_function", i["integration_uri"]).group(1): i[
            "timeout_milliseconds"
        ]
        for i in integrations
        if i["integration_type"] == "AWS_PROXY"
    }
    assert {"submit", "status"} <= set(routed)
    for function, integration_timeout_ms in routed.items():
        assert (timeouts[function] + API_HEADROOM_SECONDS) * 1000 <= integration_timeout_ms, function


@pytest.mark.parametrize("env", ["local", "dev", "prod"])
def test_a_whole_worker_batch_fits_the_workers_timeout(synthesized, env):
    """Defect 5: 5 jobs x (25 s read timeout x 3 attempts) in a 30 s function sent healthy jobs to the DLQ."""
    doc = _doc(synthesized, env)
    worker = _by_name(doc, "aws_lambda_function")[f"inference-{env}-worker"]
    model_timeout = int(worker["environment"]["variables"][contract.MODEL_TIMEOUT_SECONDS])
    mappings = [
        m for m in doc["resource"]["aws_lambda_event_source_mapping"].values() if "worker" in m["function_name"]
    ]
    assert mappings
    for mapping in mappings:
        assert mapping["batch_size"] * (model_timeout + contract.JOB_OVERHEAD_SECONDS) <= worker["timeout"]


@pytest.mark.parametrize("env", ["local", "dev", "prod"])
def test_the_names_config_checks_are_the_names_the_stack_builds(synthesized, env):
    """The name-length checks of config validation must see exactly the names AWS will be sent (config checks
    every folder of lambdas/; here, the functions this environment builds)."""
    doc = _doc(synthesized, env)
    config = load_config(PROJECT_ROOT / "config" / f"{env}.toml")
    folders = tuple(
        f["function_name"].removeprefix(f"{config.name_prefix}-")
        for f in doc["resource"]["aws_lambda_function"].values()
    )
    checked = {name for _, name, _, _ in config.compute.physical_names(config.name_prefix, folders)}
    built = {v["name"] for v in doc["resource"]["aws_iam_role"].values()}
    built |= {v["name"] for v in doc["resource"]["aws_cloudwatch_log_group"].values()}
    built |= {v["function_name"] for v in doc["resource"]["aws_lambda_function"].values()}
    built |= {v["name"] for kind in ("aws_lb", "aws_lb_target_group") for v in doc["resource"].get(kind, {}).values()}
    assert checked == built


# --- synth-time checks ------------------------------------------------------------------------------------------


def _compose(config):
    from cdktf import App

    import main

    app = App(context={"excludeStackIdFromLogicalIds": "true", "allowSepCharsInLogicalIds": "true"})
    return main.compose(app, config)


def test_the_emulator_skips_autoscaling(monkeypatch):
    monkeypatch.setenv("PIPELINE_EMULATOR_URL", "http://127.0.0.1:5000")
    config = load_config(PROJECT_ROOT / "config" / "local.toml")
    stacks = _compose(config)
    from cdktf import Testing

    doc = json.loads(Testing.synth(stacks["compute"]))
    assert "aws_appautoscaling_target" not in doc["resource"]
    assert "aws_appautoscaling_policy" not in doc["resource"]


def test_a_queue_visibility_under_six_times_the_worker_timeout_stops_synth(tmp_path):
    consumed_by_the_function = 'name = "priority"\nfilter = { priority = ["high"] }\nvisibility_timeout_seconds = '
    text = (
        (PROJECT_ROOT / "config" / "dev.toml")
        .read_text()
        .replace(f"{consumed_by_the_function}180", f"{consumed_by_the_function}120")
    )
    assert "visibility_timeout_seconds = 120" in text
    path = tmp_path / "dev.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as refused:
        load_config(path)
    assert (
        "messaging.queues.1.visibility_timeout_seconds: 120 s is under 6 x the worker function's timeout of 30 s "
        "(compute.lambdas.functions.worker.timeout_seconds) = 180 s"
    ) in str(refused.value)


# --- config checks ----------------------------------------------------------------------------------------------

DEV = shipped_config_text("dev")
PROD = shipped_config_text("prod")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            DEV.replace("[compute.inference_service]\n", "[compute.inference_service]\ncpu = 256\nmemory = 4096\n"),
            "compute.inference_service: memory: 4096 MiB is not allowed with cpu 256; allowed: 512, 1024, 2048",
        ),
        (
            DEV.replace("[compute.inference_service]\n", "[compute.inference_service]\ncpu = 300\n"),
            "compute.inference_service: cpu: 300 is not a Fargate CPU value; allowed: 256, 512, 1024",
        ),
        (
            DEV.replace("[compute.inference_service]\n", "[compute.inference_service]\nmemory = 1000\n"),
            "allowed: 1024, 2048, 3072, 4096",
        ),
        (
            DEV.replace("max_count = 2\n\n# The queue worker", "max_count = 0\n\n# The queue worker"),
            "compute.inference_service.max_count: Input should be greater than or equal to 1",
        ),
        (
            DEV.replace("desired_count = 1\n", "desired_count = 3\n"),
            (
                "compute.inference_service: min_count/desired_count/max_count: must satisfy min_count <= desired_count <= "
                "max_count, got 1 <= 3 <= 2"
            ),
        ),
        (
            DEV + "\n[compute.lambdas.functions.submit]\nmemory_mb = 64\n",
            "compute.lambdas.functions.submit.memory_mb: Input should be greater than or equal to 128",
        ),
        (
            DEV + "\n[compute.lambdas.functions.submit]\nmemory_mb = 20000\n",
            "compute.lambdas.functions.submit.memory_mb: Input should be less than or equal to 10240",
        ),
        (
            DEV + "\n[compute.lambdas.functions.submit]\ntimeout_seconds = 901\n",
            "compute.lambdas.functions.submit.timeout_seconds: Input should be less than or equal to 900",
        ),
        (
            DEV + "\n[compute.lambdas.functions.submit]\ntimeout_seconds = 0\n",
            "compute.lambdas.functions.submit.timeout_seconds: Input should be greater than or equal to 1",
        ),
        (
            DEV + "\n[compute.load_balancer]\ninternal = false\n",
            "compute.load_balancer: internal = false needs certificate_arn",
        ),
        (
            DEV.replace("[compute.queue_worker]\n", '[compute.queue_worker]\nqueue = "nope"\n'),
            "compute.queue_worker.queue: no work queue 'nope'; allowed: default, priority",
        ),
        (
            DEV.replace("in_vpc = true\n", 'in_vpc = true\nworker_queues = ["nope"]\n'),
            "compute.lambdas.worker_queues: no work queue 'nope'; allowed: default, priority",
        ),
    ],
)
def test_invalid_compute_settings_name_the_field_and_what_is_allowed(tmp_path, text, expected):
    with pytest.raises(ConfigError) as error:
        load_config_text(tmp_path, text)
    assert expected in str(error.value)


def _without_certificate(text: str) -> str:
    return (
        "\n".join(line for line in text.splitlines() if not line.startswith(("certificate_arn", "tls_server_name")))
        + "\n"
    )


def test_production_refuses_a_load_balancer_without_a_certificate(tmp_path):
    text = _without_certificate(PROD)
    assert "certificate_arn" not in text
    with pytest.raises(ConfigError) as error:
        load_config_text(tmp_path, text, "prod.toml")
    assert (
        "compute.load_balancer.certificate_arn: required when production = true (API Gateway and the functions "
        "send confidential data to the load balancer); set certificate_arn"
    ) in str(error.value)


CERTIFICATE = 'certificate_arn = "arn:aws:acm:eu-west-1:111111111111:certificate/abc"'


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            DEV + f"\n[compute.load_balancer]\n{CERTIFICATE}\n",
            "compute.load_balancer: certificate_arn needs tls_server_name: the DNS name the certificate carries",
        ),
        (
            DEV + '\n[compute.load_balancer]\ntls_server_name = "model.example.com"\n',
            "compute.load_balancer: tls_server_name applies only with certificate_arn",
        ),
        (
            DEV + '\n[compute.load_balancer]\ntls_server_name = "*.example.com"\n' + CERTIFICATE + "\n",
            "compute.load_balancer.tls_server_name: String should match pattern",
        ),
        (
            DEV.replace('model_backend = "sagemaker"', 'model_backend = "http"\nmodel_url = "http://model.example.com"')
            + f'\n[compute.load_balancer]\n{CERTIFICATE}\ntls_server_name = "model.example.com"\n',
            "compute.model_url: 'http://model.example.com' cannot verify the load balancer's certificate; with "
            "certificate_arn use https://model.example.com",
        ),
        (
            DEV.replace(
                'model_backend = "sagemaker"', 'model_backend = "http"\nmodel_url = "https://other.example.com"'
            )
            + f'\n[compute.load_balancer]\n{CERTIFICATE}\ntls_server_name = "model.example.com"\n',
            "compute.model_url: 'https://other.example.com' cannot verify",
        ),
    ],
    ids=[
        "certificate-without-name",
        "name-without-certificate",
        "wildcard-name",
        "plain-http-model-url",
        "model-url-of-another-name",
    ],
)
def test_tls_settings_that_cannot_verify_are_refused(tmp_path, text, expected):
    with pytest.raises(ConfigError) as error:
        load_config_text(tmp_path, text)
    assert expected in str(error.value)


# Image tags (moving tags refused everywhere, production's stricter rule, PIPELINE_IMAGE_TAG): tests/config/test_image_tag.py


def test_secure_defaults_of_the_compute_section():
    from modules.config.compute import ComputeConfig

    compute = ComputeConfig()
    assert compute.lambdas.in_vpc is True and compute.egress_to_internet is False
    assert compute.load_balancer.internal is True and compute.load_balancer.certificate_arn is None
    assert compute.queue_worker.min_count == 0
    assert compute.lambdas.sizing("worker").timeout_seconds * 6 <= 180  # fits the default queue visibility


def test_synth_refuses_a_worker_timeout_the_queue_visibility_cannot_cover(tmp_path):
    """GIVEN a worker timeout of 60 s and queues at the default 180 s visibility, WHEN synth runs, THEN it stops
    with exit 2 and one line naming the queue, the function and both values."""
    import os
    import subprocess
    import sys

    from tests.conftest import PROJECT_ROOT

    config = tmp_path / "short.toml"
    config.write_text(
        (PROJECT_ROOT / "config" / "local.toml").read_text()
        + "\n[compute.lambdas.functions.worker]\ntimeout_seconds = 60\n"
    )
    env = {**os.environ, "PIPELINE_CONFIG": str(config), "CDKTF_OUTDIR": str(tmp_path / "out")}
    proc = subprocess.run(
        [sys.executable, "main.py"], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 2, proc.stderr
    (line,) = proc.stderr.strip().splitlines()
    assert line.startswith(f"error: {config}: messaging.queues.1.visibility_timeout_seconds: 180 s is under 6 x ")
    assert "(compute.lambdas.functions.worker.timeout_seconds) = 360 s" in line and "allowed: at least 360 s" in line
    assert "TfToken" not in line and not (tmp_path / "out").exists()


def test_a_queue_worker_on_the_http_backend_may_reach_the_plain_http_load_balancer(tmp_path):
    """GIVEN dev's queue worker on the http backend (its load balancer listens on 80 without a certificate), THEN
    its security group lets it out on that port, as the functions' group does."""
    from cdktf import Testing

    path = tmp_path / "dev.toml"
    path.write_text(DEV.replace("[compute.queue_worker]\n", '[compute.queue_worker]\nmodel_backend = "http"\n'))
    doc = json.loads(Testing.synth(_compose(load_config(path))["compute"]))
    rules = {k: r for k, r in doc["resource"]["aws_vpc_security_group_egress_rule"].items() if "egress-model" in k}

    assert [r["from_port"] for r in rules.values()] == [80]
    assert "queue-worker_security-group" in next(iter(rules.values()))["security_group_id"]
