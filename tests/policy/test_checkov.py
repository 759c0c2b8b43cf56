"""Gate: checkov over the synthesized JSON of every environment, and over the Kubernetes manifests of every EKS
environment (its kubernetes framework), reports zero failed checks.

Skips live in one file, policy/checkov_skips.yaml: `skips` for the Terraform JSON (by check id), `kubernetes` for the
manifests (by check id and resource), each with its reason; nothing is skipped inline.
"""

from __future__ import annotations

import fnmatch
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import EKS_ENVIRONMENTS, ENVIRONMENTS, PROJECT_ROOT, record_gate, stack_dirs

SKIPS_FILE = PROJECT_ROOT / "policy" / "checkov_skips.yaml"


def load_skips() -> list[dict]:
    return yaml.safe_load(SKIPS_FILE.read_text())["skips"]


@pytest.fixture(scope="session")
def checkov_report(synthesized, tmp_path_factory) -> list[dict]:
    """One checkov run over every environment's stacks (checkov's start-up is the slow part)."""
    root = tmp_path_factory.mktemp("checkov")
    for env in ENVIRONMENTS:
        for stack in stack_dirs(synthesized[env]):
            target = root / env / stack.name
            target.mkdir(parents=True)
            doc = json.loads((stack / "cdk.tf.json").read_text())
            # checkov's terraform_json parser crashes on the scalar `terraform.required_version`
            # ("this method receives only dicts"); the terraform block holds no resource to scan.
            doc.pop("terraform", None)
            (target / "cdk.tf.json").write_text(json.dumps(doc))
    skips = ",".join(skip["id"] for skip in load_skips())
    reports = _checkov_reports(root, "terraform_json", "--skip-check", skips)
    scanned = {
        check["file_path"]
        for r in reports
        for kind in ("passed_checks", "failed_checks")
        for check in r.get("results", {}).get(kind, [])
    }
    for env in ENVIRONMENTS:
        for stack in stack_dirs(synthesized[env]):
            if f"/{env}/{stack.name}/cdk.tf.json" in scanned:
                record_gate("checkov", f"{env}/{stack.name}")
    return reports


def _checkov_reports(root: Path, framework: str, *options: str) -> list[dict]:
    """checkov's JSON reports over ROOT with one FRAMEWORK. Exit 1 only says some check failed, which the tests
    assert on; any other non-zero exit means checkov did not scan at all, so the gate fails here, with its stderr."""
    proc = subprocess.run(
        [_checkov(), "-d", str(root), "--framework", framework, "--skip-download", "-o", "json", *options],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    if proc.returncode not in (0, 1):
        pytest.fail(f"checkov did not run (exit {proc.returncode}): {proc.stderr[-2000:]}", pytrace=False)
    report = json.loads(proc.stdout)
    return report if isinstance(report, list) else [report]


def _checkov() -> str:
    checkov = shutil.which("checkov", path=str(Path(sys.executable).parent))
    if not checkov:
        pytest.fail("checkov is not installed in the project environment: run `make install`", pytrace=False)
    return checkov


@pytest.fixture(scope="session")
def checkov_kubernetes_report(synthesized, tmp_path_factory) -> list[dict]:
    """One checkov run (kubernetes framework) over the manifests of every EKS environment."""
    root = tmp_path_factory.mktemp("checkov-k8s")
    for env in EKS_ENVIRONMENTS:
        shutil.copytree(synthesized[env] / "k8s" / env, root / env)
    reports = _checkov_reports(root, "kubernetes")
    for r in reports:
        for check in r.get("results", {}).get("passed_checks", []):
            record_gate("checkov", f"{check['file_path'].strip('/').split('/')[0]}/k8s")
    return reports


def load_kubernetes_skips() -> list[dict]:
    return yaml.safe_load(SKIPS_FILE.read_text())["kubernetes"]


def test_checkov_finds_no_failed_check_in_the_kubernetes_manifests(checkov_kubernetes_report):
    skips = load_kubernetes_skips()
    failed = [check for r in checkov_kubernetes_report for check in r.get("results", {}).get("failed_checks", [])]
    unexplained = [
        f"{c['check_id']} {c['check_name']}: {c['resource']} in {c['file_path']}"
        for c in failed
        if not any(c["check_id"] == s["id"] and fnmatch.fnmatch(c["resource"], s["resource"]) for s in skips)
    ]
    unused = [
        s
        for s in skips
        if not any(c["check_id"] == s["id"] and fnmatch.fnmatch(c["resource"], s["resource"]) for c in failed)
    ]

    assert not unexplained, f"{len(unexplained)} failed checkov checks:\n" + "\n".join(sorted(set(unexplained)))
    assert not unused, f"accepted failures that no longer happen (remove them): {unused}"


def test_checkov_really_ran_kubernetes_checks(checkov_kubernetes_report):
    passed = sum(len(r.get("results", {}).get("passed_checks", [])) for r in checkov_kubernetes_report)
    assert passed > 100, f"checkov passed only {passed} checks on the manifests: did it parse them?"


def test_every_accepted_kubernetes_failure_names_a_resource_and_a_reason():
    for skip in load_kubernetes_skips():
        assert set(skip) == {"id", "resource", "reason"}, skip
        assert skip["id"].startswith(("CKV_K8S_", "CKV2_K8S_")), skip["id"]
        assert len(skip["reason"].split()) >= 5, f"{skip['id']}: give a real reason"


def _failed(reports: list[dict]) -> list[str]:
    failed = []
    for report in reports:
        for check in report.get("results", {}).get("failed_checks", []):
            failed.append(f"{check['check_id']} {check['check_name']}: {check['resource']} in {check['file_path']}")
    return failed


def test_checkov_finds_no_failed_check_in_any_environment(checkov_report):
    failed = _failed(checkov_report)
    assert not failed, f"{len(failed)} failed checkov checks:\n" + "\n".join(sorted(set(failed)))


def test_checkov_really_ran_checks(checkov_report):
    passed = sum(len(r.get("results", {}).get("passed_checks", [])) for r in checkov_report)
    assert passed > 50, f"checkov passed only {passed} checks: did it parse the synthesized JSON?"


def test_every_skip_is_listed_once_with_a_reason():
    skips = load_skips()
    ids = [skip["id"] for skip in skips]
    assert len(ids) == len(set(ids)), f"duplicate skips: {sorted({i for i in ids if ids.count(i) > 1})}"
    for skip in skips:
        assert set(skip) == {"id", "reason"}, f"{skip}: exactly id and reason"
        assert skip["id"].startswith(("CKV_", "CKV2_")), skip["id"]
        assert len(skip["reason"].split()) >= 5, f"{skip['id']}: give a real reason"
