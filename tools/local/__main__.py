"""`python -m tools.local deploy | destroy | outputs | e2e`: the local loop on a moto emulator.

deploy   reuse the running emulator (MOTO_ENDPOINT or `.build/emulator.json`) or start one in the background,
         synthesize PIPELINE_ENV (default local) against it into .build/cdktf.out.local-emulator/, apply every
         stack in dependency order, print the outputs and the times.
destroy  destroy every stack in reverse order, forget its emulator state, stop the emulator if deploy started it.
outputs  print the outputs of the current local deployment again.
e2e      on a private emulator: deploy, smoke-test through the deployed resources (a job, a poison message and a
         duplicate delivery through each consumer path, and a batch where the batch stack is deployed), release a
         second model version (package, upload, plan check, apply, verify, a simulated silent rollback caught), push
         a job through the released model, destroy; exit 0 only if every step passed.
stress   e2e RUNS times in a row (default 3) while a CPU hog spins on every core, as on a busy CI machine; prints
         the pass count and each run's times; exit 0 only if every run passed.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from modules.cross_stack_outputs import CROSS_STACK_OUTPUT_PREFIX
from tools.local.deploy import (
    DEFAULT_OUTDIR,
    ENGINES,
    DeployError,
    Synthesized,
    dependency_levels,
    emulator_environment,
    make_engine,
    read_stacks,
    remove_state,
    stack_outputs,
    synthesize,
)
from tools.terraform_cli import BUILD_DIR, PROJECT_ROOT, TerraformNotFound, toolchain

SESSION_FILE = BUILD_DIR / "local-deploy.json"
E2E_OUTDIR = BUILD_DIR / "cdktf.out.local-e2e"
EXIT_FAILED = 1


def _console():
    from rich.console import Console

    return Console(width=int(os.environ.get("COLUMNS", "140")), highlight=False)


def say(message: str) -> None:
    print(message, flush=True)


def _config():
    from modules.config import config_path_from_env, load_config

    return load_config(config_path_from_env())


def print_outputs(outputs: dict[str, dict[str, Any]], title: str) -> None:
    from rich.table import Table

    table = Table(title=title)
    for column in ("stack", "output", "value"):
        table.add_column(column, overflow="fold")
    for stack, values in outputs.items():
        for name, value in sorted(values.items()):
            if name.startswith(CROSS_STACK_OUTPUT_PREFIX):  # cdktf's plumbing between stacks, not for people
                continue
            shown = value if isinstance(value, str) else json.dumps(value)
            table.add_row(stack, name, shown)
    _console().print(table)


def print_times(times: dict[str, float]) -> None:
    from rich.table import Table

    table = Table(title="times")
    table.add_column("phase")
    table.add_column("seconds", justify="right")
    for phase, seconds in times.items():
        table.add_row(phase, f"{seconds:.1f}")
    _console().print(table)


# --- deploy-local / destroy-local ------------------------------------------------------------


def read_session() -> dict[str, Any] | None:
    try:
        return json.loads(SESSION_FILE.read_text())
    except (OSError, ValueError):
        return None


def cmd_deploy(args: argparse.Namespace) -> int:
    from tools.emulator import find_running, start_emulator, write_record

    times: dict[str, float] = {}
    tc = toolchain()
    config = _config()
    previous = read_session() or {}
    emulator = find_running()
    started_emulator = False
    if emulator is None:
        began = time.monotonic()
        emulator = start_emulator(reuse=False, detach=True)
        write_record(emulator)
        started_emulator = True
        times["start emulator"] = time.monotonic() - began
        say(f"emulator started at {emulator.url} (pid {emulator.pid})")
    else:
        say(f"reusing the emulator at {emulator.url}")
        started_emulator = bool(previous.get("started_emulator")) and previous.get("emulator_url") == emulator.url
    env = emulator_environment(emulator.url, config.environment)
    synth = synthesize(emulator.url, Path(args.outdir), config.environment)
    times["synth"] = synth.seconds
    say(
        f"synthesized {len(synth.stacks)} stack(s) into {_shown(synth.outdir)}; order: "
        + " -> ".join("{" + ", ".join(level) + "}" for level in synth.levels)
    )
    SESSION_FILE.parent.mkdir(parents=True, exist_ok=True)
    SESSION_FILE.write_text(
        json.dumps(
            {
                "environment": config.environment,
                "emulator_url": emulator.url,
                "emulator_pid": emulator.pid,
                "started_emulator": started_emulator,
                "outdir": str(synth.outdir),
                "engine": args.engine,
            },
            indent=2,
        )
        + "\n"
    )
    engine = make_engine(args.engine, tc, env, say)
    say(f"deploying with {engine.name} ...")
    result = engine.deploy(synth)
    times[f"deploy ({engine.name})"] = result.seconds
    outputs = stack_outputs(tc, synth, env)
    print_outputs(outputs, f"{config.name_prefix} on the emulator at {emulator.url}")
    print_times(times)
    say(
        "try it: ./pipeline jobs submit --file examples/job.json --wait   (docs/local-loop.md: Try it; ./pipeline --help)   |   "
        "tear down: make destroy-local"
    )
    return 0


def _synth_for_destroy(session: dict[str, Any], url: str) -> Synthesized:
    outdir = Path(session.get("outdir") or DEFAULT_OUTDIR)
    if (outdir / "manifest.json").is_file():
        doc_url = _provider_url(outdir)
        if doc_url == url.rstrip("/"):
            stacks = read_stacks(outdir)
            return Synthesized(outdir=outdir, stacks=stacks, levels=dependency_levels(stacks), seconds=0.0)
    return synthesize(url, outdir, session.get("environment"))


def _provider_url(outdir: Path) -> str | None:
    for stack in read_stacks(outdir).values():
        doc = json.loads((stack.directory / "cdk.tf.json").read_text())
        endpoints = doc.get("provider", {}).get("aws", [{}])[0].get("endpoints")
        if endpoints:
            return str(endpoints[0].get("s3", "")).rstrip("/")
    return None


def cmd_destroy(args: argparse.Namespace) -> int:
    from tools.emulator import STATE_FILE, Emulator, answers, find_running

    session = read_session()
    if session is None:
        say("no local deployment recorded (.build/local-deploy.json); nothing to destroy")
        return 0
    url = session["emulator_url"]
    times: dict[str, float] = {}
    if not answers(url):
        say(f"the emulator at {url} is gone, and with it every deployed resource; forgetting its state")
        synth = None
    else:
        tc = toolchain()
        env = emulator_environment(url, session.get("environment"))
        synth = _synth_for_destroy(session, url)
        engine = make_engine(args.engine or session.get("engine") or "cdktf", tc, env, say)
        say(f"destroying {len(synth.stacks)} stack(s) with {engine.name} ...")
        result = engine.destroy(synth)
        times[f"destroy ({engine.name})"] = result.seconds
    if synth is None and (Path(session.get("outdir", "")) / "manifest.json").is_file():
        outdir = Path(session["outdir"])
        stacks = read_stacks(outdir)
        synth = Synthesized(outdir=outdir, stacks=stacks, levels=dependency_levels(stacks), seconds=0.0)
    if synth is not None:
        remove_state(synth)
    if session.get("started_emulator"):
        running = find_running()
        if running is not None and running.url == url:
            Emulator(url=url, port=running.port, pid=session.get("emulator_pid"), owned=True).stop()
            STATE_FILE.unlink(missing_ok=True)
            say(f"emulator at {url} stopped (deploy-local had started it)")
    else:
        say(f"emulator at {url} left running (deploy-local did not start it)")
    SESSION_FILE.unlink(missing_ok=True)
    if times:
        print_times(times)
    return 0


def cmd_outputs(args: argparse.Namespace) -> int:
    session = read_session()
    if session is None:
        say("no local deployment recorded; run `make deploy-local`")
        return EXIT_FAILED
    outdir = Path(session["outdir"])
    stacks = read_stacks(outdir)
    synth = Synthesized(outdir=outdir, stacks=stacks, levels=dependency_levels(stacks), seconds=0.0)
    print_outputs(
        stack_outputs(toolchain(), synth, emulator_environment(session["emulator_url"])),
        f"outputs on the emulator at {session['emulator_url']}",
    )
    return 0


# --- e2e ----------------------------------------------------------------------------------------


@contextlib.contextmanager
def _timed(times: dict[str, float], label: str) -> Iterator[None]:
    """How long the block took, in TIMES under LABEL, also when it fails: the times say where a failed run went."""
    began = time.monotonic()
    try:
        yield
    finally:
        times[label] = time.monotonic() - began


def run_e2e(
    *,
    engine_name: str = "terraform",
    outdir: Path = E2E_OUTDIR,
    keep: bool = False,
    report=say,
    readme_examples: bool = True,
) -> tuple[bool, list, dict[str, float]]:
    """Deploy onto a private emulator, smoke-test, release a second model version and push a job through it, run
    the README's run=local examples against the deployment (tools/readme_examples.py), destroy. Returns (all
    passed, steps, times)."""
    from modules.config import config_path_from_env
    from tools.emulator import start_emulator
    from tools.local.batch_smoke import has_batch, run_batch_smoke
    from tools.local.deploy import TerraformEngine
    from tools.local.release import run_release
    from tools.local.smoke import StepFailed, Steps, run_smoke

    steps = Steps(say=report)
    times: dict[str, float] = {}
    began = time.monotonic()
    emulator = synth = engine = None
    try:
        with steps.step("Terraform CLI and offline provider mirror found") as note:
            tc = toolchain()
            note["detail"] = f"{tc.binary}, mirror {tc.mirror}"
        with steps.step("private emulator started") as note:
            emulator = start_emulator(reuse=False)
            note["detail"] = emulator.url
        config = _config()
        env = emulator_environment(emulator.url, config.environment)
        with steps.step("synth against the emulator") as note:
            synth = synthesize(emulator.url, outdir, config.environment)
            times["synth"] = synth.seconds
            note["detail"] = f"{len(synth.stacks)} stacks: " + " -> ".join(
                "{" + ", ".join(level) + "}" for level in synth.levels
            )
        if config.compute.orchestrator == "eks":
            # No cluster runs here: the manifests are validated, and the smoke test runs the queue worker's
            # container as a local process with exactly the Deployment's args and environment.
            with steps.step("Kubernetes manifests valid (schemas of the pinned version, CRDs, references)") as note:
                from tools.kubernetes.validate import validate_folder

                manifests = validate_folder(
                    synth.outdir / "k8s" / config.environment, config.compute.eks.kubernetes_version
                )
                if not manifests.ok:
                    raise RuntimeError("; ".join(manifests.problems) or "no manifests")
                note["detail"] = f"{len(manifests.checked)} objects"
        engine = make_engine(engine_name, tc, env, report)
        with steps.step(f"deploy every stack ({engine.name})"):
            times[f"deploy ({engine.name})"] = engine.deploy(synth).seconds
        with steps.step("read the stack outputs"):
            outputs = stack_outputs(tc, synth, env)
        # The smoke test of the deployment: first on every path, later on one path through the released model.
        smoke = functools.partial(run_smoke, steps, emulator_url=emulator.url, outputs=outputs, config=config)
        with _timed(times, "smoke test"):
            smoke(manifests_dir=synth.outdir / "k8s" / config.environment)
        if has_batch(outputs):
            with _timed(times, "batch smoke test"):
                run_batch_smoke(steps, emulator_url=emulator.url, region=config.region, outputs=outputs)
        with _timed(times, "release and verify"):
            # Plans and saved-plan applies are the terraform engine's, whichever engine deployed.
            release = run_release(
                steps,
                engine=TerraformEngine(tc, env, report),
                synth=synth,
                emulator_url=emulator.url,
                config=config,
                config_path=config_path_from_env(),
                outputs=outputs,
                report=report,
            )
            synth = release.synth  # what is deployed now, and what destroy must read
        with _timed(times, "job through the released model"):
            # One path is enough to show the released model answering jobs; every path ran above.
            smoke(
                model_dir=release.model_dir,
                model_label=f"the released version {release.version}",
                paths=("worker function",),
            )
        if readme_examples:
            from tools.readme_examples import run_local_examples

            with _timed(times, "README examples"):
                run_local_examples(
                    steps, emulator_url=emulator.url, environment=config.environment, outdir=synth.outdir, say=report
                )
    except StepFailed:
        pass
    finally:
        if synth is not None and engine is not None and emulator is not None and not keep:
            try:
                with steps.step(f"destroy every stack ({engine.name})"):
                    times[f"destroy ({engine.name})"] = engine.destroy(synth).seconds
            except StepFailed:
                pass
            remove_state(synth)
        if emulator is not None and not keep:
            emulator.stop()
        times["e2e total"] = time.monotonic() - began
    return steps.passed, steps.done, times


def cmd_e2e(args: argparse.Namespace) -> int:
    passed, done, times = run_e2e(engine_name=args.engine, keep=args.keep)
    print_times(times)
    failed = [step.name for step in done if not step.passed]
    say(
        f"e2e {'PASSED' if passed else 'FAILED'}: {len(done) - len(failed)}/{len(done)} steps passed"
        + (f"; failed: {', '.join(failed)}" if failed else "")
    )
    return 0 if passed else EXIT_FAILED


def cmd_stress(args: argparse.Namespace) -> int:
    """Why: a local loop that only passes on an idle machine blocks landings on a busy CI runner."""
    import subprocess

    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(os.cpu_count() or 1)]
    say(f"stress: {len(hogs)} CPU hog(s) spinning (pids {', '.join(str(hog.pid) for hog in hogs)})")
    runs: list[tuple[bool, dict[str, float], list[str]]] = []
    try:
        for run in range(1, args.runs + 1):
            passed, done, times = run_e2e(
                engine_name=args.engine, report=lambda message, run=run: say(f"[run {run}] {message}")
            )
            runs.append((passed, times, [step.name for step in done if not step.passed]))
            say(f"[run {run}] e2e {'PASSED' if passed else 'FAILED'} in {times.get('e2e total', 0):.1f} s")
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()
    phases = list(dict.fromkeys(phase for _, times, _ in runs for phase in times))
    print_times(
        {
            f"run {index} {phase}": times[phase]
            for index, (_, times, _) in enumerate(runs, 1)
            for phase in phases
            if phase in times
        }
    )
    passes = sum(1 for passed, _, _ in runs if passed)
    say(
        f"stress: {passes}/{len(runs)} e2e runs passed under {len(hogs)} CPU hog(s)"
        + "".join(
            f"; run {index} failed at: {', '.join(failed)}"
            for index, (passed, _, failed) in enumerate(runs, 1)
            if not passed
        )
    )
    return 0 if passes == len(runs) else EXIT_FAILED


def _shown(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(PROJECT_ROOT))
    except ValueError:
        return str(path)


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    parser = argparse.ArgumentParser(
        prog="python -m tools.local", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    deploy = commands.add_parser("deploy", help="deploy every stack onto the emulator (make deploy-local)")
    deploy.add_argument("--engine", choices=ENGINES, default="cdktf")
    deploy.add_argument("--outdir", default=str(DEFAULT_OUTDIR), help="emulator synth folder")
    deploy.set_defaults(handler=cmd_deploy)
    destroy = commands.add_parser("destroy", help="destroy the local deployment (make destroy-local)")
    destroy.add_argument("--engine", choices=ENGINES, default=None, help="default: the one deploy used")
    destroy.set_defaults(handler=cmd_destroy)
    commands.add_parser("outputs", help="print the outputs of the local deployment").set_defaults(handler=cmd_outputs)
    e2e = commands.add_parser("e2e", help="deploy, smoke-test, destroy on a private emulator (make e2e)")
    e2e.add_argument(
        "--engine",
        choices=ENGINES,
        default="terraform",
        help="default terraform: the faster engine here (docs/local-loop.md: Local loop: Engines)",
    )
    e2e.add_argument("--keep", action="store_true", help="leave the deployment and emulator running (debugging)")
    e2e.set_defaults(handler=cmd_e2e)
    stress = commands.add_parser("stress", help="e2e several times under a CPU hog on every core (make e2e-stress)")
    stress.add_argument("--runs", type=int, default=3)
    stress.add_argument("--engine", choices=ENGINES, default="terraform")
    stress.set_defaults(handler=cmd_stress)
    args = parser.parse_args(argv)
    os.chdir(PROJECT_ROOT)
    try:
        return int(args.handler(args))
    except (DeployError, TerraformNotFound) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except Exception as exc:  # config errors and emulator errors: one line, no traceback
        from modules.config import ConfigError
        from tools.emulator import EmulatorError

        if isinstance(exc, (ConfigError, EmulatorError)):
            print(f"error: {exc}", file=sys.stderr)
            return 2 if isinstance(exc, ConfigError) else EXIT_FAILED
        raise


if __name__ == "__main__":
    sys.exit(main())
