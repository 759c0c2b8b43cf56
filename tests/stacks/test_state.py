"""The state stack: its bucket names, which state writes its bucket refuses, who may use it at all, where the
stack keeps its own state, and how long access logs live.

The bucket-policy tests judge requests against the synthesized deny statements with the IAM rules for the few
operators they use (AWS IAM User Guide, "Condition operators"): a key missing from the request makes a plain
operator false, a negated one (StringNotEquals, ArnNotLike) true, any ...IfExists true, and Null tests presence.
"""

from __future__ import annotations

import fnmatch
import json
import re
from pathlib import Path

import pytest

from tests.conftest import PROJECT_ROOT

ACCOUNT = {"dev": "111111111111", "prod": "222222222222"}
KEY_ARN = "arn:aws:kms:eu-west-1:{account}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
ALIAS_ARN = "arn:aws:kms:eu-west-1:{account}:alias/inference-{env}-tfstate"
OTHER_KEY_ARN = "arn:aws:kms:eu-west-1:{account}:key/99999999-0000-0000-0000-000000000000"
STATE_KEY = "inference-pipeline/{env}/network.tfstate"
DEPLOY_ROLE = "arn:aws:iam::222222222222:role/inference-prod-deploy"


def _state(synthesized, env) -> dict:
    return json.loads((synthesized[env] / "stacks" / "state" / "cdk.tf.json").read_text())


def _resolve(value: str, env: str) -> str:
    """The references of the state stack's policy, replaced by the values AWS would see."""
    account = ACCOUNT[env]
    replacements = {
        r"\$\{data\.aws_partition\.partition\.partition\}": "aws",
        r"\$\{data\.aws_caller_identity\.caller\.account_id\}": account,
        r"\$\{aws_kms_key\.[^}]+\.arn\}": KEY_ARN.format(account=account),
        r"\$\{aws_kms_alias\.[^}]+\.arn\}": ALIAS_ARN.format(account=account, env=env),
        r"\$\{aws_s3_bucket\.state-bucket[^}]+\.arn\}": f"arn:aws:s3:::inference-{env}-tfstate-{account}",
    }
    for pattern, replacement in replacements.items():
        value = re.sub(pattern, replacement, value)
    assert "${" not in value, f"unresolved reference in {value}"
    return value


def _bucket_policy(synthesized, env) -> list[dict]:
    documents = _state(synthesized, env)["data"]["aws_iam_policy_document"]
    (statements,) = [d["statement"] for name, d in documents.items() if name.startswith("state-bucket")]
    return statements


def _condition_holds(condition: dict, context: dict[str, str], env: str) -> bool:
    values = [_resolve(v, env) for v in condition["values"]]
    present = condition["variable"] in context
    actual = context.get(condition["variable"])
    test = condition["test"]
    if test.endswith("IfExists"):  # a missing key makes the condition true, whatever the operator
        return not present or _condition_holds(dict(condition, test=test.removesuffix("IfExists")), context, env)
    if test == "Null":
        return (not present) == (values == ["true"])
    if test == "StringEquals":
        return present and actual in values
    if test == "StringNotEquals":
        return not present or actual not in values
    if test == "ArnNotLike":
        return not present or not any(fnmatch.fnmatchcase(actual, v) for v in values)
    if test == "Bool":
        return present and actual in values
    raise AssertionError(f"operator {test} not modelled by this test")


def _denying_statement(statements, env, action, resource, context) -> str | None:
    """The sid of the first deny that matches ACTION on RESOURCE with CONTEXT, None when nothing denies."""
    for stmt in statements:
        if stmt["effect"] != "Deny":
            continue
        if not any(fnmatch.fnmatchcase(action, a) for a in stmt["actions"]):
            continue
        if not any(fnmatch.fnmatchcase(resource, _resolve(r, env)) for r in stmt["resources"]):
            continue
        if all(_condition_holds(c, context, env) for c in stmt.get("condition", [])):
            return stmt["sid"]
    return None


def _put(env, object_key, principal, **headers) -> tuple[str, str, dict]:
    context = {"aws:SecureTransport": "true", "aws:PrincipalArn": principal}
    names = {"sse": "s3:x-amz-server-side-encryption", "key": "s3:x-amz-server-side-encryption-aws-kms-key-id"}
    context.update({names[name]: value for name, value in headers.items()})
    return "s3:PutObject", f"arn:aws:s3:::inference-{env}-tfstate-{ACCOUNT[env]}/{object_key}", context


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_the_state_bucket_and_its_log_bucket_carry_the_account_id(env, synthesized):
    buckets = _state(synthesized, env)["resource"]["aws_s3_bucket"].values()
    assert sorted(b["bucket"] for b in buckets) == [
        f"inference-{env}-tfstate-{ACCOUNT[env]}",
        f"inference-{env}-tfstate-access-logs-{ACCOUNT[env]}",
    ]


def test_the_local_state_bucket_keeps_its_name(synthesized):
    buckets = _state(synthesized, "local")["resource"]["aws_s3_bucket"].values()
    assert sorted(b["bucket"] for b in buckets) == ["inference-local-tfstate", "inference-local-tfstate-access-logs"]


