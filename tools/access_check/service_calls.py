"""The calls AWS services make on the pipeline's behalf: the one reviewed list, each with its documentation.

Each declaration reads the synthesized resources that cause the calls (a function with a VPC config makes Lambda
create ENIs with the function's role, a topic subscription makes SNS send to the queue, an alarm action makes
CloudWatch publish to the topic ...) and yields one Request per IAM authorization, with the request context the
service supplies (aws:SourceArn, aws:SourceAccount, encryption context, ec2:Vpc/ec2:Subnet ...). The evaluator
keeps only the context keys AWS's service authorization data lists for that action and resource type, so a
declaration may pass everything the service knows.

What is deliberately not declared:
- log groups are created by the stacks, so no service needs logs:CreateLogGroup;
- ECR decrypts KMS-encrypted images through its own grant on the key: pulls need no KMS permission of the puller
  (https://docs.aws.amazon.com/AmazonECR/latest/userguide/encryption-at-rest.html);
- service-linked roles (Application Auto Scaling, ECS, ELB) carry AWS-managed policies, not ours.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from lambdas.contract import WORK_COMMAND, async_input_key
from tools.access_check.attributes import ELB_ACCOUNTS
from tools.access_check.inventory import Inventory
from tools.access_check.requests import DECLARED, Request
from tools.access_check.stacks import Block

EXAMPLE_ENI = "eni-0example0example0"
EXAMPLE_TASK = "0example0example0example0example"
# A version of a model other than the configured one: what instances of the previous endpoint configuration load.
EXAMPLE_PREVIOUS_VERSION = "0.9.0-previous"


@dataclass(frozen=True)
class Declaration:
    id: str
    what: str
    docs: tuple[str, ...]
    build: Callable[[Inventory], Iterator[Request]]


DECLARATIONS: list[Declaration] = []


def declares(id_: str, *docs: str) -> Callable[[Callable[[Inventory], Iterator[Request]]], Callable[[Inventory], Iterator[Request]]]:
    def register(build: Callable[[Inventory], Iterator[Request]]) -> Callable[[Inventory], Iterator[Request]]:
        what = " ".join((build.__doc__ or "").split())
        DECLARATIONS.append(Declaration(id_, what, docs, build))
        return build

    return register


def declared_requests(inventory: Inventory) -> list[Request]:
    return [request for declaration in DECLARATIONS for request in declaration.build(inventory)]


def _call(declaration: str, principal: str, action: str, resource: str, context: dict[str, Any] | None = None,
          detail: str = "") -> Request:
    origin = f"service call {declaration}" + (f": {detail}" if detail else "")
    return Request(principal, action, resource, context or {}, DECLARED, origin)


def _source(inventory: Inventory, source_arn: str) -> dict[str, str]:
    """What a service principal acting for one of our resources sends: "present in the request context only if
    the call to your resource is being made directly by an AWS service principal on behalf of a resource"
    (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-sourcearn)."""
    return {"aws:SourceArn": source_arn, "aws:SourceAccount": inventory.account}


# --- roles assumed by services ------------------------------------------------------------------------------


@declares("services-assume-their-roles",
          "https://docs.aws.amazon.com/lambda/latest/dg/lambda-intro-execution-role.html",
          "https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task-iam-roles.html",
          "https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task_execution_IAM_role.html",
          "https://docs.aws.amazon.com/sagemaker/latest/dg/sagemaker-roles.html",
          "https://docs.aws.amazon.com/vpc/latest/userguide/flow-logs-iam-role.html",
          "https://docs.aws.amazon.com/IAM/latest/UserGuide/confused-deputy.html")
def services_assume_roles(inventory: Inventory) -> Iterator[Request]:
    """Lambda assumes each function's role, ECS each task's execution and task role, SageMaker the model's
    execution role, VPC Flow Logs its delivery role: the trust policies must let them (with the
    aws:SourceAccount/aws:SourceArn the service sends)."""
    name = "services-assume-their-roles"
    for function in inventory.blocks("aws_lambda_function"):
        yield _call(name, "lambda.amazonaws.com", "sts:AssumeRole", inventory.arg(function, "role"),
                    _source(inventory, inventory.attr(function, "arn")), function.path)
    for task in inventory.blocks("aws_ecs_task_definition"):
        task_arn = inventory.arn("ecs", f"task/{_cluster_name(inventory, task)}/{EXAMPLE_TASK}")
        for role in ("execution_role_arn", "task_role_arn"):
            if inventory.arg(task, role):
                yield _call(name, "ecs-tasks.amazonaws.com", "sts:AssumeRole", inventory.arg(task, role),
                            _source(inventory, task_arn), f"{task.path} {role}")
    for model in inventory.blocks("aws_sagemaker_model"):
        yield _call(name, "sagemaker.amazonaws.com", "sts:AssumeRole", inventory.arg(model, "execution_role_arn"),
                    _source(inventory, inventory.attr(model, "arn")), model.path)
    for flow_log in inventory.blocks("aws_flow_log"):
        if inventory.arg(flow_log, "iam_role_arn"):
            yield _call(name, "vpc-flow-logs.amazonaws.com", "sts:AssumeRole", inventory.arg(flow_log, "iam_role_arn"),
                        _source(inventory, inventory.attr(flow_log, "arn")), flow_log.path)


def _cluster_name(inventory: Inventory, task: Block) -> str:
    for service in inventory.blocks("aws_ecs_service"):
        if inventory.arg(service, "task_definition") == inventory.attr(task, "arn"):
            cluster = str(inventory.arg(service, "cluster"))
            return cluster.rsplit("/", 1)[-1]
    return "cluster"


# --- Lambda, with each function's role --------------------------------------------------------------------


@declares("lambda-writes-function-logs",
          "https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs.html#monitoring-cloudwatchlogs-prereqs")
def lambda_writes_logs(inventory: Inventory) -> Iterator[Request]:
    """Lambda writes each function's output to its log group (`/aws/lambda/<name>` or logging_config) with the
    function's role."""
    for function in inventory.blocks("aws_lambda_function"):
        group = inventory.arg(function, "logging_config.log_group") or f"/aws/lambda/{inventory.arg(function, 'function_name')}"
        stream = inventory.arn("logs", f"log-group:{group}:log-stream:2025/01/01/[$LATEST]0example0example")
        for action in ("logs:CreateLogStream", "logs:PutLogEvents"):
            yield _call("lambda-writes-function-logs", inventory.arg(function, "role"), action, stream,
                        detail=function.path)


