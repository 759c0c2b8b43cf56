import pytest

from modules.constructs.encrypted_topic import EncryptedTopic, EncryptedTopicProps
from tests.constructs.helpers import only, synth_with

KEY = "arn:aws:kms:eu-west-1:123456789012:key/abc"


def _topic(stack, **overrides):
    props = {"name": "requests", "kms_key_arn": KEY, **overrides}
    return EncryptedTopic(stack, "topic", props=EncryptedTopicProps(**props))


def _statements(doc):
    return next(iter(doc["data"]["aws_iam_policy_document"].values()))["statement"]


def test_a_topic_is_encrypted_with_the_customer_key_and_denies_plain_http():
    doc = synth_with(_topic)
    topic = only(doc, "aws_sns_topic")
    assert topic["kms_master_key_id"] == KEY and topic["name"] == "requests" and "fifo_topic" not in topic
    (deny,) = _statements(doc)
    assert deny["effect"] == "Deny" and deny["actions"] == ["sns:Publish"]
    assert deny["condition"] == [{"test": "Bool", "variable": "aws:SecureTransport", "values": ["false"]}]
    assert "aws_sns_topic_policy" in doc["resource"]


def test_a_fifo_topic_gets_the_suffix_and_content_deduplication():
    topic = only(synth_with(lambda s: _topic(s, fifo=True)), "aws_sns_topic")
    assert topic["name"] == "requests.fifo"
    assert topic["fifo_topic"] is True and topic["content_based_deduplication"] is True


def test_a_publishing_service_is_admitted_only_from_this_account_and_source():
    doc = synth_with(
        lambda s: _topic(
            s,
            publisher_service="cloudwatch.amazonaws.com",
            account_id="123456789012",
            publisher_source_arn="arn:aws:cloudwatch:eu-west-1:123456789012:alarm:*",
        )
    )
    _, allow = _statements(doc)
    assert allow["principals"] == [{"type": "Service", "identifiers": ["cloudwatch.amazonaws.com"]}]
    assert {c["variable"]: c["values"] for c in allow["condition"]} == {
        "aws:SourceAccount": ["123456789012"],
        "aws:SourceArn": ["arn:aws:cloudwatch:eu-west-1:123456789012:alarm:*"],
    }


def test_every_bad_setting_is_named_in_one_error():
    with pytest.raises(ValueError) as error:
        synth_with(lambda s: _topic(s, name="bad.name", kms_key_arn="", publisher_service="x.amazonaws.com"))
    message = str(error.value)
    for part in ("name 'bad.name': 1-256 characters", "kms_key_arn is required", "account_id is required"):
        assert part in message
