"""What one SDK call needs from IAM: the action it is authorized as, the resource ARN built from its
parameters, and the calls AWS makes with the caller's own permissions while serving it (KMS for encrypted
buckets, topics and queues), plus S3's rule for missing keys.

Every operation the runtime may call must be listed in OPERATIONS; a recorded call without an entry fails the
manifest test, which points here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tools.access_check.inventory import Inventory
from tools.access_check.requests import DERIVED, RECORDED, Request
from tools.access_check.stacks import InputError

# https://docs.aws.amazon.com/AmazonS3/latest/API/API_HeadObject.html ("If the object you request doesn't exist,
# the error that Amazon S3 returns depends on whether you also have the s3:ListBucket permission ... 403")
S3_MISSING_KEY = (
    "S3 answers 404 for a missing key only to a caller allowed s3:ListBucket on the bucket; "
    "any other caller gets 403 AccessDenied"
)
NOT_FOUND = {"404", "NoSuchKey", "NotFound"}
# The outcome the recorder gives a presigned URL: no call was made, the URL's holder makes it as the signer.
PRESIGNED = "presigned"

Builder = Callable[[Inventory, str, dict[str, str], set[str], str], list[Request]]


def _request(
    principal: str,
    action: str,
    resource: str,
    origin: str,
    why: str = "",
    context: dict[str, Any] | None = None,
    source: str = RECORDED,
) -> Request:
    return Request(principal, action, resource, context or {}, source, origin, why)


# --- S3 ---------------------------------------------------------------------------------------------------


def _s3_kms(inventory: Inventory, principal: str, bucket: str, key: str, action: str, origin: str) -> list[Request]:
    """SSE-KMS: S3 calls KMS with the caller's permissions (GenerateDataKey to write, Decrypt to read).
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingKMSEncryption.html#aws-managed-customer-managed-keys"""
    encryption = inventory.bucket_encryption(bucket)
    if encryption.key_arn is None:
        return []
    bucket_arn = inventory.arn("s3", bucket, region=False, account=False)
    # With S3 Bucket Keys the encryption context is the bucket ARN, else the object ARN.
    context_arn = bucket_arn if encryption.bucket_key else f"{bucket_arn}/{key}"
    context = {
        "kms:ViaService": f"s3.{inventory.region}.amazonaws.com",
        "kms:EncryptionContext:aws:s3:arn": context_arn,
        "kms:EncryptionContextKeys": ["aws:s3:arn"],
    }
    why = f"bucket {bucket} is encrypted with a customer key (SSE-KMS): S3 uses it with the caller's permissions"
    return [_request(principal, action, encryption.key_arn, origin, why, context, DERIVED)]


def _s3_object(action: str, kms_action: str | None = None) -> Builder:
    def build(
        inventory: Inventory, principal: str, params: dict[str, str], outcomes: set[str], origin: str
    ) -> list[Request]:
        bucket, key = params["Bucket"], params["Key"]
        bucket_arn = inventory.arn("s3", bucket, region=False, account=False)
        requests = [_request(principal, action, f"{bucket_arn}/{key}", origin)]
        # A presigned URL is used with the signer's rights: its holder's call needs what the signer's would.
        succeeded = any(outcome.startswith("2") or outcome == PRESIGNED for outcome in outcomes) or not outcomes
        if kms_action and succeeded:
            requests += _s3_kms(inventory, principal, bucket, key, kms_action, origin)
        if action == "s3:GetObject" and outcomes & NOT_FOUND:
            requests.append(_request(principal, "s3:ListBucket", bucket_arn, origin, S3_MISSING_KEY, source=DERIVED))
        return requests

    return build


def _s3_bucket(action: str) -> Builder:
    def build(
        inventory: Inventory, principal: str, params: dict[str, str], outcomes: set[str], origin: str
    ) -> list[Request]:
        context = {"s3:prefix": params["Prefix"]} if params.get("Prefix") else {}
        return [
            _request(
                principal,
                action,
                inventory.arn("s3", params["Bucket"], region=False, account=False),
                origin,
                context=context,
            )
        ]

    return build


# --- SNS, SQS, SageMaker ----------------------------------------------------------------------------------


def _sns_publish(
    inventory: Inventory, principal: str, params: dict[str, str], outcomes: set[str], origin: str
) -> list[Request]:
    """Publishing to a topic encrypted with a customer key needs kms:GenerateDataKey* and kms:Decrypt on it.
    https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html#sns-what-permissions-for-sse"""
    topic = params.get("TopicArn") or params["TargetArn"]
    requests = [_request(principal, "sns:Publish", topic, origin)]
    key = inventory.topic_key(topic)
    if key:
        why = "the topic is encrypted with a customer key: SNS uses it with the publisher's permissions"
        context = {"kms:ViaService": f"sns.{inventory.region}.amazonaws.com"}
        requests += [
            _request(principal, action, key, origin, why, context, DERIVED)
            for action in ("kms:GenerateDataKey", "kms:Decrypt")
        ]
    return requests


