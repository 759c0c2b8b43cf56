"""`python -m tools.emulator_server`: moto's server with the SageMaker operations a model release needs, and one
Lambda change (a repeated CreateFunction).

Why: moto 5.2.5 has no UpdateEndpoint, the one call that moves an endpoint to a new endpoint configuration, so
no release could be applied to the emulator at all; it also drops the DeploymentConfig of an endpoint and the
ShadowProductionVariants of an endpoint configuration, which the AWS provider reads back (a perpetual diff, and
for `auto_rollback_configuration`, which the provider marks ForceNew, a replaced endpoint on every plan).
A gap flag cannot route around a missing update: the only alternative would be replacing the endpoint, which is
not what a release does on AWS. So the emulator process gets them, modelled on the API reference:

- `UpdateEndpoint` (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_UpdateEndpoint.html): the
  endpoint and the configuration must exist (ValidationException otherwise); the endpoint then names the new
  configuration, shows its variants, and is `InService` at once;
- `DeploymentConfig` of CreateEndpoint and UpdateEndpoint comes back as `LastDeploymentConfig` of
  DescribeEndpoint (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_DescribeEndpoint.html);
- `ShadowProductionVariants` of CreateEndpointConfig come back from DescribeEndpointConfig.

What this does NOT emulate: traffic shifting, baking periods, alarms and automatic rollback. An update is
immediate and always succeeds; a rollback is simulated by calling UpdateEndpoint back to the old configuration
(tests/tools/test_release_verify.py, the e2e).

And one Lambda change: a repeated, identical CreateFunction is answered as the first one was. Why: the AWS provider
(5.100) retries CreateFunction on every ResourceConflictException for two minutes while it holds its
provider-wide lock on Lambda creation, then fails with the 409. So when the SDK sends one CreateFunction twice (it
repeats a request whose answer it did not get: a transport error, seen here under load, e.g. one KMS read in about
a thousand requests of one deploy), and moto had created the function on the first, every function of the stack
waits and the deploy fails (`Function already exist`). AWS itself would answer that repeat with the same 409; the
emulator answers a byte-identical repeat of a creation it just made (same name, same request body, within
REPEAT_WINDOW_SECONDS) with that creation's answer, so a lost answer costs one request, not the deploy. Any other
CreateFunction for an existing name still gets moto's 409.

Everything else is moto's, unchanged. usage: python -m tools.emulator_server -H 127.0.0.1 -p PORT (moto.server's
arguments).
"""

from __future__ import annotations

import hashlib
import sys
import threading
import time
from typing import Any

REPEAT_WINDOW_SECONDS = 300.0

_INSTALLED = False


