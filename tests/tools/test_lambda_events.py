"""The events the in-process callers hand the handlers: shaped as API Gateway and the SQS event source mapping
deliver them, so a handler that works here reads the same fields on AWS."""

from __future__ import annotations

import base64
import json

from lambdas.http import request_body
from tools.lambda_events import api_event, sqs_event


def test_an_api_event_names_the_matched_route_and_the_requested_path():
    event = api_event("GET", "/v1/jobs/42", route="/v1/jobs/{id}", path_parameters={"id": "42"})

    assert event["routeKey"] == event["requestContext"]["routeKey"] == "GET /v1/jobs/{id}"
    assert event["rawPath"] == event["requestContext"]["http"]["path"] == "/v1/jobs/42"
    assert event["pathParameters"] == {"id": "42"}


def test_an_api_event_without_body_or_path_parameters_has_neither_key_as_api_gateway_omits_them():
    event = api_event("GET", "/v1/jobs")

    assert "body" not in event
    assert "pathParameters" not in event


def test_a_base64_encoded_api_event_decodes_to_the_json_body_it_was_given():
    event = api_event("POST", "/v1/jobs", {"model": "iris"}, base64_encoded=True)

    assert event["isBase64Encoded"] is True
    assert json.loads(base64.b64decode(event["body"])) == {"model": "iris"}
    assert json.loads(request_body(event, 1024)) == {"model": "iris"}


def test_an_sqs_event_carries_each_received_message_with_its_attributes_in_lambdas_spelling():
    received = {
        "MessageId": "m-1",
        "ReceiptHandle": "handle",
        "Body": "{}",
        "Attributes": {"ApproximateReceiveCount": "3"},
        "MessageAttributes": {"model": {"DataType": "String", "StringValue": "iris"}},
    }

    [record] = sqs_event([received], "arn:aws:sqs:eu-west-1:123456789012:work", "eu-west-1")["Records"]

    assert (record["messageId"], record["receiptHandle"], record["body"]) == ("m-1", "handle", "{}")
    assert record["attributes"]["ApproximateReceiveCount"] == "3"
    assert record["messageAttributes"]["model"]["stringValue"] == "iris"
    assert (record["eventSourceARN"], record["awsRegion"]) == ("arn:aws:sqs:eu-west-1:123456789012:work", "eu-west-1")


def test_an_sqs_event_for_an_unknown_queue_leaves_out_its_arn_and_region():
    [record] = sqs_event([{"MessageId": "m-1", "ReceiptHandle": "h", "Body": "{}"}])["Records"]

    assert "eventSourceARN" not in record
    assert "awsRegion" not in record
