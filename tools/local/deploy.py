"""Synthesize an environment against the emulator and apply/destroy every stack in dependency order.

Why a separate output folder: `cdktf.out/` is the reviewed synth (no emulator URL, real backends); the emulator
synth points every provider endpoint at loopback and keeps state under `state/emulator/<env>-<port>/`, so the two
never mix. The stacks and their dependencies come from the synthesized manifest, so a new stack in main.py is
deployed without touching this file.

Two engines apply the same synthesized folder:
- `cdktf` (default): `cdktf deploy/destroy '*' --skip-synth` from node_modules, with the project's offline
  Terraform CLI configuration; cdktf orders the stacks and runs independent ones concurrently.
- `terraform`: `terraform init` per stack, then `terraform apply/destroy` level by level (stacks of one
  dependency level concurrently). Same result, per-stack timings and logs; the fallback when the cdktf CLI or
  Node is unavailable.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tools.terraform_cli import BUILD_DIR, PROJECT_ROOT, TerraformToolchain

DEFAULT_OUTDIR = BUILD_DIR / "cdktf.out.local-emulator"
LOG_DIR = BUILD_DIR / "local-deploy"
CDKTF_BIN = PROJECT_ROOT / "node_modules" / ".bin" / "cdktf"
TERRAFORM_PARALLELISM = 20
APPLY_TIMEOUT_SECONDS = 900
ENGINES = ("cdktf", "terraform")
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


def synthesize(url: str, outdir: Path, environment: str | None = None) -> Synthesized:
    """`python main.py` with PIPELINE_EMULATOR_URL set, into OUTDIR (a child process: jsii stays out of ours)."""
    started = time.monotonic()
    env = emulator_environment(url, environment)
    env["CDKTF_OUTDIR"] = str(outdir)
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

    def _terraform(self, args: list[str], stack: StackInfo, log: Path) -> None:
        with log.open("a") as out:
            out.write(f"$ terraform {' '.join(args)}\n")
            out.flush()
            proc = subprocess.run([str(self.toolchain.binary), *args], cwd=stack.directory,
                                  env=self.toolchain.env(self.env), stdout=out, stderr=subprocess.STDOUT,
                                  text=True, check=False, timeout=APPLY_TIMEOUT_SECONDS)
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

    def _run_levels(self, synth: Synthesized, levels: list[list[str]], action: str, args: list[str]) -> EngineResult:
        started = time.monotonic()
        result = EngineResult(seconds=0.0)
        for level in levels:
            def run(name: str) -> StackRun:
                log = _log_path(action, name)
                log.write_text("")
                began = time.monotonic()
                self._terraform(args, synth.stacks[name], log)
                run = StackRun(stack=name, seconds=time.monotonic() - began, log=log)
                self.say(f"  {name}: {action} done in {run.seconds:.1f} s")
                return run
            with ThreadPoolExecutor(max_workers=len(level)) as pool:
                futures = [pool.submit(run, name) for name in level]
                errors = []
                for future in futures:
                    try:
                        result.runs.append(future.result())
                    except DeployError as exc:
                        errors.append(str(exc))
                if errors:
                    raise DeployError("\n".join(errors))
        result.seconds = time.monotonic() - started
        return result

    def deploy(self, synth: Synthesized) -> EngineResult:
        self.init(synth)
        return self._run_levels(synth, synth.levels, "apply",
                                ["apply", "-auto-approve", "-input=false", "-no-color",
                                 f"-parallelism={TERRAFORM_PARALLELISM}"])

    def destroy(self, synth: Synthesized) -> EngineResult:
        self.init(synth)
        # -refresh=false: the emulator has no one else changing things, and reading every resource back first
        # costs more than the deletes on a loaded machine.
        return self._run_levels(synth, list(reversed(synth.levels)), "destroy",
                                ["destroy", "-auto-approve", "-input=false", "-no-color", "-refresh=false",
                                 f"-parallelism={TERRAFORM_PARALLELISM}"])


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


def remove_state(synth: Synthesized) -> None:
    """Forget the emulator state of this synth (its folder under state/emulator/), after a destroy."""
    folders = {path.parent for path in synth.state_files()}
    for folder in folders:
        shutil.rmtree(folder, ignore_errors=True)