@declares("lambda-sends-traces", "https://docs.aws.amazon.com/lambda/latest/dg/services-xray.html#services-xray-permissions")
def lambda_sends_traces(inventory: Inventory) -> Iterator[Request]:
    """With active tracing, Lambda sends X-Ray segments with the function's role."""
    for function in inventory.blocks("aws_lambda_function"):
        if inventory.arg(function, "tracing_config.mode") == "Active":
            for action in ("xray:PutTraceSegments", "xray:PutTelemetryRecords"):
                yield _call("lambda-sends-traces", inventory.arg(function, "role"), action, "*", detail=function.path)


@declares("lambda-decrypts-environment",
          "https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars-encryption.html")
def lambda_decrypts_environment(inventory: Inventory) -> Iterator[Request]:
    """A function whose environment is encrypted with a customer key (kms_key_arn) has it decrypted with the
    function's role when an execution environment starts; the encryption context names the function."""
    for function in inventory.blocks("aws_lambda_function"):
        key = inventory.key_arn(inventory.arg(function, "kms_key_arn"))
        if key and inventory.arg(function, "environment.variables"):
            context = {"kms:EncryptionContext:aws:lambda:FunctionArn": inventory.attr(function, "arn"),
                       "kms:ViaService": f"lambda.{inventory.region}.amazonaws.com"}
            yield _call("lambda-decrypts-environment", inventory.arg(function, "role"), "kms:Decrypt", key, context,
                        function.path)


@declares("lambda-manages-vpc-interfaces",
          "https://docs.aws.amazon.com/lambda/latest/dg/configuration-vpc.html#configuration-vpc-permissions",
          "https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonec2.html")
def lambda_manages_enis(inventory: Inventory) -> Iterator[Request]:
    """A function in a VPC gets Hyperplane ENIs in its subnets and security groups, created and deleted with the
    function's role (the actions of AWSLambdaVPCAccessExecutionRole)."""
    for function in inventory.blocks("aws_lambda_function"):
        subnets = inventory.arg(function, "vpc_config.subnet_ids") or []
        groups = inventory.arg(function, "vpc_config.security_group_ids") or []
        if subnets:
            yield from _eni_requests(inventory, "lambda-manages-vpc-interfaces", inventory.arg(function, "role"),
                                     subnets, groups, function.path,
                                     manage=("ec2:DeleteNetworkInterface", "ec2:AssignPrivateIpAddresses",
                                             "ec2:UnassignPrivateIpAddresses"),
                                     describe=("ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets"))


@declares("lambda-polls-sqs", "https://docs.aws.amazon.com/lambda/latest/dg/with-sqs.html#events-sqs-permissions",
          "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-key-management.html")
