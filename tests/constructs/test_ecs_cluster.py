import pytest

from modules.constructs.ecs_cluster import EcsCluster, EcsClusterProps
from tests.constructs.helpers import only, synth_with

KEY = "arn:aws:kms:eu-west-1:123456789012:key/k"


def _cluster(stack, **overrides):
    return EcsCluster(stack, "cluster", props=EcsClusterProps(**{"name": "p", "kms_key_arn": KEY, **overrides}))


def test_the_cluster_has_container_insights_and_encrypted_exec_logging():
    doc = synth_with(_cluster)
    cluster = only(doc, "aws_ecs_cluster")
    assert cluster["setting"] == [{"name": "containerInsights", "value": "enabled"}]
    execute = cluster["configuration"]["execute_command_configuration"]
    assert execute["kms_key_id"] == KEY and execute["logging"] == "OVERRIDE"
    assert execute["log_configuration"]["cloud_watch_encryption_enabled"] is True
    group = only(doc, "aws_cloudwatch_log_group")
    assert group["kms_key_id"] == KEY and group["retention_in_days"] == 30


def test_fargate_and_fargate_spot_are_attached_and_a_service_naming_neither_stays_on_demand():
    providers = only(synth_with(_cluster), "aws_ecs_cluster_capacity_providers")

    assert providers["capacity_providers"] == ["FARGATE", "FARGATE_SPOT"]
    assert providers["default_capacity_provider_strategy"] == [{"base": 0, "capacity_provider": "FARGATE", "weight": 1}]


def test_an_invalid_retention_is_refused():
    with pytest.raises(ValueError, match="log_retention_days must be one of"):
        synth_with(lambda s: _cluster(s, log_retention_days=2))
