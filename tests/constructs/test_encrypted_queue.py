import json

import pytest

from modules.constructs.encrypted_queue import (
    EncryptedQueue,
    EncryptedQueueProps,
    dead_letter_queue_name,
)
from tests.constructs.helpers import synth_with

KEY = "arn:aws:kms:eu-west-1:123456789012:key/abc"
TOPIC = "arn:aws:sns:eu-west-1:123456789012:requests"
ALARMS = "arn:aws:sns:eu-west-1:123456789012:alarms"


def _queue(stack, **overrides):
    props = {
        "name": "work",
        "kms_key_arn": KEY,
        "source_topic_arn": TOPIC,
        "alarm_topic_arn": ALARMS,
        "account_id": "123456789012",
        "region": "eu-west-1",
        "visibility_timeout_seconds": 180,
        "receive_wait_time_seconds": 20,
        "message_retention_seconds": 345_600,
        "max_receive_count": 5,
        "oldest_message_age_alarm_seconds": 900,
        **overrides,
    }
    return EncryptedQueue(stack, "queue", props=EncryptedQueueProps(**props))


@pytest.fixture(scope="module")
def default_queue():
    return synth_with(_queue)


def _queues(doc):
    return {q["name"]: q for q in doc["resource"]["aws_sqs_queue"].values()}


def _documents(doc):
    return {key: d["statement"] for key, d in doc["data"]["aws_iam_policy_document"].items()}


def test_both_queues_are_encrypted_with_the_customer_key(default_queue):
    for queue in _queues(default_queue).values():
        assert queue["kms_master_key_id"] == KEY and queue["kms_data_key_reuse_period_seconds"] == 300


def test_the_work_queue_long_polls_and_redrives_to_its_own_dead_letter_queue(default_queue):
    queue = _queues(default_queue)["work"]
    assert (
        queue["visibility_timeout_seconds"],
        queue["receive_wait_time_seconds"],
        queue["message_retention_seconds"],
    ) == (180, 20, 345600)
    redrive = json.loads(queue["redrive_policy"])
    assert redrive["maxReceiveCount"] == 5 and "dead-letter-queue" in redrive["deadLetterTargetArn"]


def test_the_dead_letter_queue_keeps_messages_14_days_and_admits_only_its_queue(default_queue):
    assert _queues(default_queue)["work-dlq"]["message_retention_seconds"] == 1_209_600
    allow = next(iter(default_queue["resource"]["aws_sqs_queue_redrive_allow_policy"].values()))
    policy = json.loads(allow["redrive_allow_policy"])
    assert policy["redrivePermission"] == "byQueue"
    work_queue_id = next(key for key, q in default_queue["resource"]["aws_sqs_queue"].items() if q["name"] == "work")
    assert policy["sourceQueueArns"] == [f"${{aws_sqs_queue.{work_queue_id}.arn}}"]


def test_the_queue_policy_admits_only_the_subscribed_topic_and_denies_plain_http(default_queue):
    statements = next(s for key, s in _documents(default_queue).items() if "_queue-policy-document" in key)
    deny, allow = statements
    assert deny["effect"] == "Deny" and deny["condition"][0]["variable"] == "aws:SecureTransport"
    assert allow["principals"] == [{"type": "Service", "identifiers": ["sns.amazonaws.com"]}]
    assert allow["actions"] == ["sqs:SendMessage"]
    assert allow["condition"] == [{"test": "ArnEquals", "variable": "aws:SourceArn", "values": [TOPIC]}]


def test_the_dead_letter_queue_policy_denies_plain_http(default_queue):
    statements = next(s for key, s in _documents(default_queue).items() if "dead-letter-queue-policy" in key)
    assert [s["sid"] for s in statements] == ["DenyInsecureTransport"]
    assert statements[0]["resources"] == ["arn:aws:sqs:eu-west-1:123456789012:work-dlq"]


def test_each_queue_carries_its_policy_inline_on_its_own_arn(default_queue):
    queues = _queues(default_queue)
    documents = default_queue["data"]["aws_iam_policy_document"]
    for name, document_id in (("work", "_queue-policy-document"), ("work-dlq", "dead-letter-queue-policy-document")):
        key = next(k for k in documents if document_id in k and (name == "work-dlq") == ("dead-letter" in k))
        assert queues[name]["policy"] == f"${{data.aws_iam_policy_document.{key}.json}}"
        assert {r for st in documents[key]["statement"] for r in st["resources"]} == {
            f"arn:aws:sqs:eu-west-1:123456789012:{name}"
        }
    assert "aws_sqs_queue_policy" not in default_queue["resource"]


def test_alarms_fire_on_any_dead_letter_and_on_old_messages_and_notify_the_alarm_topic(default_queue):
    alarms = {a["metric_name"]: a for a in default_queue["resource"]["aws_cloudwatch_metric_alarm"].values()}
    depth = alarms["ApproximateNumberOfMessagesVisible"]
    assert depth["dimensions"] == {"QueueName": "work-dlq"}
    assert (depth["threshold"], depth["comparison_operator"]) == (0, "GreaterThanThreshold")
    age = alarms["ApproximateAgeOfOldestMessage"]
    assert age["dimensions"] == {"QueueName": "work"} and age["threshold"] == 900
    for alarm in alarms.values():
        assert alarm["alarm_actions"] == [ALARMS] and alarm["ok_actions"] == [ALARMS]
        assert alarm["actions_enabled"] is True


def test_a_fifo_name_makes_both_queues_fifo_with_the_suffix_last():
    assert dead_letter_queue_name("jobs.fifo") == "jobs-dlq.fifo"
    queues = _queues(synth_with(lambda s: _queue(s, name="jobs.fifo")))
    assert set(queues) == {"jobs.fifo", "jobs-dlq.fifo"}
    assert all(q["fifo_queue"] is True for q in queues.values())


def test_the_settings_are_exposed_for_the_compute_stack():
    captured = {}
    synth_with(lambda s: captured.setdefault("queue", _queue(s, visibility_timeout_seconds=300)))
    queue = captured["queue"]
    assert queue.visibility_timeout_seconds == 300
    assert queue.queue is not None and queue.dead_letter_queue is not None


def test_every_bad_setting_is_named_in_one_error():
    with pytest.raises(ValueError) as error:
        synth_with(
            lambda s: _queue(
                s,
                name="bad name",
                kms_key_arn="",
                receive_wait_time_seconds=21,
                max_receive_count=0,
                message_retention_seconds=1_209_600,
                dead_letter_retention_seconds=86_400,
            )
        )
    message = str(error.value)
    for part in (
        "name 'bad name': 1-80 characters of A-Za-z0-9_-",
        "kms_key_arn is required",
        "receive_wait_time_seconds must be 0-20, got 21",
        "max_receive_count must be 1-1000, got 0",
        "dead_letter_retention_seconds must be >= message_retention_seconds",
    ):
        assert part in message


def test_a_name_too_long_for_its_dead_letter_queue_is_refused():
    with pytest.raises(ValueError, match="dead-letter queue name"):
        synth_with(lambda s: _queue(s, name="q" * 78))
