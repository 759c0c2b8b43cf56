import pytest

from modules.constructs.fargate_job_queue import FargateJobQueue, FargateJobQueueProps
from tests.constructs.helpers import only, synth_with


def _queue(stack, **overrides):
    props = {
        "name": "p-batch",
        "subnet_ids": ["subnet-a", "subnet-b"],
        "security_group_ids": ["sg-1"],
        "spot_vcpus": 12,
        "on_demand_vcpus": 4,
        **overrides,
    }
    return FargateJobQueue(stack, "queue", props=FargateJobQueueProps(**props))


def _environments(doc) -> dict:
    return {e["compute_resources"]["type"]: e for e in doc["resource"]["aws_batch_compute_environment"].values()}


def test_the_queue_tries_fargate_spot_first_then_on_demand_fargate():
    doc = synth_with(_queue)
    environments = _environments(doc)
    order = only(doc, "aws_batch_job_queue")["compute_environment_order"]
    spot = next(
        k
        for k, e in doc["resource"]["aws_batch_compute_environment"].items()
        if e["compute_resources"]["type"] == "FARGATE_SPOT"
    )
    assert [(o["order"], o["compute_environment"].split(".")[1]) for o in order][0] == (1, spot)
    assert {kind: e["compute_resources"]["max_vcpus"] for kind, e in environments.items()} == {
        "FARGATE_SPOT": 12,
        "FARGATE": 4,
    }


def test_both_environments_run_in_the_private_subnets_behind_the_given_groups_with_the_service_linked_role():
    for environment in _environments(synth_with(_queue)).values():
        assert environment["compute_resources"]["subnets"] == ["subnet-a", "subnet-b"]
        assert environment["compute_resources"]["security_group_ids"] == ["sg-1"]
        assert "service_role" not in environment and environment["type"] == "MANAGED"
        assert environment["lifecycle"] == {"create_before_destroy": True}
        assert "name" not in environment and "compute_environment_name" not in environment


@pytest.mark.parametrize(("spot", "on_demand", "kinds"), [(8, 0, {"FARGATE_SPOT"}), (0, 8, {"FARGATE"})])
def test_a_share_of_zero_leaves_its_environment_out(spot, on_demand, kinds):
    doc = synth_with(lambda s: _queue(s, spot_vcpus=spot, on_demand_vcpus=on_demand))
    assert set(_environments(doc)) == kinds
    assert len(only(doc, "aws_batch_job_queue")["compute_environment_order"]) == 1


def test_a_queue_without_capacity_or_subnets_is_refused():
    with pytest.raises(ValueError, match="not both 0"):
        synth_with(lambda s: _queue(s, spot_vcpus=0, on_demand_vcpus=0))
    with pytest.raises(ValueError, match="subnet_ids is required"):
        synth_with(lambda s: _queue(s, subnet_ids=[]))