def lambda_polls_queues(inventory: Inventory) -> Iterator[Request]:
    """An SQS event source mapping polls the queue and deletes handled messages with the function's role, and
    decrypts the messages of a queue encrypted with a customer key."""
    for mapping in inventory.blocks("aws_lambda_event_source_mapping"):
        source = str(inventory.arg(mapping, "event_source_arn") or "")
        if ":sqs:" not in source:
            continue
        function = inventory.find("aws_lambda_function", str(inventory.arg(mapping, "function_name")).split(":")[-1])
        if function is None:
            continue
        role = inventory.arg(function, "role")
        for action in ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"):
            yield _call("lambda-polls-sqs", role, action, source, detail=mapping.path)
        key = inventory.queue_key(source)
        if key:
            context = {"kms:ViaService": f"sqs.{inventory.region}.amazonaws.com",
                       "kms:EncryptionContext:aws:sqs:arn": source}
            yield _call("lambda-polls-sqs", role, "kms:Decrypt", key, context, mapping.path)


@declares("api-gateway-invokes-functions",
          "https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-integrations-lambda.html#http-api-develop-integrations-lambda.permissions")
def api_invokes_functions(inventory: Inventory) -> Iterator[Request]:
    """API Gateway invokes the function behind each Lambda-proxy route; the function policy (aws_lambda_permission)
    must allow apigateway.amazonaws.com for that route's source ARN."""
    for route in inventory.blocks("aws_apigatewayv2_route"):
        target = str(inventory.arg(route, "target") or "")
        integration = inventory.find("aws_apigatewayv2_integration", target.removeprefix("integrations/"))
        if integration is None or inventory.arg(integration, "integration_type") != "AWS_PROXY":
            continue
        uri = str(inventory.arg(integration, "integration_uri"))
        function_arn = uri.split("/functions/", 1)[1].split("/invocations", 1)[0] if "/functions/" in uri else uri
        api = inventory.find("aws_apigatewayv2_api", str(inventory.arg(route, "api_id")))
        method, _, path = str(inventory.arg(route, "route_key")).partition(" ")
        for stage in _stages(inventory, str(inventory.arg(route, "api_id"))):
            source_arn = f"{inventory.attr(api, 'execution_arn')}/{stage}/{method}{path}" if api else ""
            yield _call("api-gateway-invokes-functions", "apigateway.amazonaws.com", "lambda:InvokeFunction",
                        function_arn, _source(inventory, source_arn), f"{route.path} {method} {path}")


def _stages(inventory: Inventory, api_id: str) -> list[str]:
    stages = [str(inventory.arg(stage, "name")) for stage in inventory.blocks("aws_apigatewayv2_stage")
              if str(inventory.arg(stage, "api_id")) == api_id]
    return stages or ["$default"]


# --- SNS, CloudWatch, CloudWatch Logs ---------------------------------------------------------------------


@declares("sns-delivers-to-subscribers",
          "https://docs.aws.amazon.com/sns/latest/dg/subscribe-sqs-queue-to-sns-topic.html",
          "https://docs.aws.amazon.com/sns/latest/dg/sns-enable-encryption-for-topic-sqs-queue-subscriptions.html",
          "https://docs.aws.amazon.com/lambda/latest/dg/with-sns.html")
def sns_delivers_to_subscribers(inventory: Inventory) -> Iterator[Request]:
    """SNS sends each message of a topic to its subscribed SQS queues (the queue policy must allow
    sns.amazonaws.com for that topic, and the key of an encrypted queue must let SNS generate data keys and
    decrypt) and invokes its subscribed Lambda functions (the function policy must allow it)."""
    name = "sns-delivers-to-subscribers"
    for subscription in inventory.blocks("aws_sns_topic_subscription"):
        protocol = inventory.arg(subscription, "protocol")
        topic, endpoint = inventory.arg(subscription, "topic_arn"), inventory.arg(subscription, "endpoint")
        context = _source(inventory, topic)
        if protocol == "lambda":
            yield _call(name, "sns.amazonaws.com", "lambda:InvokeFunction", endpoint, context, subscription.path)
        if protocol != "sqs":
            continue
        queue = endpoint
        yield _call(name, "sns.amazonaws.com", "sqs:SendMessage", queue, context, subscription.path)
        key = inventory.queue_key(queue)
        if key:
            kms_context = {**context, "kms:ViaService": f"sqs.{inventory.region}.amazonaws.com",
                           "kms:EncryptionContext:aws:sqs:arn": queue}
            for action in ("kms:GenerateDataKey", "kms:Decrypt"):
                yield _call(name, "sns.amazonaws.com", action, key, kms_context, subscription.path)


@declares("cloudwatch-alarms-publish-to-topics",
          "https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/Notify_Users_Alarm_Changes.html",
          "https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html#compatibility-with-aws-services")
