"""Pytest fixtures that keep the call manifests true to the code (import them into a tests folder's conftest).

Every test that runs component code has its AWS calls recorded (recorder.py); a call or outcome that the
component's manifest lacks fails that test, so a manifest cannot drift from the code.

To rewrite the manifests after an intended change, run the recording folders with ACCESS_CHECK_RECORD=1:
    ACCESS_CHECK_RECORD=1 .venv/bin/python -m pytest tests/lambdas tests/containers/queue_worker
They are rewritten only after a complete, green run of every test file of those folders (a partial run would
drop calls); review the diff, then run `make access-check`.
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from tools.access_check.components import MANIFESTS_DIR, load_manifests
from tools.access_check.recorder import (
    RECORD_COMMAND,
    RECORD_VARIABLE,
    RECORDING_FOLDERS,
    CallRecorder,
    missing_from,
    updated_manifest,
)

# Modules that cache boto3 clients: clients made before the recorder's hooks were installed would not report.
CLIENT_CACHING_MODULES = ("lambdas.aws_clients", "lambdas.model_client", "containers.inference.queue_worker.consumer")


def recording() -> bool:
    return os.environ.get(RECORD_VARIABLE, "") not in ("", "0", "false")


@pytest.fixture(scope="session")
def aws_call_recorder(request: pytest.FixtureRequest) -> Iterator[CallRecorder]:
    recorder = CallRecorder()
    recorder.install(boto3._get_default_session())
    _forget_cached_clients()  # clients made before the hook would not report their calls
    yield recorder
    if recording():
        _write_manifests(request, recorder)


# A test that makes AWS answer as a broken grant would (a 403 on purpose) carries this marker: what the code calls
# there is no evidence of what it needs, so nothing of it reaches or is checked against the manifests.
SIMULATED_DENIAL = "simulated_denial"


@pytest.fixture(autouse=True)
def record_aws_calls(request: pytest.FixtureRequest, aws_call_recorder: CallRecorder) -> Iterator[None]:
    aws_call_recorder.mark()
    aws_call_recorder.paused = request.node.get_closest_marker(SIMULATED_DENIAL) is not None
    try:
        yield
    finally:
        paused, aws_call_recorder.paused = aws_call_recorder.paused, False
    if recording() or paused:
        return
    manifests = {manifest.component: manifest for manifest in load_manifests()}
    problems = []
    for component, calls in sorted(aws_call_recorder.since_mark().items()):
        for call in missing_from(manifests.get(component), calls):
            problems.append(f"{component} made {call.describe()}, which tools/access_check/manifests/{component}.json "
                            f"lacks")
    if problems:
        pytest.fail("\n".join([*problems, f"if the change is intended, re-record: {RECORD_COMMAND} (then review the "
                                          "diff)"]), pytrace=False)


def _forget_cached_clients() -> None:
    import importlib

    for name in CLIENT_CACHING_MODULES:
        module = importlib.import_module(name)
        for value in vars(module).values():
            if callable(getattr(value, "cache_clear", None)):
                value.cache_clear()


def _write_manifests(request: pytest.FixtureRequest, recorder: CallRecorder) -> None:
    session = request.session
    root = Path(str(request.config.rootpath))
    ran = {Path(str(item.path)) for item in session.items}
    partial = [str(path.relative_to(root)) for folder in RECORDING_FOLDERS
               for path in sorted((root / folder).glob("test_*.py")) if path not in ran]
    parallel = bool(os.environ.get("PYTEST_XDIST_WORKER"))  # each worker sees only its share of the calls
    if parallel or session.testsfailed or partial or request.config.option.keyword or request.config.option.markexpr:
        reason = ("run without -n" if parallel else f"{session.testsfailed} failed" if session.testsfailed
                  else f"not run: {', '.join(partial) or '-k/-m'}")
        # Shown in pytest's warnings summary (output of a session teardown is captured).
        warnings.warn(f"access_check: manifests NOT rewritten ({reason}); run all of {' '.join(RECORDING_FOLDERS)}, "
                      "green", stacklevel=1)
        return
    existing = {manifest.component: manifest for manifest in load_manifests()}
    for component, calls in sorted(recorder.calls.items()):
        if component in existing and not existing[component].recorded:
            continue
        manifest = updated_manifest(existing.get(component), component, calls)
        path = MANIFESTS_DIR / f"{component}.json"
        path.write_text(json.dumps(manifest.as_json(), indent=2) + "\n", encoding="utf-8")
        warnings.warn(f"access_check: rewrote {path.name} ({len(manifest.calls)} calls); review the diff",
                      stacklevel=1)

