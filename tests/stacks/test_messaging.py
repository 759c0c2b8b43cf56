"""The messaging stack's wiring: topics fan out to filtered work queues, every queue has its DLQ and alarms,
everything is under one CMK that SNS, SQS and CloudWatch may use."""

from __future__ import annotations

import json

import pytest

from lambdas.contract import ATTR_PRIORITY
from tests.conftest import BATCH_ENVIRONMENTS, ENVIRONMENTS


def _messaging(synthesized, env) -> dict:
    return json.loads((synthesized[env] / "stacks" / "messaging" / "cdk.tf.json").read_text())


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_the_requests_topic_fans_out_by_priority_with_raw_delivery(env, synthesized):
    doc = _messaging(synthesized, env)
    requests_topic = next(k for k, t in doc["resource"]["aws_sns_topic"].items() if t["name"].endswith("-requests"))
    subscriptions = [
        s
        for s in doc["resource"]["aws_sns_topic_subscription"].values()
        if s["protocol"] == "sqs" and requests_topic in s["topic_arn"]
    ]
    assert {json.dumps(json.loads(s["filter_policy"]), sort_keys=True) for s in subscriptions} == {
        json.dumps({ATTR_PRIORITY: ["normal"]}),
        json.dumps({ATTR_PRIORITY: ["high"]}),
    }
    for subscription in subscriptions:
        assert subscription["topic_arn"] == f"${{aws_sns_topic.{requests_topic}.arn}}"
        assert subscription["raw_message_delivery"] is True
        assert subscription["filter_policy_scope"] == "MessageAttributes"


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_every_topic_and_queue_uses_the_stack_key(env, synthesized):
    doc = _messaging(synthesized, env)
    key = "${aws_kms_key." + next(iter(doc["resource"]["aws_kms_key"])) + ".arn}"
    for kind, field in (("aws_sns_topic", "kms_master_key_id"), ("aws_sqs_queue", "kms_master_key_id")):
        assert all(r[field] == key for r in doc["resource"][kind].values())
    policy = json.loads(next(iter(doc["resource"]["aws_kms_key"].values()))["policy"])
    service_use = next(s for s in policy["Statement"] if s["Sid"] == "ServiceUse")
    # EventBridge publishes batch completions (where the batch stack is on).
    events = ["events.amazonaws.com"] if env in BATCH_ENVIRONMENTS else []
    assert service_use["Principal"]["Service"] == [
        "cloudwatch.amazonaws.com",
        *events,
        "sns.amazonaws.com",
        "sqs.amazonaws.com",
    ]


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_each_work_queue_has_its_dead_letter_queue_and_two_alarms(env, synthesized):
    doc = _messaging(synthesized, env)
    names = sorted(q["name"] for q in doc["resource"]["aws_sqs_queue"].values())
    queues = ("default", "priority") + (("async-notifications",) if env == "local" else ())  # local: async endpoint
    assert names == sorted(f"inference-{env}-{n}{suffix}" for n in queues for suffix in ("", "-dlq"))
    alarm_topic = next(k for k, t in doc["resource"]["aws_sns_topic"].items() if t["name"].endswith("-alarms"))
    alarms = doc["resource"]["aws_cloudwatch_metric_alarm"].values()
    assert len(alarms) == 2 * len(queues)
    assert all(a["alarm_actions"] == [f"${{aws_sns_topic.{alarm_topic}.arn}}"] for a in alarms)


def test_an_async_endpoints_notifications_have_their_own_topic_and_queue_apart_from_the_results_topic(synthesized):
    doc = _messaging(synthesized, "local")
    topics = {t["name"]: k for k, t in doc["resource"]["aws_sns_topic"].items()}
    [subscription] = [
        s
        for s in doc["resource"]["aws_sns_topic_subscription"].values()
        if topics["inference-local-async-notifications"] in s["topic_arn"]
    ]

    assert subscription["protocol"] == "sqs" and subscription["raw_message_delivery"] is True
    assert "queue-async-notifications" in subscription["endpoint"] and "filter_policy" not in subscription
    assert {
        "async_notifications_topic_arn",
        "async_notifications_queue_url",
        "async_notifications_dead_letter_queue_url",
    } <= set(doc["output"])
    assert "async_notifications_topic_arn" not in _messaging(synthesized, "dev")["output"]


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_topic_arns_and_queue_urls_are_outputs(env, synthesized):
    outputs = _messaging(synthesized, env)["output"]
    assert {
        "requests_topic_arn",
        "results_topic_arn",
        "alarm_topic_arn",
        "messaging_kms_key_arn",
        "queue_url_default",
        "queue_url_priority",
        "dead_letter_queue_url_default",
    } <= set(outputs)


def test_the_stack_exposes_the_interface_attributes():
    from cdktf import App

    import main
    from modules.config import load_config
    from tests.conftest import PROJECT_ROOT

    stacks = main.compose(App(), load_config(PROJECT_ROOT / "config" / "local.toml"))
    messaging, storage = stacks["messaging"], stacks["storage"]
    assert messaging.key.arn and messaging.requests_topic_arn and messaging.results_topic_arn
    assert set(messaging.work_queues) == {"default", "priority"}
    queue = messaging.work_queues["default"]
    assert queue.visibility_timeout_seconds == 180
    assert queue.queue.arn and queue.queue.url and queue.queue.name and queue.dead_letter_queue.arn
    for bucket in (storage.artifacts_bucket, storage.results_bucket, storage.access_logs_bucket):
        assert bucket.arn and bucket.id and bucket.name
    assert storage.key.arn


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_the_alarm_topic_of_dev_and_prod_reaches_a_subscriber(env, synthesized):
    doc = _messaging(synthesized, env)
    alarm_topic = next(k for k, t in doc["resource"]["aws_sns_topic"].items() if t["name"].endswith("-alarms"))
    subscribers = [
        s
        for s in doc["resource"]["aws_sns_topic_subscription"].values()
        if s["topic_arn"] == f"${{aws_sns_topic.{alarm_topic}.arn}}"
    ]
    assert subscribers, f"nobody hears the {env} alarms"
    assert [(s["protocol"], s["endpoint"]) for s in subscribers] == [
        (s.protocol, s.endpoint) for s in _config(env).messaging.alarm_subscriptions
    ]


def _config(env):
    from modules.config import load_config
    from tests.conftest import PROJECT_ROOT

    return load_config(PROJECT_ROOT / "config" / f"{env}.toml")


def test_the_notifications_queue_takes_its_timings_from_config(tmp_path):
    """GIVEN [messaging.async_notifications_queue] in the local (async) environment, THEN its queue hides a message
    and keeps it as configured, not as the queue construct once defaulted."""
    from cdktf import App, Testing

    import main
    from modules.config import load_config
    from tests.conftest import PROJECT_ROOT

    path = tmp_path / "local.toml"
    path.write_text(
        (PROJECT_ROOT / "config" / "local.toml").read_text()
        + "\n[messaging.async_notifications_queue]\nvisibility_timeout_seconds = 300\nmessage_retention_seconds = 86400\n"
    )
    app = App(context={"excludeStackIdFromLogicalIds": "true", "allowSepCharsInLogicalIds": "true"})
    doc = json.loads(Testing.synth(main.compose(app, load_config(path))["messaging"]))
    [queue] = [
        q for q in doc["resource"]["aws_sqs_queue"].values() if q["name"] == "inference-local-async-notifications"
    ]
    assert (queue["visibility_timeout_seconds"], queue["message_retention_seconds"]) == (300, 86400)
    assert queue["receive_wait_time_seconds"] == 20