def alarms_publish(inventory: Inventory) -> Iterator[Request]:
    """CloudWatch publishes alarm state changes to the SNS topics in the alarm's actions: the topic policy must
    allow cloudwatch.amazonaws.com, and the key of an encrypted topic must let CloudWatch use it."""
    for alarm in inventory.blocks("aws_cloudwatch_metric_alarm"):
        if inventory.arg(alarm, "actions_enabled") is False:
            continue
        actions = {str(action) for field in ("alarm_actions", "ok_actions", "insufficient_data_actions")
                   for action in inventory.arg(alarm, field) or [] if ":sns:" in str(action)}
        context = _source(inventory, inventory.attr(alarm, "arn"))
        for topic in sorted(actions):
            yield _call("cloudwatch-alarms-publish-to-topics", "cloudwatch.amazonaws.com", "sns:Publish", topic,
                        context, alarm.path)
            key = inventory.topic_key(topic)
            if key:
                for action in ("kms:GenerateDataKey", "kms:Decrypt"):
                    yield _call("cloudwatch-alarms-publish-to-topics", "cloudwatch.amazonaws.com", action, key,
                                {**context, "kms:ViaService": f"sns.{inventory.region}.amazonaws.com"}, alarm.path)


@declares("cloudwatch-logs-uses-log-group-keys",
          "https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/encrypt-log-data-kms.html")
def logs_use_keys(inventory: Inventory) -> Iterator[Request]:
    """CloudWatch Logs encrypts and decrypts each log group that has a customer key, as the logs service
    principal, with the log group's ARN as encryption context."""
    for group in inventory.blocks("aws_cloudwatch_log_group"):
        key = inventory.key_arn(inventory.arg(group, "kms_key_id"))
        if not key:
            continue
        # The documented key policy conditions on the encryption context only; no aws:SourceAccount is promised.
        context = {"kms:EncryptionContext:aws:logs:arn": inventory.attr(group, "arn"),
                   "kms:EncryptionContextKeys": ["aws:logs:arn"]}
        for action in ("kms:GenerateDataKey", "kms:Decrypt"):
            yield _call("cloudwatch-logs-uses-log-group-keys", f"logs.{inventory.region}.amazonaws.com", action, key,
                        context, group.path)


# --- log delivery into S3 ---------------------------------------------------------------------------------


@declares("s3-delivers-server-access-logs",
          "https://docs.aws.amazon.com/AmazonS3/latest/userguide/enable-server-access-logging.html#grant-log-delivery-permissions-general")
def s3_delivers_access_logs(inventory: Inventory) -> Iterator[Request]:
    """The S3 logging service writes each logged bucket's server access logs into the target bucket: the target
    bucket policy must allow logging.s3.amazonaws.com, with the source bucket as aws:SourceArn."""
    for logging in inventory.blocks("aws_s3_bucket_logging"):
        source = inventory.arn("s3", str(inventory.arg(logging, "bucket")), region=False, account=False)
        target = inventory.arg(logging, "target_bucket")
        key = f"{inventory.arg(logging, 'target_prefix') or ''}2025-01-01-00-00-00-0EXAMPLE0EXAMPLE"
        yield _call("s3-delivers-server-access-logs", "logging.s3.amazonaws.com", "s3:PutObject",
                    inventory.arn("s3", f"{target}/{key}", region=False, account=False),
                    _source(inventory, source), logging.path)


@declares("elb-delivers-access-logs",
          "https://docs.aws.amazon.com/elasticloadbalancing/latest/application/enable-access-logging.html#attach-bucket-policy")
def elb_delivers_access_logs(inventory: Inventory) -> Iterator[Request]:
    """Elastic Load Balancing writes a load balancer's access logs into its bucket: the bucket policy must allow
    the region's ELB account (regions before August 2022) or logdelivery.elasticloadbalancing.amazonaws.com."""
    for balancer in inventory.blocks("aws_lb"):
        logs = inventory.arg(balancer, "access_logs") or {}
        logs = logs[0] if isinstance(logs, list) and logs else logs
        if not logs or not logs.get("enabled"):
            continue
        prefix = f"{logs['prefix']}/" if logs.get("prefix") else ""
        key = (f"{prefix}AWSLogs/{inventory.account}/elasticloadbalancing/{inventory.region}/2025/01/01/"
               f"{inventory.account}_elasticloadbalancing_{inventory.region}_example.log.gz")
        resource = inventory.arn("s3", f"{logs['bucket']}/{key}", region=False, account=False)
        elb_account = ELB_ACCOUNTS.get(inventory.region)
        principal = (f"arn:{inventory.partition}:iam::{elb_account}:root" if elb_account
                     else "logdelivery.elasticloadbalancing.amazonaws.com")
        # aws:SourceAccount is present only when a service principal acts; the ELB account is an account.
        context = {} if elb_account else {"aws:SourceAccount": inventory.account}
        yield _call("elb-delivers-access-logs", principal, "s3:PutObject", resource, context, balancer.path)


# --- SageMaker hosting, with the model's execution role ---------------------------------------------------


