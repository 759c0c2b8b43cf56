"""Synthesize an environment against the emulator and apply/destroy every stack in dependency order.

Why a separate output folder: `cdktf.out/` is the reviewed synth (no emulator URL, real backends); the emulator
synth points every provider endpoint at loopback and keeps state under `state/emulator/<env>-<port>/`, so the two
never mix. The stacks and their dependencies come from the synthesized manifest, so a new stack in main.py is
deployed without touching this file.

Two engines apply the same synthesized folder:
- `cdktf` (default of deploy/destroy): `cdktf deploy/destroy '*' --skip-synth` from node_modules, with the
  project's offline Terraform CLI configuration; cdktf orders the stacks and runs independent ones concurrently.
- `terraform` (default of e2e): `terraform init` per stack, then `terraform apply/destroy` per stack, each stack
  as soon as the stacks it waits for are done, the most awaited first, at most one stack per CPU in Terraform's
  CPU-bound start at a time, each stack's commands sharing one provider process; destroy with -refresh=false.
  Same result, per-stack timings and timestamped logs, and no Node: the fallback when the cdktf CLI is missing.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tools.terraform_cli import BUILD_DIR, PROJECT_ROOT, TerraformToolchain, shared_provider

DEFAULT_OUTDIR = BUILD_DIR / "cdktf.out.local-emulator"
LOG_DIR = BUILD_DIR / "local-deploy"
CDKTF_BIN = PROJECT_ROOT / "node_modules" / ".bin" / "cdktf"
TERRAFORM_PARALLELISM = 20
APPLY_TIMEOUT_SECONDS = 900
ENGINES = ("cdktf", "terraform")
PLAN_FILE = "plan.tfplan"
# Terraform has finished planning and waits on AWS (or the emulator) from here on.
_WORK_STARTED = re.compile(r": (Creating|Destroying|Modifying)\.\.\.|No changes\.|complete!")
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][A-Za-z0-9]|\r")

Say = Callable[[str], None]


class DeployError(RuntimeError):
    """A step of the local deploy failed; the message says which and where the full log is."""


@dataclass(frozen=True)
class StackInfo:
    """One synthesized stack: where Terraform runs and which stacks must be applied first."""

    name: str
    directory: Path
    dependencies: tuple[str, ...]


@dataclass
class Synthesized:
    """An emulator synth: its folder, its stacks in dependency levels, and where their state lives."""

    outdir: Path
    stacks: dict[str, StackInfo]
    levels: list[list[str]]
    seconds: float

    def state_files(self) -> list[Path]:
        paths = []
        for stack in self.stacks.values():
            doc = json.loads((stack.directory / "cdk.tf.json").read_text())
            local = doc["terraform"]["backend"]["local"]
            paths.append((stack.directory / local["path"]).resolve())
        return paths


@dataclass
class StackRun:
    """What one engine step did to one stack."""

    stack: str
    seconds: float
    log: Path


@dataclass
class EngineResult:
    seconds: float
    runs: list[StackRun] = field(default_factory=list)


def emulator_environment(url: str, environment: str | None = None) -> dict[str, str]:
    """Environment of every child process: synth against URL; never real AWS credentials or profiles."""
    env = {key: value for key, value in os.environ.items()
           if key not in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN")}
    env.update(PIPELINE_EMULATOR_URL=url, AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test",
               JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=env.get("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20"))
    if environment:
        env["PIPELINE_ENV"] = environment
    return env


def synthesize(url: str, outdir: Path, environment: str | None = None, config_path: Path | None = None) -> Synthesized:
    """`python main.py` with PIPELINE_EMULATOR_URL set, into OUTDIR (a child process: jsii stays out of ours);
    CONFIG_PATH (PIPELINE_CONFIG) instead of the environment's own file, e.g. an edited copy."""
    started = time.monotonic()
    env = emulator_environment(url, environment)
    env["CDKTF_OUTDIR"] = str(outdir)
    if config_path is not None:
        env["PIPELINE_CONFIG"] = str(config_path)
    proc = subprocess.run([sys.executable, str(PROJECT_ROOT / "main.py")], cwd=PROJECT_ROOT, env=env,
                          capture_output=True, text=True, check=False, timeout=600)
    if proc.returncode != 0:
        raise DeployError(f"synth against the emulator failed (exit {proc.returncode}):\n"
                          f"{(proc.stderr or proc.stdout).strip()[-4000:]}")
    stacks = read_stacks(outdir)
    return Synthesized(outdir=outdir, stacks=stacks, levels=dependency_levels(stacks),
                       seconds=time.monotonic() - started)