def install() -> None:
    """Add the operations to moto's SageMaker backend and response classes (once per process)."""
    global _INSTALLED
    if _INSTALLED:
        return
    from moto.core.utils import utcnow
    from moto.sagemaker import models, responses
    from moto.sagemaker.exceptions import ValidationError

    backend_class, response_class = models.SageMakerModelBackend, responses.SageMakerResponse
    create_endpoint, create_endpoint_config = backend_class.create_endpoint, backend_class.create_endpoint_config

    def update_endpoint(self: Any, endpoint_name: str, endpoint_config_name: str,
                        deployment_config: dict[str, Any] | None) -> Any:
        endpoint = self.endpoints.get(endpoint_name)
        if endpoint is None:
            arn = models.FakeEndpoint.arn_formatter(endpoint_name, self.account_id, self.region_name)
            raise ValidationError(message=f"Could not find endpoint '{arn}'.")
        config = self.describe_endpoint_config(endpoint_config_name)  # ValidationError when it does not exist
        endpoint.endpoint_config_name = endpoint_config_name
        endpoint.production_variants = endpoint._process_production_variants(config["ProductionVariants"])
        endpoint.data_capture_config = config.get("DataCaptureConfig")
        endpoint.last_deployment_config = deployment_config or None
        endpoint.endpoint_status = "InService"
        endpoint.last_modified_time = utcnow()
        return endpoint

    def create_endpoint_with_deployment(self: Any, endpoint_name: str, endpoint_config_name: str,
                                        tags: list[dict[str, str]], deployment_config: dict[str, Any] | None = None
                                        ) -> Any:
        endpoint = create_endpoint(self, endpoint_name, endpoint_config_name, tags)
        endpoint.last_deployment_config = deployment_config or None
        return endpoint

    def create_endpoint_config_with_shadow(self: Any, *args: Any, shadow_production_variants: Any = None,
                                           **kwargs: Any) -> Any:
        config = create_endpoint_config(self, *args, **kwargs)
        if shadow_production_variants:
            config.validate_production_variants(shadow_production_variants)
        config.shadow_production_variants = shadow_production_variants or None
        return config

    def respond_create_endpoint(self: Any) -> Any:
        endpoint = self.sagemaker_backend.create_endpoint(
            endpoint_name=self._get_param("EndpointName"), endpoint_config_name=self._get_param("EndpointConfigName"),
            tags=self._get_param("Tags"), deployment_config=self._get_param("DeploymentConfig"))
        return responses.ActionResult({"EndpointArn": endpoint.arn})

    def respond_update_endpoint(self: Any) -> Any:
        endpoint = self.sagemaker_backend.update_endpoint(
            endpoint_name=self._get_param("EndpointName"), endpoint_config_name=self._get_param("EndpointConfigName"),
            deployment_config=self._get_param("DeploymentConfig"))
        return responses.ActionResult({"EndpointArn": endpoint.arn})

    def respond_create_endpoint_config(self: Any) -> Any:
        config = self.sagemaker_backend.create_endpoint_config(
            endpoint_config_name=self._get_param("EndpointConfigName"),
            async_inference_config=self._get_param("AsyncInferenceConfig"),
            production_variants=self._get_param("ProductionVariants"),
            data_capture_config=self._get_param("DataCaptureConfig"), tags=self._get_param("Tags"),
            kms_key_id=self._get_param("KmsKeyId"),
            shadow_production_variants=self._get_param("ShadowProductionVariants"))
        return responses.ActionResult({"EndpointConfigArn": config.endpoint_config_arn})

    backend_class.update_endpoint = update_endpoint
    backend_class.create_endpoint = create_endpoint_with_deployment
    backend_class.create_endpoint_config = create_endpoint_config_with_shadow
    response_class.update_endpoint = respond_update_endpoint
    response_class.create_endpoint = respond_create_endpoint
    response_class.create_endpoint_config = respond_create_endpoint_config
    _install_create_function_repeat()
    _INSTALLED = True


def _install_create_function_repeat() -> None:
    """CreateFunction answers a byte-identical repeat of a creation it just made as it answered the first."""
    from moto.awslambda.responses import LambdaResponse

    created: dict[str, tuple[str, float, Any]] = {}  # function name -> (request digest, when, moto's answer)
    lock = threading.Lock()
    moto_create_function = LambdaResponse.create_function

    def exists(self: LambdaResponse, name: str) -> bool:
        try:
            self.backend.get_function(name, None)
        except Exception:
            return False
        return True

    def create_function(self: LambdaResponse) -> Any:
        name = str(self.json_body.get("FunctionName", "")).rsplit(":", 1)[-1]
        digest = hashlib.sha256(self.body if isinstance(self.body, bytes) else str(self.body).encode()).hexdigest()
        with lock:
            earlier = created.get(name)
            if earlier and earlier[0] == digest and time.monotonic() - earlier[1] < REPEAT_WINDOW_SECONDS \
                    and exists(self, name):  # a function deleted since (a destroy, a reset) is created anew
                return earlier[2]
            answer = moto_create_function(self)
            created[name] = (digest, time.monotonic(), answer)
            return answer

    LambdaResponse.create_function = create_function  # type: ignore[method-assign]


def main(argv: list[str] | None = None) -> None:
    install()
    from moto.server import main as moto_main

    moto_main(argv if argv is not None else sys.argv[1:])


if __name__ == "__main__":
    main()