def _sqs(action: str, kms_actions: tuple[str, ...] = ()) -> Builder:
    """Consumers of an SSE-KMS queue need kms:Decrypt; producers kms:GenerateDataKey and kms:Decrypt.
    https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-key-management.html"""

    def build(
        inventory: Inventory, principal: str, params: dict[str, str], outcomes: set[str], origin: str
    ) -> list[Request]:
        queue = inventory.queue_arn(params["QueueUrl"])
        requests = [_request(principal, action, queue, origin)]
        key = inventory.queue_key(queue) if kms_actions else None
        if key:
            why = "the queue is encrypted with a customer key: SQS uses it with the caller's permissions"
            context = {
                "kms:ViaService": f"sqs.{inventory.region}.amazonaws.com",
                "kms:EncryptionContext:aws:sqs:arn": queue,
            }
            requests += [_request(principal, kms, key, origin, why, context, DERIVED) for kms in kms_actions]
        return requests

    return build


def _batch_submit_job(
    inventory: Inventory, principal: str, params: dict[str, str], outcomes: set[str], origin: str
) -> list[Request]:
    """SubmitJob is authorized on the job queue and on the job definition (name:revision)
    (https://docs.aws.amazon.com/batch/latest/userguide/ExamplePolicies_BATCH.html)."""
    queue, definition = params["jobQueue"], params["jobDefinition"]
    queue = queue if queue.startswith("arn:") else inventory.arn("batch", f"job-queue/{queue}")
    definition = definition if definition.startswith("arn:") else inventory.arn("batch", f"job-definition/{definition}")
    return [
        _request(principal, "batch:SubmitJob", queue, origin),
        _request(principal, "batch:SubmitJob", definition, origin),
    ]


def _no_resource(action: str) -> Builder:
    """An action without resource-level permissions: "*" is the only resource IAM evaluates."""

    def build(
        inventory: Inventory, principal: str, params: dict[str, str], outcomes: set[str], origin: str
    ) -> list[Request]:
        return [_request(principal, action, "*", origin)]

    return build


def _invoke_endpoint(action: str) -> Builder:
    def build(
        inventory: Inventory, principal: str, params: dict[str, str], outcomes: set[str], origin: str
    ) -> list[Request]:
        endpoint = inventory.arn("sagemaker", f"endpoint/{params['EndpointName'].lower()}")
        return [_request(principal, action, endpoint, origin)]

    return build


# (botocore service name, operation name) -> what IAM must allow.
OPERATIONS: dict[tuple[str, str], Builder] = {
    ("s3", "GetObject"): _s3_object("s3:GetObject", "kms:Decrypt"),
    # HEAD reads metadata only: no decryption, so no KMS call.
    ("s3", "HeadObject"): _s3_object("s3:GetObject"),
    ("s3", "PutObject"): _s3_object("s3:PutObject", "kms:GenerateDataKey"),
    ("s3", "DeleteObject"): _s3_object("s3:DeleteObject"),
    # Multipart uploads under SSE-KMS: a data key when the upload starts, kms:Decrypt of it for every part
    # (https://docs.aws.amazon.com/AmazonS3/latest/API/API_CreateMultipartUpload.html, "Permissions").
    ("s3", "CreateMultipartUpload"): _s3_object("s3:PutObject", "kms:GenerateDataKey"),
    ("s3", "UploadPart"): _s3_object("s3:PutObject", "kms:Decrypt"),
    ("s3", "CompleteMultipartUpload"): _s3_object("s3:PutObject"),
    ("s3", "ListObjectsV2"): _s3_bucket("s3:ListBucket"),
    ("s3", "HeadBucket"): _s3_bucket("s3:ListBucket"),
    ("sns", "Publish"): _sns_publish,
    ("sqs", "ReceiveMessage"): _sqs("sqs:ReceiveMessage", ("kms:Decrypt",)),
    ("sqs", "DeleteMessage"): _sqs("sqs:DeleteMessage"),
    ("sqs", "DeleteMessageBatch"): _sqs("sqs:DeleteMessage"),
    ("sqs", "ChangeMessageVisibility"): _sqs("sqs:ChangeMessageVisibility"),
    ("sqs", "ChangeMessageVisibilityBatch"): _sqs("sqs:ChangeMessageVisibility"),
    ("sqs", "GetQueueAttributes"): _sqs("sqs:GetQueueAttributes"),
    ("sqs", "SendMessage"): _sqs("sqs:SendMessage", ("kms:GenerateDataKey", "kms:Decrypt")),
    ("sqs", "SendMessageBatch"): _sqs("sqs:SendMessage", ("kms:GenerateDataKey", "kms:Decrypt")),
    ("batch", "SubmitJob"): _batch_submit_job,
    ("batch", "DescribeJobs"): _no_resource("batch:DescribeJobs"),
    ("sagemaker-runtime", "InvokeEndpoint"): _invoke_endpoint("sagemaker:InvokeEndpoint"),
    ("sagemaker-runtime", "InvokeEndpointWithResponseStream"): _invoke_endpoint("sagemaker:InvokeEndpoint"),
    ("sagemaker-runtime", "InvokeEndpointAsync"): _invoke_endpoint("sagemaker:InvokeEndpointAsync"),
}


def requests_for_call(
    inventory: Inventory,
    principal: str,
    service: str,
    operation: str,
    params: dict[str, str],
    outcomes: set[str],
    origin: str,
) -> list[Request]:
    builder = OPERATIONS.get((service, operation))
    if builder is None:
        raise InputError(
            f"{service}:{operation} has no IAM mapping: add it to OPERATIONS in tools/access_check/actions.py"
        )
    return builder(inventory, principal, params, outcomes, origin)