def read_stacks(outdir: Path) -> dict[str, StackInfo]:
    """Every stack of the manifest with its working directory and dependencies."""
    manifest = json.loads((outdir / "manifest.json").read_text())
    return {name: StackInfo(name=name, directory=outdir / entry["workingDirectory"],
                            dependencies=tuple(entry.get("dependencies", [])))
            for name, entry in manifest["stacks"].items()}


def dependency_levels(stacks: dict[str, StackInfo]) -> list[list[str]]:
    """Stacks grouped so that each group depends only on earlier groups (Kahn's algorithm, names sorted)."""
    unknown = sorted({dep for s in stacks.values() for dep in s.dependencies if dep not in stacks})
    if unknown:
        raise DeployError(f"manifest names dependencies that are not stacks: {', '.join(unknown)}")
    done: set[str] = set()
    levels = []
    while len(done) < len(stacks):
        level = sorted(name for name, s in stacks.items()
                       if name not in done and all(dep in done for dep in s.dependencies))
        if not level:
            raise DeployError(f"dependency cycle among stacks: {', '.join(sorted(set(stacks) - done))}")
        levels.append(level)
        done.update(level)
    return levels


def _priorities(synth: Synthesized, waits_for: dict[str, set[str]]) -> dict[str, tuple[int, int]]:
    """Start order among ready stacks: the ones most stacks (transitively) wait for first, then the bigger ones."""
    blocked: dict[str, set[str]] = {name: set() for name in waits_for}
    for name, prerequisites in waits_for.items():
        for prerequisite in prerequisites:
            blocked[prerequisite].add(name)

    def downstream(name: str, seen: set[str]) -> set[str]:
        for other in blocked[name] - seen:
            seen.add(other)
            downstream(other, seen)
        return seen

    def size(name: str) -> int:
        doc = json.loads((synth.stacks[name].directory / "cdk.tf.json").read_text())
        return sum(len(items) for items in doc.get("resource", {}).values())

    return {name: (len(downstream(name, set())), size(name)) for name in waits_for}


def _log_path(action: str, stack: str | None = None) -> Path:
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    return LOG_DIR / (f"{stack}.{action}.log" if stack else f"{action}.log")


def _tail(path: Path, lines: int = 40) -> str:
    try:
        text = _ANSI.sub("", path.read_text(errors="replace"))
    except OSError:
        return ""
    kept = [line for line in text.splitlines() if line.strip() and "Still " not in line]
    return "\n".join(kept[-lines:])


