"""`make state-migrate`: the state stack's own state moves from the bootstrap file on one laptop into the bucket
the stack created, and nothing is overwritten or deleted on the way.

Most tests drive the tool with a fake Terraform (a function answering `init` and `state pull`); one runs the real
Terraform CLI against the local emulator's S3 and reads back what landed in the bucket.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import boto3
import pytest

from modules.config import load_config
from tests.conftest import PROJECT_ROOT
from tools import state_migrate
from tools.state_migrate import BadInput, MigrationError, migrate

DEV = (PROJECT_ROOT / "config" / "dev.toml").read_text()
SELF_MANAGED_DEV = DEV.replace("\n[registry]\n", "\n[state]\nself_managed = true\n\n[registry]\n", 1)
TARGET = "s3://inference-dev-tfstate-111111111111/inference-pipeline/dev/state.tfstate"


def _state(serial: int = 3, lineage: str = "0b5d5b3e-1111-2222-3333-444455556666", bucket: str = "b") -> str:
    return json.dumps(
        {
            "version": 4,
            "terraform_version": "1.11.4",
            "serial": serial,
            "lineage": lineage,
            "outputs": {"state_bucket": {"value": bucket, "type": "string"}},
            "resources": [
                {
                    "mode": "managed",
                    "type": "aws_s3_bucket",
                    "name": "state",
                    "provider": 'provider["registry.terraform.io/hashicorp/aws"]',
                    "instances": [
                        {
                            "schema_version": 0,
                            "attributes": {"id": bucket, "bucket": bucket},
                            "sensitive_attributes": [],
                        }
                    ],
                }
            ],
        }
    )


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project root holding config/dev.toml (self-managed state) and the bootstrap state of dev."""
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "dev.toml").write_text(SELF_MANAGED_DEV)
    (tmp_path / "state" / "dev").mkdir(parents=True)
    (tmp_path / "state" / "dev" / "state.tfstate").write_text(_state())
    return tmp_path


def _config(project: Path, text: str | None = None):
    if text is not None:
        (project / "config" / "dev.toml").write_text(text)
    return load_config(project / "config" / "dev.toml")


class FakeTerraform:
    """Answers like Terraform 1.11 with an S3 backend: `state pull` of an empty key is an empty state without
    lineage; `init -migrate-state` uploads the working directory's terraform.tfstate and erases it."""

    def __init__(self, remote: str | None = None, *, lands: bool = True) -> None:
        self.remote = remote
        self.lands = lands
        self.calls: list[tuple[str, tuple[str, ...]]] = []
        self.uploaded: str | None = None

    def __call__(self, args: list[str], cwd: Path) -> subprocess.CompletedProcess:
        self.calls.append((cwd.name, tuple(a for a in args if a not in ("-input=false", "-no-color"))))
        stdout = ""
        if "-migrate-state" in args:
            self.uploaded = (cwd / "terraform.tfstate").read_text()
            if self.lands:
                self.remote = self.uploaded
            (cwd / "terraform.tfstate").write_text("")
        elif args[:2] == ["state", "pull"]:
            stdout = self.remote or json.dumps(
                {"version": 4, "serial": 0, "lineage": "", "outputs": {}, "resources": []}
            )
        return subprocess.CompletedProcess(args, 0, stdout, "")


@pytest.fixture
def stub_synth(monkeypatch: pytest.MonkeyPatch):
    """The fake-Terraform tests need a stack folder, not the jsii synth (covered by its own test below)."""

    def synthesize(config, outdir: Path) -> Path:
        stack_dir = outdir / "stacks" / "state"
        stack_dir.mkdir(parents=True)
        (stack_dir / "cdk.tf.json").write_text("{}")
        return stack_dir

    monkeypatch.setattr(state_migrate, "synthesize_state_stack", synthesize)


