"""The release path, step by step (tools/release): package, upload, set the version, promote, check a plan.

S3 is moto in-process; the config edits run on copies of the real environment files.
"""

from __future__ import annotations

import hashlib
import json
import os
import tarfile
from collections import Counter
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from modules.config import load_config
from tests.conftest import PROJECT_ROOT
from tools.plan_review.model import Change, ResourceChange, StackPlan
from tools.release import artifact as artifact_module
from tools.release.artifact import ReleaseError, ReleaseInputError, package, upload
from tools.release.cli import main
from tools.release.config_file import promote_shadow, set_model_version
from tools.release.plan_check import check_release_plan, render_counts, suspect_stacks

BUCKET, KEY = "inference-local-artifacts", "models/inference/{version}/model.tar.gz"


@pytest.fixture
def model_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "model"
    (folder / "weights").mkdir(parents=True)
    (folder / "metadata.json").write_text('{"model_version": "iris-1"}\n')
    (folder / "weights" / "model.joblib").write_bytes(b"\x00pickled weights\x01")
    return folder


@pytest.fixture
def s3():
    with mock_aws():
        client = boto3.client("s3", region_name="eu-west-1", aws_access_key_id="test", aws_secret_access_key="test")
        client.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
        yield client


# --- package --------------------------------------------------------------------------------------------------


def test_the_same_directory_packages_to_the_same_bytes_and_its_version_is_the_archives_content_hash(model_dir, tmp_path):
    first = package(model_dir, tmp_path / "a")
    os.utime(model_dir / "metadata.json", (1, 1))  # a touched file changes no byte of the archive
    second = package(model_dir, tmp_path / "b")
    assert first.path.read_bytes() == second.path.read_bytes()
    assert first.sha256 == hashlib.sha256(first.path.read_bytes()).hexdigest()
    assert first.version == first.sha256[:12] and first.files == 2
    (model_dir / "metadata.json").write_text('{"model_version": "iris-2"}\n')
    assert package(model_dir, tmp_path / "c").version != first.version


def test_files_sit_at_the_archive_root_where_sagemaker_extracts_them_owned_by_nobody_dated_zero(model_dir, tmp_path):
    with tarfile.open(package(model_dir, tmp_path).path) as tar:
        members = tar.getmembers()
    assert [m.name for m in members] == ["metadata.json", "weights/model.joblib"]
    assert {(m.uid, m.gid, m.uname, m.mtime, m.mode) for m in members} == {(0, 0, "", 0, 0o644)}


def test_a_given_version_is_used_and_checked_like_the_config_checks_it(model_dir, tmp_path):
    assert package(model_dir, tmp_path, version="2.1.0").version == "2.1.0"
    with pytest.raises(ReleaseError, match="'latest' does not name one artifact"):
        package(model_dir, tmp_path, version="latest")
    with pytest.raises(ReleaseError, match="'1.0/2' is not one key segment"):
        package(model_dir, tmp_path, version="1.0/2")


def test_links_and_missing_or_empty_folders_are_refused(model_dir, tmp_path):
    (model_dir / "link").symlink_to(model_dir / "metadata.json")
    with pytest.raises(ReleaseError, match="links and special files cannot be packaged .*: link"):
        package(model_dir, tmp_path / "out")
    with pytest.raises(ReleaseInputError, match="not a directory"):
        package(tmp_path / "nowhere", tmp_path / "out")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ReleaseInputError, match="no files to package"):
        package(tmp_path / "empty", tmp_path / "out")


# --- upload ---------------------------------------------------------------------------------------------------


def test_an_upload_writes_the_version_with_its_hash_and_a_rerun_with_the_same_bytes_writes_nothing(model_dir, tmp_path, s3):
    built = package(model_dir, tmp_path)
    key = KEY.format(version=built.version)
    first = upload(s3, built, BUCKET, key)
    assert first.created and first.uri == f"s3://{BUCKET}/{key}"
    head = s3.head_object(Bucket=BUCKET, Key=key)
    assert head["Metadata"] == {"sha256": built.sha256}
    version_id = head.get("VersionId")
    assert upload(s3, built, BUCKET, key).created is False
    assert s3.head_object(Bucket=BUCKET, Key=key).get("VersionId") == version_id


