"""A SageMaker endpoint with its endpoint configuration (real-time, serverless or async) and its log group.

Why the configuration name carries a hash of every argument and is created before the old one is destroyed: an
endpoint configuration cannot be changed in place (every argument forces a replacement) and the live endpoint
names it. With a fixed name Terraform would try to delete the configuration in use and fail; with a name that
changes whenever an argument does (model, volume key, data capture destination and key, async outputs, topics
...) a change creates the new configuration, updates the endpoint to it (SageMaker swaps without downtime), then
deletes the old one. The hash is evaluated by Terraform over the real values (see content_hash.py). The endpoint
keeps its fixed name: it is updated in place.

How the update reaches the instances is the endpoint's `deployment_config` (real-time and async only: SageMaker
offers deployment guardrails for nothing else): blue/green with all-at-once, canary or linear traffic shifting,
or a rolling update, each step baked while the rollback alarms are watched. A shadow variant (real-time) runs a
candidate model on its own instances and gets a copy of the production requests; its answers are discarded.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from typing import Literal

from cdktf import TerraformResourceLifecycle
from constructs import Construct

from modules import aws
from modules.constructs.content_hash import HASH_LENGTH, replacement_hash
from modules.constructs.encrypted_log_group import encrypted_log_group, log_group_problems
from modules.constructs.sagemaker_execution_role import log_group_name
from modules.limits import (
    ENDPOINT_MODES,
    SAGEMAKER_DEPLOYMENT_TIMEOUT,
    SAGEMAKER_DEPLOYMENT_WAIT,
    SAGEMAKER_NAME,
    SAGEMAKER_ROLLBACK_ALARMS,
    SAGEMAKER_SERVERLESS_MAX_CONCURRENCY,
    SAGEMAKER_SERVERLESS_MEMORY_SIZES,
    EndpointMode,
    modes_of,
)

VARIANT_NAME = "primary"
SHADOW_VARIANT_NAME = "shadow"
STRATEGIES = ("all-at-once", "canary", "linear", "rolling")
TRAFFIC_ROUTING = {"all-at-once": "ALL_AT_ONCE", "canary": "CANARY", "linear": "LINEAR"}
CAPACITY_UNITS = {"instances": "INSTANCE_COUNT", "percent": "CAPACITY_PERCENT"}
MAX_ENDPOINT_NAME = SAGEMAKER_NAME.value - HASH_LENGTH - 1  # "-<hash>" is appended for the configuration
SERVERLESS_MEMORY_MB = SAGEMAKER_SERVERLESS_MEMORY_SIZES.value
MAX_CONCURRENCY = SAGEMAKER_SERVERLESS_MAX_CONCURRENCY.value
WAIT_RANGE = SAGEMAKER_DEPLOYMENT_WAIT.value
TIMEOUT_RANGE = SAGEMAKER_DEPLOYMENT_TIMEOUT.value


@dataclass(frozen=True, kw_only=True)
class EndpointDeployment:
    """How an update moves traffic to the new configuration, and which alarms roll it back (config: rollout.py)."""

    strategy: Literal["all-at-once", "canary", "linear", "rolling"] = "all-at-once"
    step_size: int | None = None  # canary size, linear step or rolling batch (required unless all-at-once)
    step_unit: Literal["instances", "percent"] = "instances"
    wait_interval_seconds: int  # baking period after each step (0-3600)
    termination_wait_seconds: int  # blue/green: the old fleet stays this long after the last shift
    maximum_execution_timeout_seconds: int | None = None  # 600-14400; None: SageMaker's default
    rollback_step_size: int | None = None  # rolling only; None: the whole old fleet at once
    rollback_alarm_names: tuple[str, ...] = ()  # alarms watched while baking (1-10); empty: no auto-rollback


@dataclass(frozen=True, kw_only=True)
class SagemakerEndpointProps:
    """The endpoint, its mode and the knobs of that mode (knobs of other modes must stay unset)."""

    endpoint_name: str  # plain name, shared with the compute stack through config
    model_name: str  # SagemakerModel.name (a reference: the configuration waits for the model, hashes its name)
    mode: EndpointMode
    kms_key_arn: str  # CMK of the ML storage volume / the image copy; None only for local-NVMe instance types
    log_kms_key_arn: str  # CMK of the endpoint's log group
    log_retention_days: int  # finite retention of the log group
    volume_encryption: bool = True  # False for instance types with local NVMe storage (they refuse a volume key)
    # real-time and async
    instance_type: str | None = None  # ml.* instance type
    initial_instance_count: int | None = None  # instances at creation
    # real-time
    data_capture_s3_uri: str | None = None  # s3://<results bucket>/data-capture/
    data_capture_sampling_percentage: int | None = None  # None or 0: no data capture
    data_capture_kms_key_arn: str | None = None  # CMK of the captured objects
    # serverless
    memory_size_mb: int | None = None  # 1024-6144 in 1 GB steps
    max_concurrency: int | None = None  # 1-200
    provisioned_concurrency: int | None = None  # <= max_concurrency; None: none
    # async
    output_s3_uri: str | None = None  # s3://<results bucket>/async/output/
    failure_s3_uri: str | None = None  # s3://<results bucket>/async/failure/
    output_kms_key_arn: str | None = None  # CMK of the async outputs
    success_topic_arn: str | None = None  # notified when a request succeeded
    error_topic_arn: str | None = None  # notified when a request failed
    max_concurrent_invocations_per_instance: int | None = None  # 1-1000
    # updates (real-time and async); None: SageMaker's default update, all at once, nothing watched
    deployment: EndpointDeployment | None = None
    # shadow variant (real-time): a candidate model answering copies of the production requests
    shadow_model_name: str | None = None  # SagemakerModel.name of the candidate; None: no shadow variant
    shadow_instance_type: str | None = None  # default: instance_type
    shadow_initial_instance_count: int | None = None  # required with shadow_model_name
    shadow_sampling_percentage: int | None = None  # share of production requests copied to the shadow (1-100)


class SagemakerEndpoint(Construct):
    """Exposes `endpoint`, `configuration`, `log_group`, `name`, `arn`, `variant_name`, `shadow_variant_name`
    (None without a shadow), `configuration_name` (Terraform expression: <endpoint>-<hash>)."""

    def __init__(self, scope: Construct, id_: str, *, props: SagemakerEndpointProps) -> None:
        super().__init__(scope, id_)
        _validate(id_, props)
        self.name = props.endpoint_name
        self.variant_name = VARIANT_NAME
        self.shadow_variant_name = SHADOW_VARIANT_NAME if props.shadow_model_name else None
        # Created here (not by SageMaker on first write) so that it has a retention and a key.
        self.log_group = encrypted_log_group(
            self,
            "log-group",
            name=log_group_name(props.endpoint_name),
            retention_days=props.log_retention_days,
            kms_key_arn=props.log_kms_key_arn,
        )
        arguments = configuration_arguments(props)
        self.configuration = aws.sagemaker_endpoint_configuration.SagemakerEndpointConfiguration(
            self,
            "configuration",
            name=f"{props.endpoint_name}-{replacement_hash(arguments)}",
            **arguments,
            lifecycle=TerraformResourceLifecycle(create_before_destroy=True),
        )
        self.configuration_name = self.configuration.name
        self.endpoint = aws.sagemaker_endpoint.SagemakerEndpoint(
            self,
            "endpoint",
            name=props.endpoint_name,
            endpoint_config_name=self.configuration.name,
            deployment_config=_deployment_config(props.deployment) if props.deployment else None,
            depends_on=[self.log_group],
        )
        self.arn = self.endpoint.arn


def configuration_arguments(props: SagemakerEndpointProps) -> dict[str, object]:
    """Every argument of the configuration but its name: all of them force a replacement, so all are hashed."""
    return {
        "kms_key_arn": props.kms_key_arn if props.volume_encryption else None,
        "production_variants": [_variant(props)],
        "shadow_production_variants": [_shadow_variant(props)] if props.shadow_model_name else None,
        "data_capture_config": _data_capture(props),
        "async_inference_config": _async(props),
    }


def _variant(
    props: SagemakerEndpointProps,
) -> aws.sagemaker_endpoint_configuration.SagemakerEndpointConfigurationProductionVariants:
    if not ENDPOINT_MODES[props.mode].instances:
        return aws.sagemaker_endpoint_configuration.SagemakerEndpointConfigurationProductionVariants(
            variant_name=VARIANT_NAME,
            model_name=props.model_name,
            serverless_config=aws.sagemaker_endpoint_configuration.SagemakerEndpointConfigurationProductionVariantsServerlessConfig(
                memory_size_in_mb=props.memory_size_mb,
                max_concurrency=props.max_concurrency,
                provisioned_concurrency=props.provisioned_concurrency,
            ),
        )
    return aws.sagemaker_endpoint_configuration.SagemakerEndpointConfigurationProductionVariants(
        variant_name=VARIANT_NAME,
        model_name=props.model_name,
        instance_type=props.instance_type,
        initial_instance_count=props.initial_instance_count,
        initial_variant_weight=1,
    )


def _shadow_variant(
    props: SagemakerEndpointProps,
) -> aws.sagemaker_endpoint_configuration.SagemakerEndpointConfigurationShadowProductionVariants:
    """The shadow's weight relative to the production variant's (1) is the share of requests copied to it."""
    return aws.sagemaker_endpoint_configuration.SagemakerEndpointConfigurationShadowProductionVariants(
        variant_name=SHADOW_VARIANT_NAME,
        model_name=props.shadow_model_name,
        instance_type=props.shadow_instance_type or props.instance_type,
        initial_instance_count=props.shadow_initial_instance_count,
        initial_variant_weight=props.shadow_sampling_percentage / 100,
    )


def _deployment_config(deployment: EndpointDeployment) -> aws.sagemaker_endpoint.SagemakerEndpointDeploymentConfig:
    config = aws.sagemaker_endpoint.SagemakerEndpointDeploymentConfig
    size = {"type": CAPACITY_UNITS[deployment.step_unit], "value": deployment.step_size}
    rollback = (
        aws.sagemaker_endpoint.SagemakerEndpointDeploymentConfigAutoRollbackConfiguration(
            alarms=[
                aws.sagemaker_endpoint.SagemakerEndpointDeploymentConfigAutoRollbackConfigurationAlarms(alarm_name=name)
                for name in deployment.rollback_alarm_names
            ]
        )
        if deployment.rollback_alarm_names
        else None
    )
    if deployment.strategy == "rolling":
        rolling = aws.sagemaker_endpoint.SagemakerEndpointDeploymentConfigRollingUpdatePolicy
        rollback_batch = {"type": size["type"], "value": deployment.rollback_step_size}
        return config(
            auto_rollback_configuration=rollback,
            rolling_update_policy=rolling(
                maximum_batch_size=aws.sagemaker_endpoint.SagemakerEndpointDeploymentConfigRollingUpdatePolicyMaximumBatchSize(
                    **size
                ),
                wait_interval_in_seconds=deployment.wait_interval_seconds,
                maximum_execution_timeout_in_seconds=deployment.maximum_execution_timeout_seconds,
                rollback_maximum_batch_size=(
                    aws.sagemaker_endpoint.SagemakerEndpointDeploymentConfigRollingUpdatePolicyRollbackMaximumBatchSize(
                        **rollback_batch
                    )
                    if deployment.rollback_step_size
                    else None
                ),
            ),
        )
    routing = aws.sagemaker_endpoint.SagemakerEndpointDeploymentConfigBlueGreenUpdatePolicyTrafficRoutingConfiguration
    canary = aws.sagemaker_endpoint.SagemakerEndpointDeploymentConfigBlueGreenUpdatePolicyTrafficRoutingConfigurationCanarySize
    linear = aws.sagemaker_endpoint.SagemakerEndpointDeploymentConfigBlueGreenUpdatePolicyTrafficRoutingConfigurationLinearStepSize
    return config(
        auto_rollback_configuration=rollback,
        blue_green_update_policy=(
            aws.sagemaker_endpoint.SagemakerEndpointDeploymentConfigBlueGreenUpdatePolicy(
                traffic_routing_configuration=routing(
                    type=TRAFFIC_ROUTING[deployment.strategy],
                    wait_interval_in_seconds=deployment.wait_interval_seconds,
                    canary_size=canary(**size) if deployment.strategy == "canary" else None,
                    linear_step_size=linear(**size) if deployment.strategy == "linear" else None,
                ),
                termination_wait_in_seconds=deployment.termination_wait_seconds,
                maximum_execution_timeout_in_seconds=deployment.maximum_execution_timeout_seconds,
            )
        ),
    )


def _data_capture(
    props: SagemakerEndpointProps,
) -> aws.sagemaker_endpoint_configuration.SagemakerEndpointConfigurationDataCaptureConfig | None:
    if not ENDPOINT_MODES[props.mode].data_capture or not props.data_capture_sampling_percentage:
        return None
    return aws.sagemaker_endpoint_configuration.SagemakerEndpointConfigurationDataCaptureConfig(
        enable_capture=True,
        initial_sampling_percentage=props.data_capture_sampling_percentage,
        destination_s3_uri=props.data_capture_s3_uri,
        kms_key_id=props.data_capture_kms_key_arn,
        capture_options=[
            aws.sagemaker_endpoint_configuration.SagemakerEndpointConfigurationDataCaptureConfigCaptureOptions(
                capture_mode=mode
            )
            for mode in ("Input", "Output")
        ],
        capture_content_type_header=aws.sagemaker_endpoint_configuration.SagemakerEndpointConfigurationDataCaptureConfigCaptureContentTypeHeader(
            json_content_types=["application/json"]
        ),
    )


def _async(
    props: SagemakerEndpointProps,
) -> aws.sagemaker_endpoint_configuration.SagemakerEndpointConfigurationAsyncInferenceConfig | None:
    if props.mode != "async":
        return None
    return aws.sagemaker_endpoint_configuration.SagemakerEndpointConfigurationAsyncInferenceConfig(
        output_config=aws.sagemaker_endpoint_configuration.SagemakerEndpointConfigurationAsyncInferenceConfigOutputConfig(
            s3_output_path=props.output_s3_uri,
            s3_failure_path=props.failure_s3_uri,
            kms_key_id=props.output_kms_key_arn,
            # No include_inference_response_in: the answer stays in the encrypted output object (the translator
            # reads it there, whatever its size), never copied into topic and queue messages.
            notification_config=aws.sagemaker_endpoint_configuration.SagemakerEndpointConfigurationAsyncInferenceConfigOutputConfigNotificationConfig(
                success_topic=props.success_topic_arn, error_topic=props.error_topic_arn
            ),
        ),
        client_config=aws.sagemaker_endpoint_configuration.SagemakerEndpointConfigurationAsyncInferenceConfigClientConfig(
            max_concurrent_invocations_per_instance=props.max_concurrent_invocations_per_instance
        ),
    )


MODE_KNOBS = {
    "real-time": ("instance_type", "initial_instance_count"),
    "async": (
        "instance_type",
        "initial_instance_count",
        "output_s3_uri",
        "failure_s3_uri",
        "success_topic_arn",
        "error_topic_arn",
        "max_concurrent_invocations_per_instance",
    ),
    "serverless": ("memory_size_mb", "max_concurrency"),
}


def _mode_specific_props(props: SagemakerEndpointProps) -> list[tuple[str, tuple[EndpointMode, ...]]]:
    """The set props that apply to some modes only (limits.ENDPOINT_MODES), with those modes."""
    set_props = sorted(field.name for field in fields(props) if getattr(props, field.name) != field.default)
    return [(name, modes) for name in set_props if (modes := modes_of(name))]


def _validate(id_: str, props: SagemakerEndpointProps) -> None:
    problems = []
    if props.mode not in ENDPOINT_MODES:
        raise ValueError(f"{id_}: mode must be one of {', '.join(ENDPOINT_MODES)}, got {props.mode!r}")
    if not 1 <= len(props.endpoint_name) <= MAX_ENDPOINT_NAME:
        problems.append(f"endpoint_name must be 1-{MAX_ENDPOINT_NAME} characters (a -<hash> is appended)")
    for name in MODE_KNOBS[props.mode]:
        if getattr(props, name) is None:
            problems.append(f"{name} is required in mode {props.mode!r}")
    for name, modes in _mode_specific_props(props):
        if props.mode not in modes:
            problems.append(f"{name} applies only to mode {' or '.join(modes)}, not to mode {props.mode!r}")
    if props.instance_type is not None and not _is_ml_instance(props.instance_type):
        problems.append(f"instance_type must match ^ml\\.[a-z0-9]+\\.[a-z0-9]+$, got {props.instance_type!r}")
    if props.initial_instance_count is not None and not 1 <= props.initial_instance_count <= 100:
        problems.append(f"initial_instance_count must be 1-100, got {props.initial_instance_count}")
    if props.data_capture_sampling_percentage is not None and not 0 <= props.data_capture_sampling_percentage <= 100:
        problems.append(f"data_capture_sampling_percentage must be 0-100, got {props.data_capture_sampling_percentage}")
    if props.data_capture_sampling_percentage and not props.data_capture_s3_uri:
        problems.append("data_capture_s3_uri is required when data_capture_sampling_percentage > 0")
    if props.memory_size_mb is not None and props.memory_size_mb not in SERVERLESS_MEMORY_MB:
        problems.append(
            f"memory_size_mb must be one of {', '.join(map(str, SERVERLESS_MEMORY_MB))}, got {props.memory_size_mb}"
        )
    if props.max_concurrency is not None and not 1 <= props.max_concurrency <= MAX_CONCURRENCY:
        problems.append(f"max_concurrency must be 1-{MAX_CONCURRENCY}, got {props.max_concurrency}")
    if props.provisioned_concurrency is not None and not (
        1 <= props.provisioned_concurrency <= (props.max_concurrency or MAX_CONCURRENCY)
    ):
        problems.append(
            f"provisioned_concurrency must be 1-max_concurrency ({props.max_concurrency}), "
            f"got {props.provisioned_concurrency}"
        )
    if props.max_concurrent_invocations_per_instance is not None and not (
        1 <= props.max_concurrent_invocations_per_instance <= 1000
    ):
        problems.append(
            "max_concurrent_invocations_per_instance must be 1-1000, "
            f"got {props.max_concurrent_invocations_per_instance}"
        )
    for name in ("data_capture_s3_uri", "output_s3_uri", "failure_s3_uri"):
        value = getattr(props, name)
        if value is not None and not (value.startswith("s3://") and value.endswith("/")):
            problems.append(f"{name} must be an s3://bucket/prefix/ URI ending in '/', got {value!r}")
    if props.volume_encryption and not props.kms_key_arn:
        problems.append("kms_key_arn is required (customer key for the volume / image copy)")
    if not props.log_kms_key_arn:
        problems.append("log_kms_key_arn is required (the log group is encrypted with a customer key)")
    problems += log_group_problems("log_retention_days", props.log_retention_days)
    problems += _deployment_problems(props) + _shadow_problems(props)
    if problems:
        raise ValueError(f"{id_}: " + "; ".join(problems))


def _deployment_problems(props: SagemakerEndpointProps) -> list[str]:
    deployment = props.deployment
    if deployment is None:
        return []
    if not ENDPOINT_MODES[props.mode].guardrails:
        return [
            f"deployment applies only to mode real-time or async (SageMaker deployment guardrails), "
            f"not to mode {props.mode!r}"
        ]
    problems = []
    if deployment.strategy not in STRATEGIES:
        problems.append(f"deployment.strategy must be one of {', '.join(STRATEGIES)}, got {deployment.strategy!r}")
    if (deployment.step_size is None) != (deployment.strategy == "all-at-once"):
        problems.append(
            f"deployment.step_size is required with strategy canary, linear or rolling and refused "
            f"with all-at-once, got {deployment.step_size!r} with {deployment.strategy!r}"
        )
    if deployment.rollback_step_size is not None and deployment.strategy != "rolling":
        problems.append("deployment.rollback_step_size applies only to strategy rolling")
    if deployment.strategy == "rolling" and props.shadow_model_name:
        problems.append("deployment.strategy rolling cannot update an endpoint with a shadow variant")
    for name in ("wait_interval_seconds", "termination_wait_seconds"):
        if not WAIT_RANGE[0] <= getattr(deployment, name) <= WAIT_RANGE[1]:
            problems.append(
                f"deployment.{name} must be {WAIT_RANGE[0]}-{WAIT_RANGE[1]}, got {getattr(deployment, name)}"
            )
    timeout = deployment.maximum_execution_timeout_seconds
    if timeout is not None and not TIMEOUT_RANGE[0] <= timeout <= TIMEOUT_RANGE[1]:
        problems.append(
            f"deployment.maximum_execution_timeout_seconds must be {TIMEOUT_RANGE[0]}-{TIMEOUT_RANGE[1]}, got {timeout}"
        )
    if len(deployment.rollback_alarm_names) > SAGEMAKER_ROLLBACK_ALARMS.value:
        problems.append(
            f"deployment.rollback_alarm_names holds at most {SAGEMAKER_ROLLBACK_ALARMS.value} alarms, got "
            f"{len(deployment.rollback_alarm_names)}"
        )
    return problems


def _shadow_problems(props: SagemakerEndpointProps) -> list[str]:
    if not props.shadow_model_name:
        return []
    problems = []
    if not ENDPOINT_MODES[props.mode].shadow_variant:
        problems.append(
            f"shadow_model_name applies only to mode real-time (a shadow variant needs instances), "
            f"not to mode {props.mode!r}"
        )
    if props.shadow_instance_type is not None and not _is_ml_instance(props.shadow_instance_type):
        problems.append(
            f"shadow_instance_type must match ^ml\\.[a-z0-9]+\\.[a-z0-9]+$, got {props.shadow_instance_type!r}"
        )
    for name in ("shadow_initial_instance_count", "shadow_sampling_percentage"):
        value = getattr(props, name)
        if value is None:
            problems.append(f"{name} is required with shadow_model_name")
        elif not 1 <= value <= 100:
            problems.append(f"{name} must be 1-100, got {value}")
    return problems


def _is_ml_instance(instance_type: str) -> bool:
    return re.fullmatch(r"ml\.[a-z0-9]+\.[a-z0-9]+", instance_type) is not None
