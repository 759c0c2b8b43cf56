"""The batch stack (opt-in, `[batch] enabled`): batch inference over JSON Lines in S3 with AWS Batch on Fargate.

    POST /v1/batches      -> batch_submit  -> manifest requests/batches/<id>.json, AWS Batch array job
    AWS Batch (Fargate Spot first, then on-demand) -> the inference image's batch mode -> results/batches/<id>/
    job state change (parent job SUCCEEDED/FAILED) -> EventBridge rule -> results topic (completion message)
    GET  /v1/batches/{id} -> batch_status  -> manifest, DescribeJobs, done markers
    `make transform`      -> SageMaker Batch Transform with the inference stack's model -> results/transforms/

Everything runs in the private subnets behind egress-only security groups (the compute stack's rules: HTTPS to
the VPC's endpoints and the S3 gateway, or anywhere when compute.egress_to_internet). Every grant names the exact
prefix of the results bucket it touches (lambdas/contract.py's key layout).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from constructs import Construct

from lambdas import contract
from modules import aws
from modules.config import PipelineConfig
from modules.config.batch import BATCH_FUNCTIONS
from modules.constructs.aws_api_egress import INTERNET, allow_https_to_aws_apis
from modules.constructs.batch_job_definition import BatchJobDefinition, BatchJobDefinitionProps
from modules.constructs.egress_security_group import EgressSecurityGroup, EgressSecurityGroupProps
from modules.constructs.event_rule_to_topic import EventRuleToTopic, EventRuleToTopicProps
from modules.constructs.fargate_job_queue import FargateJobQueue, FargateJobQueueProps
from modules.constructs.lambda_function import LambdaFunction
from modules.constructs.policy_statements import Condition, statement
from modules.constructs.service_roles import inline_policy
from modules.stacks.base import PipelineStack
from modules.stacks.pipeline_function import pipeline_function

if TYPE_CHECKING:  # the producers' classes, for the typed parameters only (no import at run time)
    from pathlib import Path

    from modules.stacks.inference import InferenceStack
    from modules.stacks.messaging import MessagingStack
    from modules.stacks.network import NetworkStack
    from modules.stacks.registry import RegistryStack
    from modules.stacks.storage import StorageStack

# The image's batch mode; `Ref::manifest` is the job parameter batch_submit passes (the manifest's s3:// URI).
BATCH_COMMAND = ("batch", "--manifest", "Ref::manifest")
# What AWS Batch reports for the parent job of a batch (its children carry arrayProperties.index).
FINAL_STATES = ("SUCCEEDED", "FAILED")
BATCH_SERVICE = "batch.amazonaws.com"
# Where SageMaker writes every transform job's logs and instance metrics (fixed by AWS).
TRANSFORM_LOG_GROUP = "/aws/sagemaker/TransformJobs"
TRANSFORM_METRICS_NAMESPACE = "/aws/sagemaker/TransformJobs"


class BatchStack(PipelineStack):
    """Exposes `job_queue` (FargateJobQueue), `job_definition` (BatchJobDefinition), `functions` (folder ->
    LambdaFunction: batch_submit, batch_status), `state_rule` (EventRuleToTopic), `transform_policy` (the model
    role's Batch Transform grants), `key`."""

    def __init__(
        self,
        scope: Construct,
        id_: str = "batch",
        *,
        config: PipelineConfig,
        network: NetworkStack,
        registry: RegistryStack,
        storage: StorageStack,
        messaging: MessagingStack,
        inference: InferenceStack,
        lambdas_dir: Path | None = None,
    ) -> None:
        super().__init__(scope, id_, config=config)
        self.network, self.storage, self.messaging = network, storage, messaging
        batch = config.batch
        prefix, name = config.name_prefix, batch.name(config.name_prefix)
        if batch.image not in registry.repositories:
            raise ValueError(
                f"batch.image: no image {batch.image!r} in containers/; allowed: "
                f"{', '.join(sorted(registry.repositories))}"
            )
        self.bucket = storage.results_bucket
        self.key = self.customer_key(
            "batch-key",
            alias=name,
            description=f"batch job and function logs, function environments of {prefix}",
        )

        repository = registry.repositories[batch.image]
        separator = "@" if batch.image_tag.startswith("sha256:") else ":"
        self.job_definition = BatchJobDefinition(
            self,
            "job",
            props=BatchJobDefinitionProps(
                name=name,
                image=f"{repository.url}{separator}{batch.image_tag}",
                repository_arn=repository.arn,
                region=config.region,
                account_id=self.account_id,
                kms_key_arn=self.key.arn,
                vcpu=batch.vcpu,
                memory=batch.memory,
                cpu_architecture=batch.cpu_architecture,
                command=BATCH_COMMAND,
                environment={
                    contract.RESULTS_BUCKET: self.bucket.id,
                    contract.BATCH_RECORDS_PER_CALL: str(batch.records_per_call),
                    contract.BATCH_MAX_RECORD_BYTES: str(batch.max_record_bytes),
                    contract.LOG_LEVEL: config.inference.log_level,
                },
                job_policy_statements=tuple(self._job_grants()),
                retry_attempts=batch.retry_attempts,
                timeout_seconds=batch.timeout_seconds,
                log_retention_days=config.log_retention_days,
            ),
        )
        self.jobs_security_group = self._egress_group("jobs", "AWS Batch jobs: nothing in, HTTPS to AWS APIs out")
        self.job_queue = FargateJobQueue(
            self,
            "queue",
            props=FargateJobQueueProps(
                name=name,
                subnet_ids=network.private_subnet_ids,
                security_group_ids=[self.jobs_security_group],
                spot_vcpus=batch.spot_vcpus,
                on_demand_vcpus=batch.on_demand_vcpus,
                service_role_arn=self._emulator_service_role(),
            ),
        )

        self.functions: dict[str, LambdaFunction] = {}
        self.lambda_security_group = (
            self._egress_group("lambdas", "batch functions: nothing in, HTTPS to AWS APIs out")
            if config.compute.lambdas.in_vpc
            else None
        )
        for function in sorted(BATCH_FUNCTIONS):
            self.functions[function] = self._function(function, lambdas_dir)

        results = f"s3://{self.bucket.name}/{contract.BATCH_RESULTS_PREFIX}"
        self.state_rule = EventRuleToTopic(
            self,
            "state-rule",
            props=EventRuleToTopicProps(
                name=batch.rule_name(prefix),
                topic_arn=messaging.results_topic_arn,
                description=f"{name}: a batch's parent job finished; tell the results topic",
                event_pattern={
                    "source": ["aws.batch"],
                    "detail-type": ["Batch Job State Change"],
                    "detail": {
                        "jobQueue": [self.job_queue.job_queue.arn],
                        "status": list(FINAL_STATES),
                        # Children of an array job carry an index; the parent (and a single plain job) does not.
                        "arrayProperties": {"index": [{"exists": False}]},
                    },
                },
                input_paths={
                    "batch_id": "$.detail.parameters.batch_id",
                    "state": "$.detail.status",
                    "job_id": "$.detail.jobId",
                },
                input_template=(
                    '{"kind": "batch", "batch_id": "<batch_id>", "state": "<state>", '
                    '"batch_job_id": "<job_id>", "status_url": "/v1/batches/<batch_id>", '
                    f'"results": "{results}<batch_id>/"}}'
                ),
            ),
        )

        self.transform_policy = self._transform_grants(inference)
        for log_group in (self.job_definition.log_group, *(f.log_group for f in self.functions.values())):
            self.key.allow_log_group(log_group)
        self._outputs()

    # --- network ------------------------------------------------------------------------------------------------

    def _egress_group(self, label: str, description: str) -> str:
        """The one AWS-API egress rule (modules/constructs/aws_api_egress.py): HTTPS to the VPC (interface
        endpoints) and the S3 gateway, or to anywhere with compute.egress_to_internet."""
        config = self.config
        name = f"{config.batch.name(config.name_prefix)}-{label}"
        if not config.compute.egress_to_internet:
            return EgressSecurityGroup(
                self,
                f"{label}-security-group",
                props=EgressSecurityGroupProps(
                    name=name,
                    description=description,
                    vpc_id=self.network.vpc_id,
                    vpc_cidr=self.network.vpc_cidr,
                    s3_prefix_list_region=config.region,
                ),
            ).id
        group = aws.security_group.SecurityGroup(
            self, f"{label}-security-group", name=name, vpc_id=self.network.vpc_id, description=description
        )
        allow_https_to_aws_apis(
            self,
            f"{label}-egress",
            security_group_id=group.id,
            vpc_cidr=self.network.vpc_cidr,
            to_internet=True,
            descriptions={INTERNET: "HTTPS to AWS APIs (internet, through NAT)"},  # as deployed
        )
        return group.id

    def _emulator_service_role(self) -> str | None:
        """None on AWS (Batch uses its service-linked role); the emulator insists on a role and has none."""
        if not self.config.emulator.skips("batch_default_service_role"):
            return None
        return aws.iam_service_linked_role.IamServiceLinkedRole(
            self, "batch-service-role", aws_service_name=BATCH_SERVICE
        ).arn

    # --- grants -------------------------------------------------------------------------------------------------

    def _objects(self, prefix: str) -> str:
        return f"{self.bucket.arn}/{prefix}*"

    def _job_grants(self) -> list:
        """The batch mode's calls: its manifest, its input ranges, its outputs (multipart) and their listing."""
        return [
            statement("ReadManifests", ["s3:GetObject"], [self._objects(contract.BATCH_REQUESTS_PREFIX)]),
            statement("ReadInputs", ["s3:GetObject"], [self._objects(contract.BATCH_INPUTS_PREFIX)]),
            statement("WriteOutputs", ["s3:PutObject"], [self._objects(contract.BATCH_RESULTS_PREFIX)]),
            # Resume lists the done markers under the batch's own output prefix.
            statement(
                "ListOutputs",
                ["s3:ListBucket"],
                [self.bucket.arn],
                conditions=(Condition("StringLike", "s3:prefix", (f"{contract.BATCH_RESULTS_PREFIX}*",)),),
            ),
            # Reads decrypt; writes need a data key, and multipart uploads also decrypt it for each part.
            statement("ResultsBucketKey", ["kms:GenerateDataKey", "kms:Decrypt"], [self.storage.key.arn]),
        ]

    def _transform_grants(self, inference):
        """SageMaker Batch Transform runs as the model's execution role (the inference stack's): it lists and reads
        the inputs, writes the outputs under the storage key (the role already decrypts with it, for the model
        artifact) and writes the transform job's logs and metrics. The grant lives here, with the batch stack that
        documents `make transform`; without the batch stack the model's role stays hosting-only."""
        role_name = inference.role.role.name  # a cross-stack reference: the role exists before this policy
        transform_logs = (
            f"arn:{self.partition}:logs:{self.config.region}:{self.account_id}:log-group:{TRANSFORM_LOG_GROUP}"
        )
        return inline_policy(
            self,
            "transform-policy",
            role=role_name,
            name="batch-transform",
            statements=[
                statement(
                    "ListTransformInputs",
                    ["s3:ListBucket"],
                    [self.bucket.arn],
                    conditions=(Condition("StringLike", "s3:prefix", (f"{contract.BATCH_INPUTS_PREFIX}*",)),),
                ),
                statement("ReadTransformInputs", ["s3:GetObject"], [self._objects(contract.BATCH_INPUTS_PREFIX)]),
                statement(
                    "WriteTransformOutputs", ["s3:PutObject"], [self._objects(contract.TRANSFORM_RESULTS_PREFIX)]
                ),
                statement("TransformOutputKey", ["kms:GenerateDataKey"], [self.storage.key.arn]),
                # The action list of AWS's "CreateTransformJob API: Execution Role Permissions", on the one group
                # SageMaker writes transform jobs to (it creates the group when the account has none).
                statement(
                    "WriteTransformLogs",
                    ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
                    [transform_logs, f"{transform_logs}:*"],
                ),
                # PutMetricData has no resource-level permissions; the namespace keeps it to transform job metrics.
                statement(
                    "PublishTransformMetrics",
                    ["cloudwatch:PutMetricData"],
                    ["*"],
                    conditions=(Condition("StringEquals", "cloudwatch:namespace", (TRANSFORM_METRICS_NAMESPACE,)),),
                ),
            ],
        )

    def _function_needs(self, function: str) -> tuple[dict[str, str], list]:
        config, bucket = self.config, self.bucket
        environment = {contract.RESULTS_BUCKET: bucket.id}
        if function == "batch_submit":
            batch = config.batch
            environment |= {
                contract.BATCH_JOB_QUEUE: self.job_queue.job_queue.arn,
                contract.BATCH_JOB_DEFINITION: self.job_definition.job_definition.arn,
                contract.BATCH_MAX_ARRAY_SIZE: str(batch.max_array_size),
                contract.BATCH_MAX_INPUT_BYTES: str(batch.max_input_bytes),
                contract.BATCH_MAX_PARTS: str(batch.max_parts),
                contract.BATCH_PART_BYTES: str(batch.part_bytes),
                contract.BATCH_UPLOAD_URL_SECONDS: str(batch.upload_url_seconds),
                contract.BATCH_MAX_UPLOAD_PARTS: str(batch.max_upload_parts),
            }
            return environment, [
                statement(
                    "ListInputs",
                    ["s3:ListBucket"],
                    [bucket.arn],
                    conditions=(Condition("StringLike", "s3:prefix", (f"{contract.BATCH_INPUTS_PREFIX}*",)),),
                ),
                # A presigned upload URL is used with the signer's rights: the client's PUT runs as this role.
                statement("SignInputUploads", ["s3:PutObject"], [self._objects(contract.BATCH_INPUTS_PREFIX)]),
                # DeleteObject: a manifest whose job could not be submitted is removed again (404, not "submitted").
                statement(
                    "WriteManifests",
                    ["s3:PutObject", "s3:DeleteObject"],
                    [self._objects(contract.BATCH_REQUESTS_PREFIX)],
                ),
                # SubmitJob is authorized on the queue and on the job definition (with its revision).
                statement(
                    "SubmitBatchJobs",
                    ["batch:SubmitJob"],
                    [self.job_queue.job_queue.arn, self.job_definition.job_definition.arn],
                ),
                statement("ResultsBucketKey", ["kms:GenerateDataKey"], [self.storage.key.arn]),
            ]
        return environment, [
            statement(
                "ReadBatches",
                ["s3:GetObject"],
                [self._objects(contract.BATCH_REQUESTS_PREFIX), self._objects(contract.BATCH_RESULTS_PREFIX)],
            ),
            # Unconditioned, as the status function of the jobs has it (modules/stacks/compute.py
            # _missing_key_is_404): S3 answers 404 for an unknown batch only to a caller allowed ListBucket.
            statement("TellMissingFromForbidden", ["s3:ListBucket"], [bucket.arn]),
            # DescribeJobs has no resource-level permissions: AWS accepts only "*".
            statement("DescribeBatchJobs", ["batch:DescribeJobs"], ["*"]),
            statement("ResultsBucketKey", ["kms:Decrypt"], [self.storage.key.arn]),
        ]

    # --- functions ----------------------------------------------------------------------------------------------

    def _function(self, function: str, lambdas_dir) -> LambdaFunction:
        environment, statements = self._function_needs(function)
        return pipeline_function(
            self,
            function,
            lambdas_dir=lambdas_dir,
            kms_key_arn=self.key.arn,
            network=self.network,
            security_group_id=self.lambda_security_group,
            environment=environment,
            statements=statements,
        )

    # --- outputs ------------------------------------------------------------------------------------------------

    def _outputs(self) -> None:
        self.output("batch_job_queue_arn", self.job_queue.job_queue.arn, "AWS Batch job queue (Fargate Spot first)")
        self.output(
            "batch_job_definition_arn",
            self.job_definition.job_definition.arn,
            "job definition running the inference image's batch mode (with its revision)",
        )
        self.output("batch_log_group", self.job_definition.log_group.name, "logs of every batch job")
        self.output(
            "batch_state_rule_arn",
            self.state_rule.rule.arn,
            "EventBridge rule telling the results topic when a batch finished",
        )
        self.output(
            "batch_inputs_uri",
            f"s3://{self.bucket.name}/{contract.BATCH_INPUTS_PREFIX}",
            "where batch inputs go (POST /v1/batches and `make transform` read only here)",
        )
        self.output(
            "transform_output_uri",
            f"s3://{self.bucket.name}/{contract.TRANSFORM_RESULTS_PREFIX}",
            "where `make transform` (SageMaker Batch Transform) writes its outputs",
        )
        for function, lambda_function in self.functions.items():
            self.output(
                f"function_name_{function}",
                lambda_function.function.function_name,
                f"the {function} Lambda function (lambdas/{function}/handler.py)",
            )
