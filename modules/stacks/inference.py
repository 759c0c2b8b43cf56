"""The inference stack: a SageMaker model (the registry's inference image + model.tar.gz from the artifacts
bucket), an endpoint configuration in the configured mode (real-time, serverless or async), optionally a shadow
variant running a candidate model, the endpoint with its guarded rollout (real-time and async), autoscaling on
the metric that fits the mode, and alarms (the production variant's also roll an update back).

The endpoint name comes from config (`config.inference.endpoint_name`), so the compute stack grants
InvokeEndpoint on its exact ARN without waiting for this stack.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from constructs import Construct

from lambdas import contract
from modules.config import PipelineConfig
from modules.config.inference import local_nvme_instance
from modules.constructs.egress_security_group import EgressSecurityGroup, EgressSecurityGroupProps
from modules.constructs.endpoint_alarms import EndpointAlarms, EndpointAlarmsProps
from modules.constructs.endpoint_autoscaling import EndpointAutoscaling, EndpointAutoscalingProps
from modules.constructs.sagemaker_endpoint import (
    SHADOW_VARIANT_NAME,
    VARIANT_NAME,
    EndpointDeployment,
    SagemakerEndpoint,
    SagemakerEndpointProps,
)
from modules.constructs.sagemaker_execution_role import SagemakerExecutionRole, SagemakerExecutionRoleProps
from modules.constructs.sagemaker_model import SagemakerModel, SagemakerModelProps
from modules.limits import ENDPOINT_MODES
from modules.stacks.base import PipelineStack

if TYPE_CHECKING:  # the producers' classes, for the typed parameters only (no import at run time)
    from modules.stacks.messaging import MessagingStack
    from modules.stacks.network import NetworkStack
    from modules.stacks.registry import RegistryStack
    from modules.stacks.storage import StorageStack

IMAGE = "inference"  # folder in containers/ = key of registry.repositories
DATA_CAPTURE_PREFIX = "data-capture/"
# The async key layout is the job code's (lambdas/contract.py): consumers write inputs, the endpoint its answers.
ASYNC_INPUT_PREFIX = contract.ASYNC_INPUT_PREFIX
ASYNC_OUTPUT_PREFIX = contract.ASYNC_OUTPUT_PREFIX
ASYNC_FAILURE_PREFIX = contract.ASYNC_FAILURE_PREFIX


class InferenceStack(PipelineStack):
    """Exposes `endpoint_name`, `endpoint_arn`, `alarm_topic_arn`, `key`, `model`, `shadow_model` (or None),
    `endpoint`, `role`, `alarms`, `shadow_alarms` (or None)."""

    def __init__(
        self,
        scope: Construct,
        id_: str = "inference",
        *,
        config: PipelineConfig,
        network: NetworkStack,
        registry: RegistryStack,
        storage: StorageStack,
        messaging: MessagingStack,
    ) -> None:
        super().__init__(scope, id_, config=config)
        inference = config.inference
        name = inference.endpoint_name
        mode = ENDPOINT_MODES[inference.mode]
        if IMAGE not in registry.repositories:
            raise ValueError(f"inference: the registry has no {IMAGE!r} repository (containers/{IMAGE}/Dockerfile)")
        self.key = self.customer_key(
            "inference-key",
            alias=f"{config.name_prefix}-inference",
            description=f"SageMaker volume and logs of {name}",
        )
        results_arn = storage.results_bucket.arn
        results_uri = f"s3://{storage.results_bucket.name}/"
        capture = mode.data_capture and inference.data_capture_sampling_percentage > 0
        write_prefixes = []
        if capture:
            write_prefixes.append(f"{results_arn}/{DATA_CAPTURE_PREFIX}*")
        if inference.mode == "async":
            write_prefixes += [f"{results_arn}/{ASYNC_OUTPUT_PREFIX}*", f"{results_arn}/{ASYNC_FAILURE_PREFIX}*"]

        in_vpc = mode.instances and inference.vpc
        self.security_group = None
        if in_vpc:
            self.security_group = EgressSecurityGroup(
                self,
                "endpoint-security-group",
                props=EgressSecurityGroupProps(
                    name=f"{name}-endpoint",
                    vpc_id=network.vpc_id,
                    vpc_cidr=network.vpc_cidr,
                    description=f"SageMaker endpoint {name}: HTTPS out to VPC endpoints and S3 only, nothing in",
                    s3_prefix_list_region=config.region,
                ),
            )

        # The alarms come first: the role may describe the ones an update rolls back on.
        self.alarm_topic_arn = messaging.alarm_topic_arn
        self.alarms = self._alarms(config, VARIANT_NAME, shadow=False)
        self.shadow_alarms = self._alarms(config, SHADOW_VARIANT_NAME, shadow=True) if inference.shadow else None
        rollback_alarms = self.alarms.rollback_alarms if inference.rollout.rolls_back(inference.mode) else []

        repository = registry.repositories[IMAGE]
        self.role = SagemakerExecutionRole(
            self,
            "execution-role",
            props=SagemakerExecutionRoleProps(
                role_name=f"{name}-sagemaker",
                account_id=self.account_id,
                partition=self.partition,
                region=config.region,
                endpoint_name=name,
                # Every version of the model, not only the current one: see sagemaker_execution_role.py.
                artifact_prefix_arn=f"{storage.artifacts_bucket.arn}/{inference.model_prefix}*",
                repository_arn=repository.arn,
                # Async notifications publish to the CMK-encrypted notifications topic: a data key and decrypt on its key.
                decrypt_key_arns=(storage.key.arn, *((messaging.key.arn,) if inference.mode == "async" else ())),
                encrypt_key_arns=(
                    *((storage.key.arn,) if write_prefixes else ()),
                    *((messaging.key.arn,) if inference.mode == "async" else ()),
                ),
                volume_key_arn=self.key.arn
                if not (mode.instances and local_nvme_instance(inference.instance_type))
                else None,
                # Async: the endpoint reads each InputLocation the consumers hand it, which they write under one prefix.
                read_prefix_arns=(f"{results_arn}/{ASYNC_INPUT_PREFIX}*",) if inference.mode == "async" else (),
                write_prefix_arns=tuple(write_prefixes),
                publish_topic_arns=(messaging.async_notifications_topic_arn,) if inference.mode == "async" else (),
                vpc_id=network.vpc_id if in_vpc else None,
                rollback_alarm_arns=tuple(alarm.arn for alarm in rollback_alarms),
            ),
        )

        model_props = {
            "image_repository_url": repository.url,
            "artifact_bucket": storage.artifacts_bucket.name,
            "execution_role_arn": self.role.arn,
            "network_isolation": mode.instances and inference.network_isolation,
            "subnet_ids": network.private_subnet_ids if in_vpc else (),
            "security_group_ids": (self.security_group.id,) if in_vpc else (),
            "environment": {contract.LOG_LEVEL: inference.log_level},
            "depends_on": (self.role.policy,),
        }
        self.model = SagemakerModel(
            self,
            "model",
            props=SagemakerModelProps(
                name_prefix=name,
                image_tag=inference.image_tag,
                artifact_key=inference.model_artifact_key,
                **model_props,
            ),
        )
        shadow = inference.shadow
        self.shadow_model = (
            SagemakerModel(
                self,
                "shadow-model",
                props=SagemakerModelProps(
                    name_prefix=name,
                    image_tag=shadow.image_tag or inference.image_tag,
                    artifact_key=inference.shadow_artifact_key,
                    **model_props,
                ),
            )
            if shadow
            else None
        )

        self.endpoint = SagemakerEndpoint(
            self,
            "endpoint",
            props=SagemakerEndpointProps(
                endpoint_name=name,
                model_name=self.model.name,
                mode=inference.mode,
                kms_key_arn=self.key.arn,
                log_kms_key_arn=self.key.arn,
                log_retention_days=config.log_retention_days,
                volume_encryption=not (mode.instances and local_nvme_instance(inference.instance_type)),
                instance_type=inference.instance_type if mode.instances else None,
                initial_instance_count=inference.initial_instance_count if mode.instances else None,
                data_capture_s3_uri=f"{results_uri}{DATA_CAPTURE_PREFIX}" if capture else None,
                data_capture_sampling_percentage=inference.data_capture_sampling_percentage if capture else None,
                data_capture_kms_key_arn=storage.key.arn if capture else None,
                memory_size_mb=inference.memory_size_mb if inference.mode == "serverless" else None,
                max_concurrency=inference.max_concurrency if inference.mode == "serverless" else None,
                provisioned_concurrency=inference.provisioned_concurrency if inference.mode == "serverless" else None,
                deployment=self._deployment(config, rollback_alarms),
                **self._shadow_props(config),
                **self._async_props(config, results_uri, storage, messaging),
            ),
        )
        self.key.allow_log_group(self.endpoint.log_group)
        self.endpoint_name = name
        self.endpoint_arn = self.endpoint.arn

        self.autoscaling = None
        if inference.autoscaled and not config.emulator.skips("autoscaling"):
            target = {
                "real-time": inference.target_invocations_per_instance,
                "async": inference.target_backlog_per_instance,
                "serverless": inference.target_provisioned_concurrency_utilization,
            }[inference.mode]
            self.autoscaling = EndpointAutoscaling(
                self,
                "autoscaling",
                props=EndpointAutoscalingProps(
                    endpoint_name=self.endpoint.endpoint.name,
                    variant_name=self.endpoint.variant_name,
                    mode=inference.mode,
                    min_capacity=inference.resolved_min_capacity,
                    max_capacity=inference.resolved_max_capacity,
                    target_value=target,
                    scale_in_cooldown_seconds=inference.scale_in_cooldown_seconds,
                    scale_out_cooldown_seconds=inference.scale_out_cooldown_seconds,
                    alarm_name_prefix=name,
                ),
            )

        self.output("endpoint_name", name, "SageMaker endpoint (ENDPOINT_NAME of the Lambdas)")
        self.output("endpoint_arn", self.endpoint_arn, "SageMaker endpoint ARN (sagemaker:InvokeEndpoint)")
        self.output("endpoint_mode", inference.mode, "real-time, serverless or async")
        self.output(
            "endpoint_configuration_name",
            self.endpoint.configuration_name,
            "current endpoint configuration (name carries a hash of all its arguments)",
        )
        self.output(
            "model_name",
            self.model.name,
            "current SageMaker model (name carries a hash of image, artifact version, role and network)",
        )
        self.output("model_image", self.model.image, "image the endpoint runs (push it before deploying)")
        self.output(
            "model_artifact_uri",
            self.model.model_data_url,
            "the artifact of inference.model_version (make release uploads it, docs/releases.md)",
        )
        self.output("execution_role_arn", self.role.arn, "role the model runs as")
        if self.shadow_model:
            self.output(
                "shadow_model_name",
                self.shadow_model.name,
                "candidate SageMaker model of the shadow variant (gets a copy of production requests)",
            )
            self.output(
                "shadow_model_artifact_uri",
                self.shadow_model.model_data_url,
                "the candidate's artifact (uploaded like any release: python -m tools.release upload)",
            )

    def _alarms(self, config: PipelineConfig, variant: str, *, shadow: bool) -> EndpointAlarms:
        inference = config.inference
        return EndpointAlarms(
            self,
            "shadow-alarms" if shadow else "alarms",
            props=EndpointAlarmsProps(
                endpoint_name=inference.endpoint_name,
                variant_name=variant,
                mode=inference.mode,
                alarm_topic_arn=self.alarm_topic_arn,
                errors_threshold=inference.alarm_errors_threshold,
                latency_p99_ms=inference.alarm_latency_p99_ms,
                shadow=shadow,
            ),
        )

    @staticmethod
    def _deployment(config: PipelineConfig, rollback_alarms: list) -> EndpointDeployment | None:
        """The endpoint's rollout (real-time and async; serverless gets SageMaker's own update)."""
        inference = config.inference
        rollout = inference.rollout
        if not rollout.guarded(inference.mode):
            return None
        return EndpointDeployment(
            strategy=rollout.strategy,
            step_size=rollout.step_size,
            step_unit=rollout.step_unit,
            wait_interval_seconds=rollout.wait_interval_seconds,
            termination_wait_seconds=rollout.termination_wait_seconds,
            maximum_execution_timeout_seconds=rollout.maximum_execution_timeout_seconds,
            rollback_step_size=rollout.rollback_step_size,
            # References, so the endpoint waits for its alarms; their values are the configured names, known at
            # plan time and fixed by config alone (a changed list replaces the endpoint: endpoint_alarms.py).
            rollback_alarm_names=tuple(alarm.alarm_name for alarm in rollback_alarms),
        )

    def _shadow_props(self, config: PipelineConfig) -> dict:
        shadow = config.inference.shadow
        if shadow is None:
            return {}
        return {
            "shadow_model_name": self.shadow_model.name,
            "shadow_instance_type": shadow.instance_type or config.inference.instance_type,
            "shadow_initial_instance_count": shadow.initial_instance_count,
            "shadow_sampling_percentage": shadow.sampling_percentage,
        }

    def _async_props(self, config: PipelineConfig, results_uri: str, storage, messaging) -> dict:
        inference = config.inference
        if inference.mode != "async":
            return {}
        return {
            "output_s3_uri": f"{results_uri}{ASYNC_OUTPUT_PREFIX}",
            "failure_s3_uri": f"{results_uri}{ASYNC_FAILURE_PREFIX}",
            "output_kms_key_arn": storage.key.arn,
            # SageMaker's own format goes to its own topic; async_results translates it into the results contract.
            "success_topic_arn": messaging.async_notifications_topic_arn,
            "error_topic_arn": messaging.async_notifications_topic_arn,
            "max_concurrent_invocations_per_instance": inference.max_concurrent_invocations_per_instance,
        }