@declares("sagemaker-hosts-the-model",
          "https://docs.aws.amazon.com/sagemaker/latest/dg/sagemaker-roles.html#sagemaker-roles-createmodel-perms",
          "https://docs.aws.amazon.com/sagemaker/latest/dg/host-vpc.html#host-vpc-configure-vpc",
          "https://docs.aws.amazon.com/sagemaker/latest/dg/monitoring-cloudwatch.html",
          "https://docs.aws.amazon.com/sagemaker/latest/dg/model-monitor-data-capture.html",
          "https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CreateEndpointConfig.html#sagemaker-CreateEndpointConfig-request-KmsKeyId")
def sagemaker_hosts(inventory: Inventory) -> Iterator[Request]:
    """SageMaker uses the model's execution role to pull the image from ECR, read (and decrypt) the model
    artifact, create and delete ENIs in the VPC, write the endpoint's logs and metrics, write captured data, and
    grant itself the endpoint configuration's volume key."""
    name = "sagemaker-hosts-the-model"
    for model in inventory.blocks("aws_sagemaker_model"):
        role = inventory.arg(model, "execution_role_arn")
        container = inventory.arg(model, "primary_container") or {}
        container = container[0] if isinstance(container, list) and container else container
        yield from _image_pull(inventory, name, role, [str(container.get("image", ""))], model.path)
        artifact = str(container.get("model_data_url") or "")
        if artifact.startswith("s3://"):
            bucket, _, key = artifact.removeprefix("s3://").partition("/")
            yield _call(name, role, "s3:GetObject", inventory.arn("s3", f"{bucket}/{key}", region=False, account=False),
                        detail=f"{model.path} model artifact")
            yield from _s3_key_use(inventory, name, role, bucket, "kms:Decrypt", f"{model.path} model artifact")
        subnets = inventory.arg(model, "vpc_config.subnets") or []
        if subnets:
            yield from _eni_requests(inventory, name, role, subnets,
                                     inventory.arg(model, "vpc_config.security_group_ids") or [], model.path,
                                     manage=("ec2:CreateNetworkInterfacePermission", "ec2:DeleteNetworkInterface",
                                             "ec2:DeleteNetworkInterfacePermission"),
                                     describe=("ec2:DescribeVpcs", "ec2:DescribeDhcpOptions", "ec2:DescribeSubnets",
                                               "ec2:DescribeSecurityGroups", "ec2:DescribeNetworkInterfaces"))
        for endpoint in _endpoints_of(inventory, model):
            group = f"/aws/sagemaker/Endpoints/{inventory.arg(endpoint, 'name')}"
            stream = inventory.arn("logs", f"log-group:{group}:log-stream:primary/i-0example0example0")
            for action in ("logs:CreateLogStream", "logs:PutLogEvents"):
                yield _call(name, role, action, stream, detail=endpoint.path)
            yield _call(name, role, "logs:DescribeLogStreams", inventory.arn("logs", f"log-group:{group}"),
                        detail=endpoint.path)
            yield _call(name, role, "cloudwatch:PutMetricData", "*", {"cloudwatch:namespace": "/aws/sagemaker/Endpoints"},
                        endpoint.path)
            config = _config_of(inventory, endpoint)
            if config is None:
                continue
            volume_key = inventory.key_arn(inventory.arg(config, "kms_key_arn"))
            if volume_key:
                context = {"kms:GrantIsForAWSResource": "true",
                           "kms:ViaService": f"sagemaker.{inventory.region}.amazonaws.com"}
                yield _call(name, role, "kms:CreateGrant", volume_key, context, f"{config.path} volume key")
            yield from _data_capture(inventory, name, role, config)


@declares("sagemaker-starts-the-previous-configuration",
          "https://docs.aws.amazon.com/sagemaker/latest/dg/deployment-guardrails-blue-green.html",
          "https://docs.aws.amazon.com/sagemaker/latest/dg/deployment-guardrails-configuration.html")
