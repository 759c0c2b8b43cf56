"""The refactor check lists every Terraform address a change adds, removes or renames."""

from tools.refactor_check import addresses


def test_addresses_name_resources_data_sources_and_outputs():
    doc = {
        "resource": {"aws_s3_bucket": {"results": {}, "logs": {}}},
        "data": {"aws_iam_policy_document": {"trust": {}}},
        "output": {"bucket": {"value": "x"}},
    }
    assert addresses(doc) == {
        "aws_s3_bucket.results",
        "aws_s3_bucket.logs",
        "data.aws_iam_policy_document.trust",
        "output.bucket",
    }


def test_a_renamed_resource_shows_as_one_address_removed_and_one_added():
    before = addresses({"resource": {"aws_sqs_queue": {"jobs_1A2B": {}}}})
    after = addresses({"resource": {"aws_sqs_queue": {"jobs_3C4D": {}}}})
    assert (after - before, before - after) == ({"aws_sqs_queue.jobs_3C4D"}, {"aws_sqs_queue.jobs_1A2B"})


def test_the_emulator_plan_check_leaves_out_only_changes_the_base_shows_identically():
    from tools.local.refactor_plan import not_standing
    from tools.plan_review.model import Change

    echoed = Change(actions=("update",), before={"policy": "a b"}, after={"policy": "a  b"})
    refactor = {
        ("messaging", "aws_sqs_queue.jobs"): echoed,
        ("api", "aws_iam_role.api"): Change(actions=("delete", "create")),
    }
    standing = {("messaging", "aws_sqs_queue.jobs"): echoed, ("api", "aws_iam_role.api"): Change(actions=("update",))}
    assert list(not_standing(refactor, standing)) == [("api", "aws_iam_role.api")]


def test_a_change_the_emulator_plan_finds_names_the_attributes_that_differ():
    from tools.local.refactor_plan import describe
    from tools.plan_review.model import Change

    change = Change(
        actions=("update",),
        before={"source_code_hash": "a", "memory_size": 256},
        after={"source_code_hash": "b", "memory_size": 256},
    )
    assert describe("compute", "aws_lambda_function.f", change) == (
        "compute: update aws_lambda_function.f (source_code_hash)"
    )