def test_the_state_is_probed_then_moved_then_checked_and_the_bootstrap_file_kept_as_a_backup(project, stub_synth):
    terraform, said = FakeTerraform(), []
    migration = migrate(_config(project), terraform, outdir=project / "out", project_root=project, say=said.append)
    assert terraform.calls == [
        ("state-probe", ("init",)),
        ("state-probe", ("state", "pull")),
        ("state", ("init", "-migrate-state", "-force-copy")),
        ("state", ("state", "pull")),
    ]
    assert terraform.uploaded == _state()
    assert migration.target == TARGET
    assert not (project / "state" / "dev" / "state.tfstate").exists()
    assert (project / "state" / "dev" / "state.tfstate.migrated").read_text() == _state()
    assert sorted(p.name for p in (project / "out" / "stacks").iterdir()) == ["state"]
    assert not (project / "out" / "stacks" / "state" / "terraform.tfstate").exists()
    assert f"moved {project / 'state' / 'dev' / 'state.tfstate'} to {TARGET} (1 resource(s), 1 output(s))" in said


def test_a_bucket_key_holding_another_state_is_never_overwritten(project, stub_synth):
    terraform = FakeTerraform(remote=_state(serial=9, lineage="another", bucket="other"))
    with pytest.raises(MigrationError, match="already holds another state .*refusing to overwrite it"):
        migrate(_config(project), terraform, outdir=project / "out", project_root=project, say=lambda _: None)
    assert [args for _, args in terraform.calls] == [("init",), ("state", "pull")]
    assert (project / "state" / "dev" / "state.tfstate").read_text() == _state()


def test_a_move_that_did_not_land_keeps_the_bootstrap_file(project, stub_synth):
    terraform = FakeTerraform(lands=False)
    with pytest.raises(MigrationError, match="holds 0 resource\\(s\\), 0 output\\(s\\) after the move"):
        migrate(_config(project), terraform, outdir=project / "out", project_root=project, say=lambda _: None)
    assert (project / "state" / "dev" / "state.tfstate").read_text() == _state()


def test_a_terraform_failure_is_one_line_with_terraforms_own_error(project, stub_synth):
    def failing(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
        stderr = "\n╷\n│ Error: Failed to get existing workspaces: S3 bucket does not exist.\n│ \n│ more detail\n╵\n"
        return subprocess.CompletedProcess(args, 1, "", stderr)

    with pytest.raises(MigrationError) as error:
        migrate(_config(project), failing, outdir=project / "out", project_root=project, say=lambda _: None)
    assert str(error.value).endswith(
        "failed in "
        + str(project / "out" / "stacks" / "state-probe")
        + ": Error: Failed to get existing workspaces: S3 bucket does not exist."
    )
    assert (project / "state" / "dev" / "state.tfstate").is_file()


def test_a_state_already_in_the_bucket_is_not_copied_again(project, stub_synth):
    """A re-run after an interrupted one: the bucket holds the same resources (Terraform gave it a new lineage)."""
    terraform, said = FakeTerraform(remote=_state(serial=1, lineage="new-lineage-of-the-bucket")), []
    migrate(_config(project), terraform, outdir=project / "out", project_root=project, say=said.append)
    assert [args for _, args in terraform.calls] == [("init",), ("state", "pull")]
    assert (project / "state" / "dev" / "state.tfstate.migrated").is_file()
    assert f"{TARGET} already holds this state (1 resource(s), 1 output(s))" in said


def test_after_the_move_a_rerun_runs_no_terraform(project):
    (project / "state" / "dev" / "state.tfstate").rename(project / "state" / "dev" / "state.tfstate.migrated")
    terraform, said = FakeTerraform(), []
    migrate(_config(project), terraform, outdir=project / "out", project_root=project, say=said.append)
    assert terraform.calls == [] and said[0].startswith(f"already migrated: {TARGET}")


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda project: _config(project, DEV), "set `self_managed = true` under [state] in config/dev.toml first"),
        (
            lambda project: (project / "state" / "dev" / "state.tfstate").unlink() or _config(project),
            "no bootstrap state at",
        ),
        (
            lambda project: (
                (project / "state" / "dev" / "state.tfstate").write_text(
                    json.dumps({"version": 4, "serial": 1, "lineage": "x", "outputs": {}, "resources": []})
                )
                and _config(project)
            ),
            "is empty: apply the state stack first",
        ),
    ],
    ids=["not-self-managed", "no-bootstrap-file", "empty-bootstrap-file"],
)
def test_nothing_moves_when_the_config_or_the_bootstrap_file_is_not_ready(project, change, expected):
    terraform = FakeTerraform()
    with pytest.raises(BadInput, match=expected.replace("[", "\\[").replace("]", "\\]")):
        migrate(change(project), terraform, outdir=project / "out", project_root=project, say=lambda _: None)
    assert terraform.calls == []