def sagemaker_previous_configuration(inventory: Inventory) -> Iterator[Request]:
    """While an endpoint update runs (blue/green traffic shifting, a rolling batch) and when SageMaker rolls it
    back, instances of the PREVIOUS endpoint configuration start (scale-out of the old fleet, the old fleet brought
    back) with the same execution role: they download the previous version of the model, another key under
    models/<model name>/. And during the update SageMaker describes the auto-rollback alarms as that role."""
    name = "sagemaker-starts-the-previous-configuration"
    for model in inventory.blocks("aws_sagemaker_model"):
        role = inventory.arg(model, "execution_role_arn")
        container = inventory.arg(model, "primary_container") or {}
        container = container[0] if isinstance(container, list) and container else container
        bucket, _, key = str(container.get("model_data_url") or "").removeprefix("s3://").partition("/")
        parts = key.split("/")
        if len(parts) == 4 and parts[0] == "models":
            previous = "/".join((parts[0], parts[1], EXAMPLE_PREVIOUS_VERSION, parts[3]))
            yield _call(name, role, "s3:GetObject",
                        inventory.arn("s3", f"{bucket}/{previous}", region=False, account=False),
                        detail=f"{model.path} previous model version")
            yield from _s3_key_use(inventory, name, role, bucket, "kms:Decrypt", f"{model.path} previous model version")
        for endpoint in _endpoints_of(inventory, model):
            deployment = inventory.arg(endpoint, "deployment_config") or {}
            deployment = deployment[0] if isinstance(deployment, list) and deployment else deployment
            rollback = deployment.get("auto_rollback_configuration") or {}
            rollback = rollback[0] if isinstance(rollback, list) and rollback else rollback
            for alarm in rollback.get("alarms") or []:
                yield _call(name, role, "cloudwatch:DescribeAlarms",
                            inventory.arn("cloudwatch", f"alarm:{alarm['alarm_name']}"),
                            detail=f"{endpoint.path} auto-rollback alarm")


def _data_capture(inventory: Inventory, name: str, role: str, config: Block) -> Iterator[Request]:
    capture = inventory.arg(config, "data_capture_config") or {}
    capture = capture[0] if isinstance(capture, list) and capture else capture
    destination = str(capture.get("destination_s3_uri") or "")
    if not capture.get("enable_capture", True) or not destination.startswith("s3://"):
        return
    bucket, _, prefix = destination.removeprefix("s3://").partition("/")
    key = f"{prefix.rstrip('/')}/primary/2025/01/01/00/example.jsonl".lstrip("/")
    yield _call(name, role, "s3:PutObject", inventory.arn("s3", f"{bucket}/{key}", region=False, account=False),
                detail=f"{config.path} data capture")
    key_arn = inventory.key_arn(capture.get("kms_key_id")) or inventory.bucket_encryption(bucket).key_arn
    if key_arn:
        context = {"kms:ViaService": f"s3.{inventory.region}.amazonaws.com",
                   "kms:EncryptionContext:aws:s3:arn": inventory.arn("s3", bucket, region=False, account=False)}
        yield _call(name, role, "kms:GenerateDataKey", key_arn, context, f"{config.path} data capture")


@declares("sagemaker-runs-async-inference",
          "https://docs.aws.amazon.com/sagemaker/latest/dg/async-inference-create-endpoint-prerequisites.html",
          "https://docs.aws.amazon.com/sagemaker/latest/dg/async-inference-check-predictions.html",
          "https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html#sns-what-permissions-for-sse")
def sagemaker_async_inference(inventory: Inventory) -> Iterator[Request]:
    """An asynchronous endpoint works with the model's execution role: it reads each request's InputLocation, writes
    the answer to the output path (or the error to the failure path) under the output key, and publishes the success
    or error notification to the configured topics. The input location is the caller's choice: the pipeline's
    callers hand off under async/input/ of the output path's bucket (lambdas/contract.py async_input_key)."""
    name = "sagemaker-runs-async-inference"
    for model in inventory.blocks("aws_sagemaker_model"):
        role = inventory.arg(model, "execution_role_arn")
        for endpoint in _endpoints_of(inventory, model):
            config = _config_of(inventory, endpoint)
            output = _first(_first(inventory.arg(config, "async_inference_config") if config else None)
                            .get("output_config"))
            if not output:
                continue
            detail = f"{config.path} async"
            bucket = str(output.get("s3_output_path", "")).removeprefix("s3://").split("/", 1)[0]
            input_key = async_input_key("3f1c0b7e-5d2a-4e8b-9c1f-2a7d6e4b8c90")
            yield _call(name, role, "s3:GetObject", inventory.arn("s3", f"{bucket}/{input_key}", region=False,
                                                                   account=False), detail=f"{detail} input")
            yield from _s3_key_use(inventory, name, role, bucket, "kms:Decrypt", f"{detail} input")
            for path in (output.get("s3_output_path"), output.get("s3_failure_path")):
                if not str(path or "").startswith("s3://"):
                    continue
                target, _, prefix = str(path).removeprefix("s3://").partition("/")
                key = f"{prefix.rstrip('/')}/0example-0000-4000-8000-000000000000.out".lstrip("/")
                yield _call(name, role, "s3:PutObject", inventory.arn("s3", f"{target}/{key}", region=False,
                                                                       account=False), detail=f"{detail} {path}")
                key_arn = inventory.key_arn(output.get("kms_key_id")) or inventory.bucket_encryption(target).key_arn
                if key_arn:
                    context = {"kms:ViaService": f"s3.{inventory.region}.amazonaws.com",
                               "kms:EncryptionContext:aws:s3:arn": inventory.arn("s3", target, region=False,
                                                                                 account=False)}
                    yield _call(name, role, "kms:GenerateDataKey", key_arn, context, f"{detail} {path}")
            notification = _first(output.get("notification_config"))
            for topic in sorted({str(notification.get(kind)) for kind in ("success_topic", "error_topic")
                                 if notification.get(kind)}):
                yield _call(name, role, "sns:Publish", topic, detail=f"{detail} notification")
                key_arn = inventory.topic_key(topic)
                if key_arn:
                    for action in ("kms:GenerateDataKey", "kms:Decrypt"):
                        yield _call(name, role, action, key_arn, {"kms:ViaService": f"sns.{inventory.region}.amazonaws.com"},
                                    f"{detail} notification")


