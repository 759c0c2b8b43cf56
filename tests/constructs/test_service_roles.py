"""One way to build a service role: trust, one inline least-privilege policy, AWS managed policies only by name."""

import json

from modules.constructs.policy_statements import statement
from modules.constructs.service_roles import assume_role_policy, role_with_policy
from tests.conftest import PROJECT_ROOT
from tests.constructs.helpers import synth_with

READ = statement("Read", ["s3:GetObject"], ["arn:aws:s3:::b/*"])


def _synth(**overrides) -> dict:
    arguments = {
        "name": "r",
        "description": "d",
        "trust": assume_role_policy("lambda.amazonaws.com"),
        "statements": [READ],
        **overrides,
    }
    return synth_with(lambda stack: role_with_policy(stack, "worker-role", **arguments))


def test_the_role_its_policy_and_document_take_ids_from_the_role_id():
    doc = _synth()
    assert list(doc["resource"]["aws_iam_role"]) == ["worker-role"]
    assert list(doc["resource"]["aws_iam_role_policy"]) == ["worker-role-policy"]
    assert list(doc["data"]["aws_iam_policy_document"]) == ["worker-role-document"]
    assert doc["resource"]["aws_iam_role_policy"]["worker-role-policy"]["name"] == "least-privilege"


def test_a_caller_keeps_the_ids_and_policy_name_its_role_was_deployed_with():
    doc = _synth(policy_id="policy", document_id="policy-document", policy_name="hosting")
    assert doc["resource"]["aws_iam_role_policy"]["policy"]["name"] == "hosting"
    assert list(doc["data"]["aws_iam_policy_document"]) == ["policy-document"]


def test_a_role_without_statements_has_no_inline_policy():
    doc = _synth(statements=[])
    assert "aws_iam_role_policy" not in doc["resource"]
    assert "data" not in doc or "aws_iam_policy_document" not in doc["data"]


def test_aws_managed_policies_are_attached_by_name_in_the_partition():
    doc = _synth(statements=[], aws_managed_policies=("AmazonEKSClusterPolicy",), partition="aws-us-gov")
    (attachment,) = doc["resource"]["aws_iam_role_policy_attachment"].items()
    assert attachment[0] == "worker-role-AmazonEKSClusterPolicy"
    assert attachment[1]["policy_arn"] == "arn:aws-us-gov:iam::aws:policy/AmazonEKSClusterPolicy"


def test_the_trust_guards_the_account_and_lists_extra_actions_as_given():
    (trust,) = json.loads(
        assume_role_policy("eks.amazonaws.com", account_id="123", actions=["sts:AssumeRole", "sts:TagSession"])
    )["Statement"]
    assert trust["Action"] == ["sts:AssumeRole", "sts:TagSession"]
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": "123"}}
    (plain,) = json.loads(assume_role_policy("lambda.amazonaws.com"))["Statement"]
    assert plain["Action"] == "sts:AssumeRole" and "Condition" not in plain


def test_no_construct_or_stack_builds_a_role_or_policy_around_the_shared_piece():
    """Four role-plus-policy copies had grown apart (ids, trust shape, policy names)."""
    builders = sorted(
        path.name
        for path in (PROJECT_ROOT / "modules").rglob("*.py")
        if path.name != "service_roles.py"
        and any(call in path.read_text() for call in ("IamRole(", "IamRolePolicy(", "IamRolePolicyAttachment("))
    )
    assert builders == []
