"""Fixtures for the tools tests: the Terraform toolchain and real plans made once per test session.

Making the plans costs one to two minutes (five stacks applied, changed and planned against the emulator in
parallel, see real_plans.py), so they are made once per session. Under pytest-xdist every worker has its own session: the first worker to take the lock makes
the plans in the run's shared temporary folder and the others wait for them and read the same files.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.tools.real_plans import PROVIDER_SCHEMA_FILE, plan_all_stacks
from tools.emulator import start_emulator
from tools.terraform_cli import TerraformToolchain

PLAN_PREFIX = "review"


@contextmanager
def _exclusive(lock_file: Path) -> Iterator[None]:
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    with lock_file.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


REUSE_PLANS_ENV = "PLAN_REVIEW_PLANS_DIR"


def _shared_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The run's temporary folder, shared by all xdist workers (each worker's basetemp sits inside it); or the
    folder PLAN_REVIEW_PLANS_DIR names, which keeps the plans between sessions while iterating on the review
    (delete it after changing real_plans.py)."""
    kept = os.environ.get(REUSE_PLANS_ENV)
    if kept:
        return Path(kept).resolve()
    base = tmp_path_factory.getbasetemp()
    return (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "real-plans"


@pytest.fixture(scope="session")
def real_plans(terraform: TerraformToolchain, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """`{stack: plan.json}` made by the real Terraform CLI against a fresh emulator (see real_plans.py)."""
    work = _shared_folder(tmp_path_factory)
    done, failed = work / "plans.json", work / "failed.txt"
    with _exclusive(work.parent / f"{work.name}.lock"):
        if failed.exists():
            pytest.fail(failed.read_text(), pytrace=False)
        if not done.exists():
            try:
                with start_emulator(reuse=False) as emulator:
                    plans = plan_all_stacks(terraform, work, emulator.url, PLAN_PREFIX)
            except Exception as exc:
                failed.write_text(f"making the real plans failed: {exc}")
                raise
            done.write_text(json.dumps({name: str(path.relative_to(work)) for name, path in plans.items()}))
    return {name: work / path for name, path in json.loads(done.read_text()).items()}


@pytest.fixture(scope="session")
def aws_provider_schema(real_plans: dict[str, Path]) -> dict:
    """`terraform providers schema -json` of the provider the plans were made with, saved by the fixture."""
    work = real_plans["storage"].parent.parent
    schemas = json.loads((work / PROVIDER_SCHEMA_FILE).read_text())["provider_schemas"]
    return schemas["registry.terraform.io/hashicorp/aws"]


@pytest.fixture(scope="session")
def storage_plan(real_plans: dict[str, Path]) -> Path:
    return real_plans["storage"]


@pytest.fixture(scope="session")
def messaging_plan(real_plans: dict[str, Path]) -> Path:
    return real_plans["messaging"]


@pytest.fixture(scope="session")
def serving_plan(real_plans: dict[str, Path]) -> Path:
    """A cost increase with SageMaker, Fargate (on-demand and Spot), NAT and an interface endpoint; IAM widening."""
    return real_plans["serving"]


@pytest.fixture(scope="session")
def edge_plan(real_plans: dict[str, Path]) -> Path:
    """A cost decrease, whitespace-only changes and a deposed object."""
    return real_plans["edge"]


@pytest.fixture(scope="session")
def drift_plans(real_plans: dict[str, Path]) -> dict[str, Path]:
    """The drift stack's plans: `noop` (right after apply), `plan` (after out-of-band changes), `refresh`
    (refresh-only); each `<name>.json` has Terraform's own rendering beside it as `<name>.txt`."""
    folder = real_plans["drift"].parent
    return {name: folder / f"{name}.json" for name in ("noop", "plan", "refresh")}