def test_an_environment_without_the_s3_backend_exits_2_with_one_line(monkeypatch, capsys):
    monkeypatch.setenv("PIPELINE_ENV", "local")
    monkeypatch.delenv("PIPELINE_CONFIG", raising=False)
    monkeypatch.delenv("PIPELINE_EMULATOR_URL", raising=False)
    assert state_migrate.main() == 2
    err = capsys.readouterr().err
    assert (
        err == "error: state-migrate: local keeps every state in local files (backend.type = 'local'); "
        "nothing to move\n"
    )


def test_the_stack_the_migration_initialises_is_the_one_make_synth_writes(tmp_path, synthesized):
    config = load_config(PROJECT_ROOT / "config" / "dev.toml")
    stack_dir = state_migrate.synthesize_state_stack(config, tmp_path / "out")
    assert json.loads((stack_dir / "cdk.tf.json").read_text()) == json.loads(
        (synthesized["dev"] / "stacks" / "state" / "cdk.tf.json").read_text()
    )


@pytest.mark.emulator
def test_the_real_terraform_moves_the_state_into_the_emulators_bucket_encrypted_with_the_state_key(project, terraform):
    """Terraform's S3 backend, pointed at the emulator by an override file (the synthesized backend is the real
    one), moves the bootstrap state and names the state key's alias ARN on the write."""
    from modules.emulator_provider import EMULATOR_ACCESS_KEY, EMULATOR_SECRET_KEY
    from tools.emulator import start_emulator

    config = _config(project)
    with start_emulator(reuse=False, state_file=project / "no-emulator.json") as emulator:
        s3 = boto3.client(
            "s3",
            endpoint_url=emulator.url,
            region_name=config.region,
            aws_access_key_id=EMULATOR_ACCESS_KEY,
            aws_secret_access_key=EMULATOR_SECRET_KEY,
        )
        s3.create_bucket(Bucket=config.backend_bucket, CreateBucketConfiguration={"LocationConstraint": config.region})

        def run(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
            backend = json.loads((cwd / "cdk.tf.json").read_text())["terraform"]["backend"]["s3"]
            emulated = dict(
                backend,
                endpoints={"s3": emulator.url, "sts": emulator.url},
                use_path_style=True,
                skip_credentials_validation=True,
                skip_requesting_account_id=True,
                skip_metadata_api_check=True,
                access_key=EMULATOR_ACCESS_KEY,
                secret_key=EMULATOR_SECRET_KEY,
            )
            (cwd / "emulator_override.tf.json").write_text(json.dumps({"terraform": {"backend": {"s3": emulated}}}))
            return terraform.run(args, cwd, check=False)

        migrate(config, run, outdir=project / "out", project_root=project, say=lambda _: None)
        key = TARGET.removeprefix(f"s3://{config.backend_bucket}/")
        head = s3.head_object(Bucket=config.backend_bucket, Key=key)
        moved = json.loads(s3.get_object(Bucket=config.backend_bucket, Key=key)["Body"].read())
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket=config.backend_bucket)["Contents"]]
    assert (head["ServerSideEncryption"], head["SSEKMSKeyId"]) == (
        "aws:kms",
        "arn:aws:kms:eu-west-1:111111111111:alias/inference-dev-tfstate",
    )
    assert (moved["resources"], moved["outputs"]) == (
        json.loads(_state())["resources"],
        json.loads(_state())["outputs"],
    )
    assert keys == [key], "the lock file is removed once the move is done"
    assert (project / "state" / "dev" / "state.tfstate.migrated").is_file()