def test_other_bytes_under_an_existing_version_are_refused_and_the_object_stays(model_dir, tmp_path, s3):
    built = package(model_dir, tmp_path / "one", version="1.4.2")
    upload(s3, built, BUCKET, KEY.format(version="1.4.2"))
    (model_dir / "metadata.json").write_text('{"model_version": "retrained"}\n')
    other = package(model_dir, tmp_path / "two", version="1.4.2")
    with pytest.raises(ReleaseError, match=f"already exists with other content \\(sha256 {built.sha256}, this archive "
                                           f"{other.sha256}\\): a version names one artifact forever"):
        upload(s3, other, BUCKET, KEY.format(version="1.4.2"))
    stored = s3.get_object(Bucket=BUCKET, Key=KEY.format(version="1.4.2"))["Body"].read()
    assert stored == built.path.read_bytes()


def test_a_concurrent_writer_loses_to_the_conditional_put(model_dir, tmp_path, s3, monkeypatch):
    built = package(model_dir, tmp_path)
    key = KEY.format(version=built.version)
    monkeypatch.setattr(artifact_module, "_existing_sha256", lambda *_: None)  # as if it appeared after the check
    upload(s3, built, BUCKET, key)
    with pytest.raises(ReleaseError, match="was written by someone else meanwhile"):
        upload(s3, built, BUCKET, key)


def test_an_archive_over_one_put_is_refused_before_any_call(model_dir, tmp_path, monkeypatch):
    monkeypatch.setattr(artifact_module, "S3_SINGLE_PUT", artifact_module.S3_SINGLE_PUT.__class__(
        name="tiny", value=10, unit="bytes", doc=artifact_module.S3_SINGLE_PUT.doc, why="test"))
    with pytest.raises(ReleaseError, match="over the 10 one PutObject takes"):
        upload(object(), package(model_dir, tmp_path), BUCKET, "k")


# --- set-version and promote ----------------------------------------------------------------------------------


def _copy(tmp_path: Path, env: str) -> Path:
    path = tmp_path / f"{env}.toml"
    path.write_text((PROJECT_ROOT / "config" / f"{env}.toml").read_text())
    return path


def test_setting_the_version_changes_one_line_and_keeps_every_comment(tmp_path):
    path = _copy(tmp_path, "local")
    before = path.read_text()
    assert set_model_version(path, "3f1c0b7e5d2a") == "1.0.0"
    after = path.read_text()
    assert after == before.replace('model_version = "1.0.0"', 'model_version = "3f1c0b7e5d2a"')
    assert load_config(path).inference.model_artifact_key == "models/inference/3f1c0b7e5d2a/model.tar.gz"


def test_a_file_without_the_line_or_without_the_table_gets_them(tmp_path):
    path = _copy(tmp_path, "local")
    path.write_text(path.read_text().replace('model_version = "1.0.0"\n', ""))
    assert set_model_version(path, "2.0.0") is None
    assert load_config(path).inference.model_version == "2.0.0"
    bare = tmp_path / "qa.toml"
    bare.write_text('project = "inference"\n')
    set_model_version(bare, "2.0.0")
    assert bare.read_text() == 'project = "inference"\n\n[inference]\nmodel_version = "2.0.0"\n'


def test_a_version_the_config_refuses_leaves_the_file_unchanged(tmp_path):
    path = _copy(tmp_path, "local")
    before = path.read_text()
    with pytest.raises(ReleaseError, match="would not be valid after the edit, left unchanged: .*'latest' does not "
                                           "name one artifact"):
        set_model_version(path, "latest")
    assert path.read_text() == before


def test_promotion_makes_the_shadow_version_the_production_version_and_removes_the_shadow(tmp_path):
    path = _copy(tmp_path, "prod")
    path.write_text(path.read_text().replace("# [inference.shadow]\n# model_version", "[inference.shadow]\nmodel_version")
                    .replace("# sampling_percentage = 20", "sampling_percentage = 20"))
    assert load_config(path).inference.shadow.model_version == "1.1.0"
    assert promote_shadow(path) == ("1.0.0", "1.1.0")
    promoted = load_config(path).inference
    assert (promoted.model_version, promoted.shadow) == ("1.1.0", None)
    assert "# API (README" in path.read_text() and "[inference.rollout]" in path.read_text()
    with pytest.raises(ReleaseError, match="no \\[inference.shadow\\] table: nothing to promote"):
        promote_shadow(path)


def test_the_cli_sets_the_version_of_the_environment_file_and_exits_2_on_a_broken_file(tmp_path, monkeypatch, capsys):
    path = _copy(tmp_path, "local")
    monkeypatch.setenv("PIPELINE_CONFIG", str(path))
    assert main(["set-version", "2025-06-01"]) == 0
    assert "local.toml: inference.model_version 1.0.0 -> 2025-06-01" in capsys.readouterr().out
    path.write_text(path.read_text().replace('region = "eu-west-1"', 'region = "mars-1"'))
    assert main(["set-version", "2025-06-02"]) == 2
    assert "region" in capsys.readouterr().err