# (request, sid of the deny that refuses it or None). Principals: the deploy role, listed in prod's config.
WRITES = {
    "terraform naming the alias (what the backend sends)": ({"sse": "aws:kms", "key": ALIAS_ARN}, None),
    "the key named by its key ARN": ({"sse": "aws:kms", "key": KEY_ARN}, None),
    "no encryption header (bucket default: the state key)": ({}, None),
    "encrypt = true without kms_key_id (SSE-S3, defect 3)": ({"sse": "AES256"}, "DenyStateWithoutKms"),
    "another KMS key": ({"sse": "aws:kms", "key": OTHER_KEY_ARN}, "DenyStateWithAnotherKey"),
    "aws:kms without a key id (the AWS managed key)": ({"sse": "aws:kms"}, "DenyStateWithTheAwsManagedKey"),
    "dual-layer SSE": ({"sse": "aws:kms:dsse", "key": KEY_ARN}, "DenyStateWithoutKms"),
}


@pytest.mark.parametrize("env", ["dev", "prod"])
@pytest.mark.parametrize("case", WRITES, ids=list(WRITES))
def test_the_state_bucket_refuses_state_objects_not_encrypted_with_the_state_key(env, case, synthesized):
    headers, expected = WRITES[case]
    headers = {name: value.format(account=ACCOUNT[env], env=env) for name, value in headers.items()}
    request = _put(env, STATE_KEY.format(env=env), DEPLOY_ROLE.replace("222222222222", ACCOUNT[env]), **headers)
    assert _denying_statement(_bucket_policy(synthesized, env), env, *request) == expected


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_lock_files_and_upload_parts_are_not_held_to_the_encryption_rule(env, synthesized):
    """Lock files hold no data and some Terraform/OpenTofu versions send them without an encryption header
    (opentofu#2970); a multipart upload's parts never carry one."""
    statements = _bucket_policy(synthesized, env)
    principal = DEPLOY_ROLE.replace("222222222222", ACCOUNT[env])
    lock = _put(env, STATE_KEY.format(env=env) + ".tflock", principal, sse="AES256")
    assert _denying_statement(statements, env, *lock) is None
    part = _put(env, STATE_KEY.format(env=env), principal)
    assert _denying_statement(statements, env, *part) is None


def test_only_the_listed_roles_and_the_account_root_may_use_the_prod_state_bucket(synthesized):
    statements = _bucket_policy(synthesized, "prod")
    bucket = "arn:aws:s3:::inference-prod-tfstate-222222222222"
    for principal in (
        "arn:aws:iam::222222222222:role/inference-prod-plan",
        DEPLOY_ROLE,
        "arn:aws:iam::222222222222:role/inference-prod-break-glass",
        "arn:aws:iam::222222222222:root",
    ):
        for action, resource in (
            ("s3:GetObject", f"{bucket}/{STATE_KEY.format(env='prod')}"),
            ("s3:ListBucket", bucket),
            ("s3:PutBucketPolicy", bucket),
        ):
            context = {"aws:SecureTransport": "true", "aws:PrincipalArn": principal}
            assert _denying_statement(statements, "prod", action, resource, context) is None, (principal, action)
    for principal in ("arn:aws:iam::222222222222:role/Admin", "arn:aws:iam::222222222222:role/inference-prod-compute"):
        context = {"aws:SecureTransport": "true", "aws:PrincipalArn": principal}
        assert (
            _denying_statement(statements, "prod", "s3:GetObject", f"{bucket}/x.tfstate", context)
            == "DenyAllButStateOperators"
        )
    assert (
        _denying_statement(statements, "prod", "s3:GetObject", f"{bucket}/x.tfstate", {"aws:SecureTransport": "true"})
        == "DenyAllButStateOperators"
    )


def test_without_a_principal_list_the_dev_state_bucket_restricts_no_principal(synthesized):
    assert "DenyAllButStateOperators" not in {s["sid"] for s in _bucket_policy(synthesized, "dev")}


@pytest.mark.parametrize(("env", "days"), [("local", 7), ("dev", 30), ("prod", 365)])
def test_state_access_logs_expire(env, days, synthesized):
    lifecycles = _state(synthesized, env)["resource"]["aws_s3_bucket_lifecycle_configuration"]
    (logs,) = [v for name, v in lifecycles.items() if name.startswith("state-access-logs")]
    expiring = [rule for rule in logs["rule"] if "expiration" in rule]
    assert expiring == [
        {"id": "expire-access-logs", "status": "Enabled", "filter": [{}], "expiration": [{"days": days}]}
    ]


def _state_stack_alone(tmp_path: Path, toml: str) -> dict:
    from cdktf import App

    from modules.config import load_config
    from modules.stacks.state import StateStack
    from modules.synth_run import cdktf_context

    path = tmp_path / "dev.toml"
    path.write_text(toml)
    app = App(outdir=str(tmp_path / "out"), context=cdktf_context())
    StateStack(app, config=load_config(path))
    app.synth()
    return json.loads((tmp_path / "out" / "stacks" / "state" / "cdk.tf.json").read_text())


def test_a_self_managed_state_stack_uses_the_s3_backend_of_every_stack_and_changes_nothing_else(tmp_path, synthesized):
    dev = (PROJECT_ROOT / "config" / "dev.toml").read_text()
    moved = _state_stack_alone(tmp_path, dev.replace("[registry]", "[state]\nself_managed = true\n\n[registry]", 1))
    bootstrap = _state(synthesized, "dev")
    assert bootstrap["terraform"]["backend"] == {"local": {"path": "../../../state/dev/state.tfstate"}}
    storage = json.loads((synthesized["dev"] / "stacks" / "storage" / "cdk.tf.json").read_text())
    expected = dict(storage["terraform"]["backend"]["s3"], key="inference-pipeline/dev/state.tfstate")
    assert moved["terraform"]["backend"] == {"s3": expected}
    for doc in (moved, bootstrap):
        del doc["terraform"]["backend"], doc["//"]["metadata"]["backend"]  # cdktf notes the backend type there too
    assert moved == bootstrap