def _first(value: Any) -> dict[str, Any]:
    """A nested block as Terraform JSON spells it: an object, or a list holding one."""
    if isinstance(value, list):
        value = value[0] if value else {}
    return value if isinstance(value, dict) else {}


def _endpoints_of(inventory: Inventory, model: Block) -> list[Block]:
    model_name = inventory.arg(model, "name")
    endpoints = []
    for config in inventory.blocks("aws_sagemaker_endpoint_configuration"):
        variants = [*(inventory.arg(config, "production_variants") or []),
                    *(inventory.arg(config, "shadow_production_variants") or [])]
        if any(variant.get("model_name") == model_name for variant in variants):
            endpoints += [endpoint for endpoint in inventory.blocks("aws_sagemaker_endpoint")
                          if inventory.arg(endpoint, "endpoint_config_name") == inventory.arg(config, "name")]
    return endpoints


def _config_of(inventory: Inventory, endpoint: Block) -> Block | None:
    for config in inventory.blocks("aws_sagemaker_endpoint_configuration"):
        if inventory.arg(config, "name") == inventory.arg(endpoint, "endpoint_config_name"):
            return config
    return None


# --- ECS, with each task definition's execution role -------------------------------------------------------


@declares("ecs-agent-pulls-images-and-writes-logs",
          "https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task_execution_IAM_role.html",
          "https://docs.aws.amazon.com/AmazonECS/latest/developerguide/using_awslogs.html")
def ecs_agent(inventory: Inventory) -> Iterator[Request]:
    """The ECS agent uses the task definition's execution role to pull each container image from ECR and to write
    the awslogs streams of each container."""
    for task in inventory.blocks("aws_ecs_task_definition"):
        role = inventory.arg(task, "execution_role_arn")
        if not role:
            continue
        containers = json.loads(inventory.arg(task, "container_definitions"))
        yield from _image_pull(inventory, "ecs-agent-pulls-images-and-writes-logs", role,
                               [str(container.get("image", "")) for container in containers], task.path)
        for container in containers:
            log = container.get("logConfiguration") or {}
            options = log.get("options") or {}
            if log.get("logDriver") != "awslogs" or not options.get("awslogs-group"):
                continue
            stream = f"{options.get('awslogs-stream-prefix', 'ecs')}/{container['name']}/{EXAMPLE_TASK}"
            resource = inventory.arn("logs", f"log-group:{options['awslogs-group']}:log-stream:{stream}")
            for action in ("logs:CreateLogStream", "logs:PutLogEvents"):
                yield _call("ecs-agent-pulls-images-and-writes-logs", role, action, resource,
                            detail=f"{task.path} {container['name']}")


@declares("ecs-agent-sets-task-protection",
          "https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task-scale-in-protection-endpoint.html",
          "https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonelasticcontainerservice.html")
def ecs_agent_protects_tasks(inventory: Inventory) -> Iterator[Request]:
    """The queue consumer (the container command `work`) asks the ECS agent inside its task to set and clear task
    scale-in protection. That request is plain HTTP to the agent, not an AWS API call (so no botocore hook records
    it); the agent then calls ECS UpdateTaskProtection with the task's role, for the task itself."""
    for task in inventory.blocks("aws_ecs_task_definition"):
        containers = json.loads(inventory.arg(task, "container_definitions"))
        role = inventory.arg(task, "task_role_arn")
        if not role or not any(container.get("command") == [WORK_COMMAND] for container in containers):
            continue
        cluster = _cluster_name(inventory, task)
        yield _call("ecs-agent-sets-task-protection", role, "ecs:UpdateTaskProtection",
                    inventory.arn("ecs", f"task/{cluster}/{EXAMPLE_TASK}"),
                    {"ecs:cluster": inventory.arn("ecs", f"cluster/{cluster}")}, task.path)


# --- VPC flow logs, with their delivery role -----------------------------------------------------------------