class TerraformEngine:
    """`terraform init` + `apply`/`destroy` per stack, one dependency level at a time."""

    name = "terraform"

    def __init__(self, toolchain: TerraformToolchain, env: dict[str, str], say: Say) -> None:
        self.toolchain, self.env, self.say = toolchain, env, say

    def _terraform(self, args: list[str], stack: StackInfo, log: Path, extra_env: dict[str, str] | None = None,
                   started: Callable[[], None] | None = None) -> None:
        """Run `terraform ARGS` in STACK's folder; every line of its output goes to LOG with the seconds since
        the command started, so the log shows where the time went (provider start, plan, each resource).
        STARTED is called once Terraform's CPU-heavy start (schemas, plan) is over: at its first change to a
        resource, or at its end."""
        began = time.monotonic()
        with log.open("a") as out:
            out.write(f"$ terraform {' '.join(args)}\n")
            out.flush()
            proc = subprocess.Popen([str(self.toolchain.binary), *args], cwd=stack.directory,
                                    env=self.toolchain.env({**self.env, **(extra_env or {})}), stdout=subprocess.PIPE,
                                    stderr=subprocess.STDOUT, text=True, errors="replace")
            assert proc.stdout is not None
            for line in proc.stdout:
                out.write(f"[{time.monotonic() - began:6.1f}s] {line}")
                if started is not None and _WORK_STARTED.search(line):
                    started()
                    started = None
            if started is not None:
                started()
            try:
                proc.wait(timeout=max(1.0, APPLY_TIMEOUT_SECONDS - (time.monotonic() - began)))
            except subprocess.TimeoutExpired:
                proc.kill()
                raise DeployError(f"{stack.name}: terraform {args[0]} timed out (log: {log})") from None
        if proc.returncode != 0:
            raise DeployError(f"{stack.name}: terraform {args[0]} failed (log: {log}):\n{_tail(log)}")

    def init(self, synth: Synthesized) -> None:
        # One after the other: concurrent installs into the shared plugin cache can race.
        for name in [n for level in synth.levels for n in level]:
            stack = synth.stacks[name]
            if (stack.directory / ".terraform" / "terraform.tfstate").is_file() and \
                    (stack.directory / ".terraform.lock.hcl").is_file():
                continue
            self._terraform(["init", "-input=false", "-no-color"], stack, _log_path("init", name))

    def _run_graph(self, synth: Synthesized, action: str, args: list[str], *, reverse: bool = False) -> EngineResult:
        """Run ARGS in every stack, each as soon as the stacks it waits for are done: its dependencies (apply),
        or the stacks that depend on it (destroy, REVERSE). Not level by level: a slow stack holds back only
        the stacks that need it. Each stack's commands share one provider process (see shared_provider)."""
        waits_for = {name: set(stack.dependencies) for name, stack in synth.stacks.items()}
        if reverse:
            waits_for = {name: {other for other, deps in waits_for.items() if name in deps} for name in waits_for}
        priority = _priorities(synth, waits_for)
        # Terraform's start (provider schema, plan) is CPU-bound: on apply, let at most one stack per CPU start at
        # once, the most awaited first, instead of all ready stacks slowing each other down on a small machine.
        # Not on destroy (-refresh=false, little to plan): measured slower there, the slots held back messaging.
        start_slots = threading.BoundedSemaphore(len(synth.stacks) if reverse else max(1, os.cpu_count() or 1))
        started = time.monotonic()
        result = EngineResult(seconds=0.0)

        def run(name: str) -> StackRun:
            log = _log_path(action, name)
            log.write_text("")
            stack = synth.stacks[name]
            began = time.monotonic()
            slot = [True]

            def release_slot() -> None:
                if slot and slot.pop():
                    start_slots.release()
            try:
                with shared_provider(stack.directory, self.toolchain.env(self.env)) as reattach:
                    self._terraform(args, stack, log, reattach, started=release_slot)
            finally:
                release_slot()
            run = StackRun(stack=name, seconds=time.monotonic() - began, log=log)
            self.say(f"  {name}: {action} done in {run.seconds:.1f} s (at {time.monotonic() - started:.1f} s)")
            return run

        done: set[str] = set()
        errors: list[str] = []
        with ThreadPoolExecutor(max_workers=len(synth.stacks)) as pool:
            running: dict[Future[StackRun], str] = {}
            pending = set(synth.stacks)
            while pending or running:
                ready = [] if errors else sorted((name for name in pending if waits_for[name] <= done),
                                                 key=lambda name: (-priority[name][0], -priority[name][1], name))
                for name in ready:
                    # Wait for a start slot, but never longer than the next stack to finish (it may free others).
                    if running and not start_slots.acquire(timeout=0.5):
                        break
                    if not running:
                        start_slots.acquire()
                    pending.discard(name)
                    running[pool.submit(run, name)] = name
                if not running:
                    break  # an error stopped scheduling: what is left waits on a failed stack
                finished, _ = wait(running, timeout=0.5, return_when=FIRST_COMPLETED)
                for future in finished:
                    name = running.pop(future)
                    try:
                        result.runs.append(future.result())
                        done.add(name)
                    except DeployError as exc:
                        errors.append(str(exc))
        if errors:
            raise DeployError("\n".join(errors))
        result.seconds = time.monotonic() - started
        return result

    def deploy(self, synth: Synthesized) -> EngineResult:
        self.init(synth)
        return self._run_graph(synth, "apply",
                               ["apply", "-auto-approve", "-input=false", "-no-color",
                                f"-parallelism={TERRAFORM_PARALLELISM}"])

    def plan(self, synth: Synthesized, stacks: list[str] | None = None) -> dict[str, Path]:
        """`terraform plan -out` and `show -json` in every stack (or STACKS; no order needed: a plan changes
        nothing), at most one stack per CPU at once; returns stack -> plan JSON (the saved plan beside it)."""
        self.init(synth)

        def run(name: str) -> Path:
            stack, log = synth.stacks[name], _log_path("plan", name)
            log.write_text("")
            with shared_provider(stack.directory, self.toolchain.env(self.env)) as reattach:
                self._terraform(["plan", "-input=false", "-no-color", "-lock=false", f"-out={PLAN_FILE}"], stack, log,
                                reattach)
                shown = self.toolchain.run(["show", "-json", PLAN_FILE], cwd=stack.directory,
                                           env={**self.env, **reattach})
            path = stack.directory / "plan.json"
            path.write_text(shown.stdout)
            return path

        with ThreadPoolExecutor(max_workers=max(1, os.cpu_count() or 1)) as pool:
            futures = {name: pool.submit(run, name) for name in (stacks or synth.stacks)}
            return {name: future.result() for name, future in futures.items()}

    def apply_plans(self, synth: Synthesized, stacks: list[str]) -> EngineResult:
        """Apply the saved plans (PLAN_FILE) of STACKS in dependency order: exactly what was planned and checked."""
        started = time.monotonic()
        for name in [n for level in synth.levels for n in level if n in stacks]:
            stack = synth.stacks[name]
            with shared_provider(stack.directory, self.toolchain.env(self.env)) as reattach:
                self._terraform(["apply", "-input=false", "-no-color", PLAN_FILE], stack, _log_path("apply-plan", name),
                                reattach)
        return EngineResult(seconds=time.monotonic() - started)

    def destroy(self, synth: Synthesized) -> EngineResult:
        self.init(synth)
        # -refresh=false: the emulator has no one else changing things, and reading every resource back first
        # costs more than the deletes on a loaded machine.
        return self._run_graph(synth, "destroy",
                               ["destroy", "-auto-approve", "-input=false", "-no-color", "-refresh=false",
                                f"-parallelism={TERRAFORM_PARALLELISM}"], reverse=True)


