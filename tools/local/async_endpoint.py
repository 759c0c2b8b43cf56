"""A stand-in for what an asynchronous SageMaker endpoint does after InvokeEndpointAsync, which moto lacks.

moto 5.2.5 answers InvokeEndpointAsync (and records the input location), but runs no model, writes no output and
publishes no notification (the emulator gap `skip_async_processing`, config/local.toml [emulator]). This module
plays SageMaker's part for each handed-off input, with the real model server:
1. read the input the consumer stored (async/input/<job id>.json),
2. POST it to the model server's /invocations (what the endpoint's container would answer),
3. write the answer to the endpoint configuration's output path as `<uuid>.out` (or the error to its failure path),
4. publish SageMaker's notification, in SageMaker's own format, to the notifications topic
   (https://docs.aws.amazon.com/sagemaker/latest/dg/async-inference-check-predictions.html).
Everything after that (the notifications queue, the async_results function, the results bucket and topic) is the
pipeline's own code and resources. Used by the local e2e and by tests/lambdas/test_async_inference.py.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from lambdas.contract import ASYNC_FAILURE_PREFIX, ASYNC_INPUT_PREFIX, ASYNC_OUTPUT_PREFIX

MODEL_TIMEOUT_SECONDS = 30


@dataclass
class AsyncEndpointStandIn:
    """SageMaker's side of one asynchronous endpoint, against the emulator's S3 and SNS."""

    s3: Any
    sns: Any
    bucket: str  # the results bucket: inputs, outputs and failures live under async/
    topic_arn: str  # the notifications topic the endpoint configuration names for success and error
    model_url: str  # the model server standing in for the endpoint's container
    endpoint_name: str
    region: str

    def pending_inputs(self) -> list[str]:
        """Input keys handed off and not yet answered (an answered job has an output or failure named after it)."""
        listing = self.s3.list_objects_v2(Bucket=self.bucket, Prefix="async/")
        keys = [item["Key"] for item in listing.get("Contents", [])]
        answered = {key.rsplit("/", 1)[-1].split(".", 1)[0] for key in keys
                    if key.startswith((ASYNC_OUTPUT_PREFIX, ASYNC_FAILURE_PREFIX))}
        return sorted(key for key in keys if key.startswith(ASYNC_INPUT_PREFIX)
                      and key.removeprefix(ASYNC_INPUT_PREFIX).removesuffix(".json") not in answered)

    def process(self, input_key: str) -> dict[str, Any]:
        """Answer one handed-off input as the endpoint would; returns the notification it published."""
        received = datetime.now(UTC)
        body = self.s3.get_object(Bucket=self.bucket, Key=input_key)["Body"].read()
        inference_id = input_key.removeprefix(ASYNC_INPUT_PREFIX).removesuffix(".json")
        status, answer = self._invoke(body)
        notification: dict[str, Any] = {
            "awsRegion": self.region, "receivedTime": _time(received),
            "requestParameters": {"contentType": "application/json", "endpointName": self.endpoint_name,
                                  "inputLocation": f"s3://{self.bucket}/{input_key}"},
            "inferenceId": inference_id, "eventVersion": "1.0", "eventSource": "aws:sagemaker",
            "eventName": "InferenceResult"}
        # Named after the inference so pending_inputs can tell it answered (SageMaker picks its own names).
        if 200 <= status < 300:
            key = f"{ASYNC_OUTPUT_PREFIX}{inference_id}.{uuid.uuid4()}.out"
            self.s3.put_object(Bucket=self.bucket, Key=key, Body=answer, ContentType="application/json")
            notification |= {"invocationStatus": "Completed", "responseParameters": {
                "contentType": "application/json", "outputLocation": f"s3://{self.bucket}/{key}"}}
        else:
            key = f"{ASYNC_FAILURE_PREFIX}{inference_id}.{uuid.uuid4()}.out"
            self.s3.put_object(Bucket=self.bucket, Key=key, Body=answer, ContentType="application/json")
            kind = "client" if 400 <= status < 500 else "server"
            notification |= {"invocationStatus": "Failed", "failureReason": (
                f"ClientError: Received {kind} error ({status}) from model with message "
                f"\"{answer.decode('utf-8', 'replace')[:200]}\". See the SageMaker Endpoint logs for more information.")}
        notification["eventTime"] = _time(datetime.now(UTC))
        self.sns.publish(TopicArn=self.topic_arn, Message=json.dumps(notification))
        return notification

    def _invoke(self, body: bytes) -> tuple[int, bytes]:
        request = urllib.request.Request(f"{self.model_url.rstrip('/')}/invocations", data=body, method="POST",
                                         headers={"Content-Type": "application/json", "Accept": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=MODEL_TIMEOUT_SECONDS) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()


def _time(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