# --- check-plan -----------------------------------------------------------------------------------------------


def _change(address: str, actions: tuple[str, ...], before=None, after=None) -> ResourceChange:
    return ResourceChange(address=address, type=address.split(".")[0], mode="managed",
                          change=Change(actions=actions, before=before, after=after))


def _plans(*extra: ResourceChange, endpoint_after: dict | None = None) -> list[StackPlan]:
    endpoint_before = {"name": "ep", "endpoint_config_name": "ep-aaaa", "deployment_config": []}
    inference = (
        _change("aws_sagemaker_model.model", ("create", "delete")),
        _change("aws_sagemaker_endpoint_configuration.configuration", ("create", "delete")),
        _change("aws_sagemaker_endpoint.endpoint", ("update",), endpoint_before,
                endpoint_after or {**endpoint_before, "endpoint_config_name": "ep-bbbb"}),
        _change("data.aws_iam_policy_document.policy", ("read",)),
        _change("aws_iam_role.role", ("no-op",)),
    )
    return [StackPlan(stack="inference", source=Path("inference.json"), format_version="1.2", terraform_version="1.11",
                      resource_changes=inference),
            StackPlan(stack="api", source=Path("api.json"), format_version="1.2", terraform_version="1.11",
                      resource_changes=extra)]


def test_a_release_plan_is_a_replaced_model_and_configuration_and_an_updated_endpoint():
    result = check_release_plan(_plans())
    assert result.problems == []
    assert result.counts == {"inference": Counter({"replace": 2, "change": 1}), "api": Counter()}
    assert render_counts(result.counts) == "inference: 1 change, 2 replace; api: no changes"


def test_anything_else_in_any_stack_or_another_endpoint_change_is_named():
    result = check_release_plan(_plans(
        _change("aws_cloudwatch_dashboard.dashboard", ("update",)),
        endpoint_after={"name": "ep", "endpoint_config_name": "ep-bbbb", "deployment_config": [{"x": 1}]}))
    assert result.problems == [
        "inference: aws_sagemaker_endpoint.endpoint changes deployment_config besides the configuration: not only a "
        "model release",
        "api: change aws_cloudwatch_dashboard.dashboard is not part of a model release"]


def test_a_plan_without_the_release_or_with_a_replaced_endpoint_is_not_a_release():
    plans = _plans()
    inference = plans[0]
    replaced = [_change("aws_sagemaker_endpoint.endpoint", ("delete", "create"))]
    result = check_release_plan([StackPlan(stack="inference", source=inference.source, format_version="1.2",
                                           terraform_version="1.11", resource_changes=tuple(replaced))])
    assert "inference: replace aws_sagemaker_endpoint.endpoint is not part of a model release" in result.problems
    assert "inference: no replace of an aws_sagemaker_model: the plan does not release a model" in result.problems


def test_check_plan_exits_2_naming_a_file_that_is_not_a_plan(tmp_path, capsys):
    state = tmp_path / "inference.json"
    state.write_text(json.dumps({"format_version": "1.0", "values": {}}))  # a state file, not a plan
    assert main(["check-plan", f"inference={state}"]) == 2
    assert f"error: {state}: no 'resource_changes'" in capsys.readouterr().err


def test_a_change_the_baseline_shows_identically_is_standing_and_any_other_still_fails():
    drift = _change("aws_ecs_service.worker", ("update",), {"enable_ecs_managed_tags": False},
                    {"enable_ecs_managed_tags": True})
    other = _change("aws_ecs_service.worker", ("update",), {"enable_ecs_managed_tags": False},
                    {"enable_ecs_managed_tags": True, "desired_count": 3})
    baseline = [StackPlan(stack="api", source=Path("api.json"), format_version="1.2", terraform_version="1.11",
                          resource_changes=(drift,))]
    settled = check_release_plan(_plans(drift), baseline)
    assert (settled.problems, settled.standing) == ([], ["api: aws_ecs_service.worker"])
    assert settled.counts["api"] == Counter()
    assert check_release_plan(_plans(other), baseline).problems == [
        "api: change aws_ecs_service.worker is not part of a model release"]
    assert suspect_stacks(check_release_plan(_plans(other))) == ["api"]
