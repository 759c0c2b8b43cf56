"""The provider's assembly loads on a thread while the config is read (modules/provider_load.py): the thread must
import nothing the calling thread could import at the same time, and a failed load must surface on the caller."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import PROJECT_ROOT

# What the thread itself may import once cdktf and modules.aws are loaded: the provider's jsii module.
THREAD_IMPORTS = {
    "cdktf_cdktf_provider_aws._jsii",
    "cdktf_cdktf_provider_aws._jsii._private",  # publication's copy of the module's private names
}
# What the calling thread imports before it starts the thread, besides cdktf.
CALLER_IMPORTS = {"modules.aws", "cdktf_cdktf_provider_aws"}

PROBE = """
import json, sys
sys.path.insert(0, ".")
import modules.provider_load as provider_load
started = set(sys.modules)
load = provider_load.ProviderLoad()  # imports cdktf on this thread, then starts the thread
with_cdktf = set(sys.modules)  # the thread may already have imported some of its modules: counted below
load.wait()
print(json.dumps({"thread": sorted(set(sys.modules) - started), "cdktf": "cdktf" in with_cdktf}))
"""


def test_the_loading_thread_imports_only_the_provider_so_the_two_threads_never_import_the_same_module():
    env = {**os.environ, "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20"}
    proc = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    probe = json.loads(proc.stdout.strip().splitlines()[-1])
    assert probe["cdktf"], "cdktf must be imported on the calling thread before the loading thread starts"
    cdktf_and_dependencies = set(probe["thread"]) - THREAD_IMPORTS - CALLER_IMPORTS
    # Everything else was imported by `import cdktf` on the calling thread: check by importing only cdktf.
    only_cdktf = subprocess.run(
        [
            sys.executable,
            "-c",
            "import json, sys; s = set(sys.modules); import cdktf; print(json.dumps(sorted(set(sys.modules) - s)))",
        ],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert only_cdktf.returncode == 0, only_cdktf.stderr[-2000:]
    assert cdktf_and_dependencies <= set(json.loads(only_cdktf.stdout)), (
        f"the loading thread imported {sorted(cdktf_and_dependencies - set(json.loads(only_cdktf.stdout)))}, "
        "which the calling thread could be importing at the same time: import them before the thread starts"
    )
    assert "cdktf_cdktf_provider_aws._jsii" in probe["thread"], "the assembly was not loaded"


def test_a_failed_load_is_raised_on_the_calling_thread(monkeypatch):
    import importlib

    from modules import provider_load

    real_import = importlib.import_module

    def import_module(name, *args):
        if name == "cdktf_cdktf_provider_aws._jsii":
            raise ImportError("cdktf_cdktf_provider_aws is not installed: run `make install`")
        return real_import(name, *args)

    monkeypatch.setattr(provider_load.importlib, "import_module", import_module)
    load = provider_load.ProviderLoad()
    with pytest.raises(ImportError, match="run `make install`"):
        load.wait()


RUN_PROBE = """
import json, sys, threading
sys.path.insert(0, ".")
import jsii._kernel.providers.process as process
import modules.provider_load as provider_load

started, waited, callers, later = threading.Event(), threading.Event(), [], []
send = process._NodeProcess.send
def recording_send(self, request, response_type):
    if started.is_set():
        (later if waited.is_set() else callers).append(threading.current_thread().name)
    return send(self, request, response_type)
process._NodeProcess.send = recording_send
init, wait = provider_load.ProviderLoad.__init__, provider_load.ProviderLoad.wait
def recording_init(self):
    init(self)
    started.set()
def recording_wait(self):
    wait(self)
    waited.set()
provider_load.ProviderLoad.__init__, provider_load.ProviderLoad.wait = recording_init, recording_wait

import main
from modules.synth_run import run
code = run(main.compose, main.STACK_MODULES)
print(json.dumps({"code": code, "callers": sorted(set(callers)), "requests": len(callers), "later": sorted(set(later)),
                  "prefetched": sorted(m for m in sys.modules if m.startswith("cdktf_cdktf_provider_aws."))}))
"""


@pytest.mark.parametrize("env", ["local", "local-eks"])
def test_while_the_provider_loads_only_its_thread_talks_to_the_jsii_process(tmp_path, env):
    """The config, the table and the preloaded stack modules are imported meanwhile: none may call jsii on import
    (two threads writing to the jsii process at once would corrupt its protocol). local-eks: cdk8s loads after.
    Then the thread imports provider modules while the stacks are built, and never calls jsii either."""
    env_vars = {
        **os.environ,
        "PIPELINE_ENV": env,
        "CDKTF_OUTDIR": str(tmp_path / "out"),
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
    }
    proc = subprocess.run(
        [sys.executable, "-c", RUN_PROBE], cwd=PROJECT_ROOT, env=env_vars, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    probe = json.loads(proc.stdout.strip().splitlines()[-1])
    assert probe["code"] == 0
    assert probe["callers"] == ["aws-provider-load"], probe
    assert probe["requests"] >= 1, "the load itself must have gone through the thread"
    # Afterwards the thread imports provider modules while the stacks are built: pure Python, never a jsii call.
    assert probe["later"] == ["MainThread"], probe["later"]
    assert "cdktf_cdktf_provider_aws.eks_cluster" in probe["prefetched"]  # named in modules/, used only on EKS


def test_every_stack_module_compose_imports_is_preloaded_except_eks():
    """main.STACK_MODULES must follow compose(): a stack module missing from it just loses the overlap, but the EKS
    one must never be in it (it loads cdk8s's assembly on import)."""
    import ast

    import main

    tree = ast.parse((PROJECT_ROOT / "main.py").read_text())
    compose = next(node for node in tree.body if isinstance(node, ast.FunctionDef) and node.name == "compose")
    imported = {
        node.module
        for node in ast.walk(compose)
        if isinstance(node, ast.ImportFrom) and node.module.startswith("modules.stacks.")
    }
    assert "modules.stacks.eks" in imported
    assert set(main.STACK_MODULES) == imported - {"modules.stacks.eks"}


def test_importing_the_stack_modules_loads_no_provider_module_so_it_never_waits_for_the_assembly():
    """A module-level `_doc = aws.data_aws_iam_policy_document` would import a provider module, which waits for the
    assembly: `make synth` would lose the overlap. Provider modules are looked up where they are used."""
    probe = (
        "import json, sys\n"
        "sys.path.insert(0, '.')\n"
        "import main, importlib\n"
        "for name in main.STACK_MODULES:\n"
        "    importlib.import_module(name)\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith('cdktf_cdktf_provider_aws.'))))\n"
    )
    proc = subprocess.run([sys.executable, "-c", probe], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads(proc.stdout) == []
