"""Record the AWS calls runtime code makes, through botocore's event system, as manifest entries.

Every call is attributed to the component whose code is on the call stack (`lambdas/<name>/handler.py` ->
`<name>`); calls made by the tests themselves (fixtures creating buckets, reading results) belong to no
component and are ignored. Concrete values become symbols the gate resolves per environment: the value of a
contract environment variable (lambdas/contract.py) becomes `${NAME}`, a job id `${JOB_ID}`.
"""

from __future__ import annotations

import os
import re
import sys
import threading
from collections.abc import Iterable
from typing import Any

from tools.access_check.components import JOB_ID_SYMBOL, Call, Manifest

# Parameters that name what a call touches (or change which key encrypts it); the rest is payload.
RESOURCE_PARAMS = frozenset({"Bucket", "Key", "Prefix", "SSEKMSKeyId", "ServerSideEncryption"})
RESOURCE_SUFFIXES = ("Arn", "Url", "Name")
# Module of a component's entry point -> component name. Add a pattern when a new runtime entry point appears.
COMPONENT_MODULES = (
    (re.compile(r"^lambdas\.(?P<name>[a-z0-9_]+)\.handler$"), "{name}"),
    (re.compile(r"^containers\.inference\.server(\.|$)"), "inference-service"),
    (re.compile(r"^containers\.inference\.queue_worker(\.|$)"), "queue-worker"),
)
# Modules whose calls depend on the value of a contract variable: a call made with one of them on the stack is
# recorded with that variable's value (Call.when), and the gate evaluates it only for deployments that have it.
CONDITIONAL_MODULES = {"lambdas.model_client": ("MODEL_BACKEND",)}
RECORD_VARIABLE = "ACCESS_CHECK_RECORD"
# The test folders whose tests run component code (each conftest imports the fixtures of pytest_plugin.py), and
# the command that rewrites the manifests from all of them.
RECORDING_FOLDERS = ("tests/lambdas", "tests/containers/queue_worker")
RECORD_COMMAND = f"{RECORD_VARIABLE}=1 .venv/bin/python -m pytest {' '.join(RECORDING_FOLDERS)}"
RECORDED_NOTE = f"Recorded by the botocore hooks of {' and '.join(RECORDING_FOLDERS)}; rewrite with {RECORD_COMMAND}, " \
                "never by hand."
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_PARAMS_KEY = "access_check_params"


def contract_variables() -> tuple[str, ...]:
    """The environment-variable names of the infrastructure/code contract (their constants equal their names)."""
    from lambdas import contract

    return tuple(sorted(name for name, value in vars(contract).items() if name.isupper() and value == name))


def component_of(frames: Iterable[str]) -> str | None:
    for module in frames:
        for pattern, template in COMPONENT_MODULES:
            match = pattern.match(module)
            if match:
                return template.format(**match.groupdict()).replace("_", "-")
    return None


def symbolize(value: str, environment: dict[str, str], variables: Iterable[str]) -> str:
    """A concrete parameter value in the manifest's terms: a whole contract value -> `${NAME}`, a UUID -> `${JOB_ID}`."""
    for name in variables:
        if environment.get(name) and value == environment[name]:
            return f"${{{name}}}"
    return _UUID.sub(f"${{{JOB_ID_SYMBOL}}}", value)


class CallRecorder:
    """Collects `Call`s per component from every botocore client created after `install`."""

    def __init__(self) -> None:
        self.variables = contract_variables()
        self.calls: dict[str, set[Call]] = {}
        self._since_mark: dict[str, set[Call]] = {}
        self._lock = threading.Lock()
        self.paused = False  # set while a test simulates a misconfigured AWS: its calls prove nothing

    def install(self, session: Any) -> None:
        """Register on a boto3 session: its clients copy the handlers when they are created."""
        session.events.register("before-parameter-build", self._keep_params, unique_id="access-check-params")
        session.events.register("after-call", self._record, unique_id="access-check-record")

    def mark(self) -> None:
        with self._lock:
            self._since_mark = {}

    def since_mark(self) -> dict[str, set[Call]]:
        with self._lock:
            return {component: set(calls) for component, calls in self._since_mark.items()}

    def _keep_params(self, params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context[_PARAMS_KEY] = dict(params)

    def _record(self, http_response: Any, parsed: dict[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
        modules = _calling_modules()
        component = None if self.paused else component_of(modules)
        if component is None:
            return
        environment = dict(os.environ)
        when = {name: environment.get(name, "") for module, names in CONDITIONAL_MODULES.items() if module in modules
                for name in names}
        params = {key: symbolize(str(value), environment, self.variables)
                  for key, value in context.get(_PARAMS_KEY, {}).items()
                  if isinstance(value, str) and (key in RESOURCE_PARAMS or key.endswith(RESOURCE_SUFFIXES))}
        status = str(getattr(http_response, "status_code", "") or parsed.get("ResponseMetadata", {}).get("HTTPStatusCode", ""))
        call = Call(f"{model.service_model.service_id.hyphenize()}:{model.name}", params, (status,) if status else (),
                    when)
        with self._lock:
            self.calls.setdefault(component, set()).add(call)
            self._since_mark.setdefault(component, set()).add(call)


def _calling_modules() -> list[str]:
    frame = sys._getframe(1)
    modules = []
    while frame is not None:
        modules.append(frame.f_globals.get("__name__", ""))
        frame = frame.f_back
    return modules


def _key(call: Call) -> tuple[Any, ...]:
    return call.call, tuple(sorted(call.params.items())), tuple(sorted(call.when.items()))


def merged(calls: set[Call]) -> list[Call]:
    """One entry per call, parameters and condition, with every outcome seen (a HeadObject that found 200 and 404)."""
    outcomes: dict[tuple[Any, ...], set[str]] = {}
    first: dict[tuple[Any, ...], Call] = {}
    for call in calls:
        outcomes.setdefault(_key(call), set()).update(call.outcomes)
        first.setdefault(_key(call), call)
    return sorted((Call(call.call, call.params, tuple(sorted(outcomes[key])), call.when) for key, call in first.items()),
                  key=lambda call: call.signature)


def missing_from(manifest: Manifest | None, calls: set[Call]) -> list[Call]:
    """Recorded calls (or outcomes) that the manifest does not list."""
    listed: dict[tuple[Any, ...], set[str]] = {}
    for call in manifest.calls if manifest else ():
        listed.setdefault(_key(call), set()).update(call.outcomes)
    missing = []
    for call in merged(calls):
        known = listed.get(_key(call))
        if known is None or not set(call.outcomes) <= known:
            missing.append(call)
    return missing


def updated_manifest(existing: Manifest | None, component: str, calls: set[Call]) -> Manifest:
    """The manifest rewritten with exactly the recorded calls (a new component runs as a Lambda handler)."""
    runs_as = existing.runs_as if existing else {"lambda_handler": f"lambdas.{component.replace('-', '_')}.handler.handler"}
    return Manifest(component, runs_as, tuple(merged(calls)), True, RECORDED_NOTE)