class CdktfEngine:
    """`cdktf deploy|destroy '*' --skip-synth` on the emulator synth (cdktf orders and parallelises stacks)."""

    name = "cdktf"

    def __init__(self, toolchain: TerraformToolchain, env: dict[str, str], say: Say) -> None:
        if not CDKTF_BIN.is_file():
            raise DeployError(f"cdktf CLI not found at {CDKTF_BIN.relative_to(PROJECT_ROOT)}: run `make install` "
                              "(or use --engine terraform)")
        self.toolchain, self.say = toolchain, say
        self.env = toolchain.env(env)
        # cdktf runs `terraform` itself: the same binary and offline CLI configuration as the other engine.
        self.env.update(TERRAFORM_BINARY_NAME=str(toolchain.binary), CI="1", FORCE_COLOR="0")

    def _cdktf(self, action: str, synth: Synthesized) -> EngineResult:
        log = _log_path(action)
        command = [str(CDKTF_BIN), action, "*", "--skip-synth", "--skip-provider-lock", "--auto-approve",
                   "--app", f"{sys.executable} main.py", "--output", str(synth.outdir),
                   "--terraform-parallelism", str(TERRAFORM_PARALLELISM), "--no-color"]
        started = time.monotonic()
        finished: set[str] = set()
        done_marker = "Apply complete!" if action == "deploy" else "Destroy complete!"
        with log.open("w") as out:
            out.write(f"$ {' '.join(command)}\n")
            proc = subprocess.Popen(command, cwd=PROJECT_ROOT, env=self.env, stdout=subprocess.PIPE,
                                    stderr=subprocess.STDOUT, text=True, errors="replace")
            assert proc.stdout is not None
            for raw in proc.stdout:
                out.write(raw)
                line = _ANSI.sub("", raw).strip()
                stack, _, rest = line.partition(" ")
                if stack in synth.stacks and done_marker in rest and stack not in finished:
                    finished.add(stack)
                    self.say(f"  {stack}: {action} done at {time.monotonic() - started:.1f} s")
            try:
                proc.wait(timeout=APPLY_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                proc.kill()
                raise DeployError(f"cdktf {action} timed out after {APPLY_TIMEOUT_SECONDS} s (log: {log})") from None
        if proc.returncode != 0:
            raise DeployError(f"cdktf {action} failed with exit {proc.returncode} (log: {log}):\n{_tail(log)}")
        return EngineResult(seconds=time.monotonic() - started)

    def deploy(self, synth: Synthesized) -> EngineResult:
        return self._cdktf("deploy", synth)

    def destroy(self, synth: Synthesized) -> EngineResult:
        return self._cdktf("destroy", synth)


def make_engine(name: str, toolchain: TerraformToolchain, env: dict[str, str], say: Say) -> TerraformEngine | CdktfEngine:
    if name == "cdktf":
        return CdktfEngine(toolchain, env, say)
    if name == "terraform":
        return TerraformEngine(toolchain, env, say)
    raise DeployError(f"unknown engine {name!r}; allowed: {', '.join(ENGINES)}")


def stack_outputs(toolchain: TerraformToolchain, synth: Synthesized, env: dict[str, str]) -> dict[str, dict[str, Any]]:
    """stack -> output name -> value, read from each stack's state (`terraform output -json`)."""
    outputs: dict[str, dict[str, Any]] = {}
    for name in [n for level in synth.levels for n in level]:
        proc = toolchain.run(["output", "-json", "-no-color"], cwd=synth.stacks[name].directory, check=False, env=env)
        if proc.returncode != 0:
            raise DeployError(f"{name}: terraform output failed:\n{proc.stderr.strip()}")
        outputs[name] = {key: item.get("value") for key, item in json.loads(proc.stdout or "{}").items()}
    return outputs


def reuse_initialised(source: Synthesized, target: Synthesized) -> None:
    """Copy each stack's `terraform init` result from SOURCE to TARGET (another synth of the same stacks at the same
    depth, so the same backend paths and providers): TARGET's stacks need no init of their own."""
    for name, stack in target.stacks.items():
        origin = source.stacks.get(name)
        if origin is None:
            continue
        for item in (".terraform", ".terraform.lock.hcl"):
            if (origin.directory / item).is_dir():
                shutil.copytree(origin.directory / item, stack.directory / item, symlinks=True, dirs_exist_ok=True)
            elif (origin.directory / item).is_file():
                shutil.copy2(origin.directory / item, stack.directory / item)


def remove_state(synth: Synthesized) -> None:
    """Forget the emulator state of this synth (its folder under state/emulator/), after a destroy."""
    folders = {path.parent for path in synth.state_files()}
    for folder in folders:
        shutil.rmtree(folder, ignore_errors=True)
