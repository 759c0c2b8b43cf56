"""The refactor check lists every Terraform address a change adds, removes or renames."""

from tools.refactor_check import addresses


def test_addresses_name_resources_data_sources_and_outputs():
    doc = {
        "resource": {"aws_s3_bucket": {"results": {}, "logs": {}}},
        "data": {"aws_iam_policy_document": {"trust": {}}},
        "output": {"bucket": {"value": "x"}},
    }
    assert addresses(doc) == {
        "aws_s3_bucket.results", "aws_s3_bucket.logs", "data.aws_iam_policy_document.trust", "output.bucket",
    }


def test_a_renamed_resource_shows_as_one_address_removed_and_one_added():
    before = addresses({"resource": {"aws_sqs_queue": {"jobs_1A2B": {}}}})
    after = addresses({"resource": {"aws_sqs_queue": {"jobs_3C4D": {}}}})
    assert (after - before, before - after) == ({"aws_sqs_queue.jobs_3C4D"}, {"aws_sqs_queue.jobs_1A2B"})
