"""After an apply: is the release really live? Two checks, each failure one line saying what differed.

1. The endpoint serves the endpoint configuration the apply just created. Terraform cannot be trusted to say so:
   the AWS provider waits for `InService` after UpdateEndpoint, and an update SageMaker rolled back (an alarm
   fired while baking, the new fleet failed its health checks) also ends `InService`, on the OLD configuration,
   and the apply reports success (terraform-provider-aws #39099, #48997). Worse, create_before_destroy then
   deletes that old configuration and model, so the endpoint runs on objects that no longer exist.
2. One smoke request through the API answers 200 with predictions (`inference.smoke_request`).

The calls are the deployer's (the CI role or the person running `make verify`), not a runtime principal's: the
access gate does not cover them. The deployer needs sagemaker:DescribeEndpoint, DescribeEndpointConfig and
DescribeModel on the endpoint's objects, and, for auth = "iam", execute-api:Invoke on POST /v1/predict.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tools.api_client import ApiResponse
from tools.release.artifact import ReleaseInputError

SMOKE_METHOD, SMOKE_PATH = "POST", "/v1/predict"
INFERENCE_OUTPUTS = ("endpoint_name", "endpoint_configuration_name", "model_name", "model_artifact_uri")

Call = Callable[[str, str, Any], ApiResponse]


@dataclass(frozen=True)
class Applied:
    """What the last apply set, from the inference stack's outputs."""

    endpoint_name: str
    configuration_name: str
    model_name: str
    artifact_uri: str
    shadow_model_name: str | None = None

    @classmethod
    def from_outputs(cls, outputs: dict[str, dict[str, Any]]) -> Applied:
        inference = outputs.get("inference") or {}
        missing = [name for name in INFERENCE_OUTPUTS if not inference.get(name)]
        if missing:
            raise ReleaseInputError(f"the inference stack's outputs lack {', '.join(missing)}: apply it first "
                               f"(outputs found for: {', '.join(sorted(outputs)) or 'no stack'})")
        return cls(endpoint_name=inference["endpoint_name"], configuration_name=inference["endpoint_configuration_name"],
                   model_name=inference["model_name"], artifact_uri=inference["model_artifact_uri"],
                   shadow_model_name=inference.get("shadow_model_name"))


def endpoint_differences(sagemaker: Any, applied: Applied) -> list[str]:
    """What differs between the endpoint as it runs and as the apply left it (empty: it serves the release)."""
    from botocore.exceptions import ClientError

    name = applied.endpoint_name
    try:
        endpoint = sagemaker.describe_endpoint(EndpointName=name)
    except ClientError as error:
        return [f"endpoint {name}: cannot describe it ({_code(error)})"]
    problems = []
    serving, status = endpoint.get("EndpointConfigName"), endpoint.get("EndpointStatus")
    reason = f"; SageMaker says: {endpoint['FailureReason']}" if endpoint.get("FailureReason") else ""
    if serving != applied.configuration_name:
        problems.append(
            f"endpoint {name} serves configuration {serving} ({_configuration(sagemaker, serving)}), not "
            f"{applied.configuration_name} ({_configuration(sagemaker, applied.configuration_name)}) that the apply "
            f"created: the update was rolled back or replaced out of band{reason}")
    if status != "InService":
        problems.append(f"endpoint {name} is {status}, not InService{reason if serving == applied.configuration_name else ''}")
    if serving == applied.configuration_name:
        problems += _variant_differences(sagemaker, applied)
    return problems


def smoke_differences(call: Call, request: Any) -> tuple[list[str], ApiResponse | None]:
    """POST the smoke request to /v1/predict through CALL; it must answer 200 with predictions."""
    from tools.api_client import ApiCallError

    try:
        response = call(SMOKE_METHOD, SMOKE_PATH, request)
    except ApiCallError as error:
        return [f"{SMOKE_METHOD} {SMOKE_PATH}: {error}"], None
    if response.status != 200:
        return [f"{SMOKE_METHOD} {SMOKE_PATH} answered {response.status}, not 200: {response.excerpt()}"], response
    if not isinstance(response.body, dict) or not response.body.get("predictions"):
        return [f"{SMOKE_METHOD} {SMOKE_PATH} answered 200 without predictions: {response.excerpt()}"], response
    return [], response


def _variant_differences(sagemaker: Any, applied: Applied) -> list[str]:
    config = sagemaker.describe_endpoint_config(EndpointConfigName=applied.configuration_name)
    expected = {"production": applied.model_name, "shadow": applied.shadow_model_name}
    found = {"production": [v.get("ModelName") for v in config.get("ProductionVariants", [])],
             "shadow": [v.get("ModelName") for v in config.get("ShadowProductionVariants", [])]}
    problems = [f"configuration {applied.configuration_name}: {role} variant runs {', '.join(map(str, found[role])) or 'nothing'}, "
                f"the apply set {model}"
                for role, model in expected.items() if (model and found[role] != [model]) or (not model and found[role])]
    model = _model(sagemaker, applied.model_name)
    if model is not None and model.get("PrimaryContainer", {}).get("ModelDataUrl") != applied.artifact_uri:
        problems.append(f"model {applied.model_name} loads {model.get('PrimaryContainer', {}).get('ModelDataUrl')}, "
                        f"not {applied.artifact_uri}")
    return problems


def _configuration(sagemaker: Any, name: str | None) -> str:
    """`model <name>, artifact <uri>` of an endpoint configuration, or why that cannot be said."""
    from botocore.exceptions import ClientError

    if not name:
        return "none"
    try:
        config = sagemaker.describe_endpoint_config(EndpointConfigName=name)
    except ClientError:
        return "deleted: the endpoint runs on a configuration that no longer exists"
    models = [variant.get("ModelName") for variant in config.get("ProductionVariants", [])]
    described = []
    for model_name in models:
        model = _model(sagemaker, model_name)
        artifact = model.get("PrimaryContainer", {}).get("ModelDataUrl") if model else "model deleted"
        described.append(f"model {model_name}, artifact {artifact}")
    return "; ".join(described) or "no production variant"


def _model(sagemaker: Any, name: str) -> dict[str, Any] | None:
    from botocore.exceptions import ClientError

    try:
        return sagemaker.describe_model(ModelName=name)
    except ClientError:
        return None


def _code(error: Any) -> str:
    return str(error.response.get("Error", {}).get("Code") or error)