@declares("vpc-flow-logs-deliver", "https://docs.aws.amazon.com/vpc/latest/userguide/flow-logs-iam-role.html")
def flow_logs_deliver(inventory: Inventory) -> Iterator[Request]:
    """VPC Flow Logs publishes to the CloudWatch Logs group with its delivery role: it looks the group and its
    streams up, creates one stream per ENI and puts the records."""
    for flow_log in inventory.blocks("aws_flow_log"):
        role = inventory.arg(flow_log, "iam_role_arn")
        destination = str(inventory.arg(flow_log, "log_destination") or "")
        if not role or inventory.arg(flow_log, "log_destination_type", "cloud-watch-logs") != "cloud-watch-logs":
            continue
        group = destination.removesuffix(":*")
        stream = f"{group}:log-stream:{EXAMPLE_ENI}-all"
        for action, resource in (("logs:CreateLogStream", stream), ("logs:PutLogEvents", stream),
                                 ("logs:DescribeLogStreams", group), ("logs:DescribeLogGroups", "*")):
            yield _call("vpc-flow-logs-deliver", role, action, resource, detail=flow_log.path)


# --- shared pieces ---------------------------------------------------------------------------------------------


def _image_pull(inventory: Inventory, name: str, role: str, images: list[str], detail: str) -> Iterator[Request]:
    """Pulling from ECR: a registry token (account-wide), then the image manifest and layers of the repository."""
    repositories = []
    for image in images:
        url = image.rsplit("@", 1)[0]
        url = url.rsplit(":", 1)[0] if ":" in url.rsplit("/", 1)[-1] else url
        repository = inventory.find("aws_ecr_repository", url)
        if repository is not None and repository not in repositories:
            repositories.append(repository)
    if not repositories:
        return
    yield _call(name, role, "ecr:GetAuthorizationToken", "*", detail=detail)
    for repository in repositories:
        for action in ("ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage"):
            yield _call(name, role, action, inventory.attr(repository, "arn"), detail=f"{detail} image")


def _s3_key_use(inventory: Inventory, name: str, role: str, bucket: str, action: str, detail: str) -> Iterator[Request]:
    encryption = inventory.bucket_encryption(bucket)
    if encryption.key_arn:
        bucket_arn = inventory.arn("s3", bucket, region=False, account=False)
        context = {"kms:ViaService": f"s3.{inventory.region}.amazonaws.com",
                   "kms:EncryptionContext:aws:s3:arn": bucket_arn}
        yield _call(name, role, action, encryption.key_arn, context, detail)


def _eni_requests(inventory: Inventory, name: str, role: str, subnet_ids: list[str], group_ids: list[str],
                  detail: str, *, manage: tuple[str, ...], describe: tuple[str, ...]) -> Iterator[Request]:
    """ec2:CreateNetworkInterface is authorized once per resource it touches: the new interface
    (`network-interface/*`), the subnet and each security group; each with the keys EC2 knows for it."""
    subnets = [inventory.find("aws_subnet", str(subnet)) for subnet in subnet_ids]
    for subnet_id, subnet in zip(subnet_ids, subnets, strict=True):
        subnet_arn = inventory.arn("ec2", f"subnet/{subnet_id}")
        vpc_arn = inventory.arn("ec2", f"vpc/{inventory.arg(subnet, 'vpc_id')}") if subnet else None
        known = {"ec2:Subnet": subnet_arn, "ec2:SubnetID": str(subnet_id), "ec2:Region": inventory.region}
        if subnet is not None:
            known.update({"ec2:Vpc": vpc_arn, "ec2:AvailabilityZone": str(inventory.arg(subnet, "availability_zone"))})
        yield _call(name, role, "ec2:CreateNetworkInterface", inventory.arn("ec2", "network-interface/*"), known,
                    f"{detail} new interface in {subnet_id}")
        yield _call(name, role, "ec2:CreateNetworkInterface", subnet_arn, known, f"{detail} subnet {subnet_id}")
        eni = {**known, "ec2:NetworkInterfaceID": EXAMPLE_ENI}
        for action in manage:
            yield _call(name, role, action, inventory.arn("ec2", f"network-interface/{EXAMPLE_ENI}"), eni,
                        f"{detail} interface in {subnet_id}")
    vpc_ids = {str(inventory.arg(subnet, "vpc_id")) for subnet in subnets if subnet is not None}
    for group_id in group_ids:
        group = inventory.find("aws_security_group", str(group_id))
        vpc = str(inventory.arg(group, "vpc_id")) if group is not None else next(iter(vpc_ids), "")
        context = {"ec2:SecurityGroupID": str(group_id), "ec2:Region": inventory.region,
                   **({"ec2:Vpc": inventory.arn("ec2", f"vpc/{vpc}")} if vpc else {})}
        yield _call(name, role, "ec2:CreateNetworkInterface", inventory.arn("ec2", f"security-group/{group_id}"),
                    context, f"{detail} security group {group_id}")
    for action in describe:
        yield _call(name, role, action, "*", {"ec2:Region": inventory.region}, detail)
