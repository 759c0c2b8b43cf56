"""Run a synth safely and report it: config errors become one line and exit code 2, the previous output
folder is replaced only after a successful synth, and a table summarises what was produced.
"""

from __future__ import annotations

import atexit
import gc
import importlib
import json
import os
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from modules.cross_stack_outputs import reveal_cross_stack_outputs, stable_stringify
from modules.provider_load import ProviderLoad

if TYPE_CHECKING:  # imported by run() only once the provider's assembly has started loading
    from modules.config import PipelineConfig

PROJECT_ROOT = Path(__file__).resolve().parent.parent
EXIT_CONFIG_ERROR = 2


@dataclass(frozen=True)
class StackSummary:
    """One row of the synth table."""

    name: str
    backend: str
    resources: int
    outputs: int
    depends_on: tuple[str, ...]


def cdktf_context() -> dict[str, str]:
    """The context flags of cdktf.json, so `python main.py` and `cdktf synth` synthesize the same JSON."""
    return json.loads((PROJECT_ROOT / "cdktf.json").read_text())["context"]


@dataclass(frozen=True)
class SynthesizedStack:
    """One stack as cdktf wrote it: its manifest entry, its file and that file's JSON."""

    name: str
    manifest: dict
    path: Path
    document: dict


def synthesized_stacks(outdir: Path) -> list[SynthesizedStack]:
    """Every stack of the manifest cdktf wrote into OUTDIR, its JSON read once."""
    manifest = json.loads((outdir / "manifest.json").read_text())
    stacks = []
    for name, entry in manifest["stacks"].items():
        path = outdir / entry["synthesizedStackPath"]
        stacks.append(SynthesizedStack(name, entry, path, json.loads(path.read_text())))
    return stacks


def summarize(outdir: Path) -> list[StackSummary]:
    """The rows of the synth table for the stacks in OUTDIR."""
    return summarize_stacks(synthesized_stacks(outdir))


def summarize_stacks(stacks: list[SynthesizedStack]) -> list[StackSummary]:
    """One row per stack (counts resource blocks, not instances), in deployment order."""
    rows = []
    for stack in stacks:
        name, doc = stack.name, stack.document
        backend_type, backend = next(iter(doc["terraform"].get("backend", {"local": {}}).items()))
        where = backend.get("path") or f"s3://{backend.get('bucket')}/{backend.get('key')}"
        rows.append(
            StackSummary(
                name=name,
                backend=f"{backend_type}: {where.removeprefix('../../../')}",
                resources=sum(len(instances) for instances in doc.get("resource", {}).values()),
                outputs=len(doc.get("output", {})),
                depends_on=tuple(stack.manifest.get("dependencies", [])),
            )
        )
    return deployment_order(rows)


def deployment_order(rows: list[StackSummary]) -> list[StackSummary]:
    """Producers before consumers (the order `cdktf deploy '*'` applies them), ties by name."""
    by_name = {row.name: row for row in rows}
    depth: dict[str, int] = {}

    def depth_of(name: str) -> int:
        if name not in depth:
            depth[name] = 1 + max((depth_of(dep) for dep in by_name[name].depends_on if dep in by_name), default=-1)
        return depth[name]

    return sorted(rows, key=lambda row: (depth_of(row.name), row.name))


def _swap_into_place(built: Path, target: Path) -> None:
    """Replace TARGET by BUILT with two renames, so a reader never sees a half-written folder."""
    old = target.with_name(f".{target.name}.old-{os.getpid()}")
    if target.exists():
        target.rename(old)
    built.rename(target)
    shutil.rmtree(old, ignore_errors=True)


def synthesize(
    compose: Callable[[object, PipelineConfig], None], config: PipelineConfig, outdir: Path
) -> list[StackSummary]:
    """Build every stack into a temporary sibling of OUTDIR, then swap it in; OUTDIR is untouched on failure."""
    from cdktf import App  # imported here: importing this module starts no jsii process

    outdir = outdir.resolve()
    building = outdir.with_name(f".{outdir.name}.building-{os.getpid()}")
    shutil.rmtree(building, ignore_errors=True)
    try:
        app = App(outdir=str(building), context=cdktf_context())
        compose(app, config)
        app.synth()
        stacks = synthesized_stacks(building)
        for stack in stacks:
            if reveal_cross_stack_outputs(stack.name, stack.document):
                stack.path.write_text(stable_stringify(stack.document))
        rows = summarize_stacks(stacks)
        _swap_into_place(building, outdir)
    finally:
        shutil.rmtree(building, ignore_errors=True)
    return rows


def print_table(rows: list[StackSummary], config: PipelineConfig, outdir: Path, source: str) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{config.name_prefix}: {len(rows)} stacks from {source} into {outdir}")
    for column in ("stack", "backend", "resources", "outputs", "depends on"):
        table.add_column(column, justify="right" if column in ("resources", "outputs") else "left")
    for row in rows:
        table.add_row(row.name, row.backend, str(row.resources), str(row.outputs), ", ".join(row.depends_on) or "-")
    Console(width=160).print(table)


def run(compose: Callable[[object, PipelineConfig], None], preload: tuple[str, ...] = ()) -> int:
    """The whole `python main.py`: load config, synth, print; exit 2 with one line on bad input.

    The provider's assembly loads on a thread while the config is imported and validated and the PRELOAD modules
    (compose's own, which must not call jsii on import) are imported (modules/provider_load.py); a config error is
    printed at once, and the process exits once that load has ended (at most about 2 s).
    """
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    provider = ProviderLoad()
    from modules.config import ConfigError, config_path_from_env, load_config

    outdir = Path(os.environ.get("CDKTF_OUTDIR") or PROJECT_ROOT / "cdktf.out")
    try:
        path = config_path_from_env()
        config = load_config(path)
        source = path.name
        import rich.table  # noqa: F401 - the table's import, also while the provider loads

        for module in preload:
            importlib.import_module(module)
        provider.wait()
        rows = synthesize(compose, config, outdir)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_CONFIG_ERROR
    except ValueError as exc:  # a construct refused a combination the schema could not see
        print(f"error: {path}: {exc}", file=sys.stderr)
        return EXIT_CONFIG_ERROR
    finally:
        provider.join()  # after an error too: the jsii process is stopped only once the load has answered
    try:
        shown = outdir.relative_to(Path.cwd())
    except ValueError:
        shown = outdir
    print_table(rows, config, shown, source)
    return 0


def cli(compose: Callable[[object, PipelineConfig], None], preload: tuple[str, ...] = ()) -> NoReturn:
    """`python main.py`: run() in a process that lives for one synth, so it skips what only long-lived ones need.

    - No cyclic garbage collection: a synth builds a few hundred thousand objects that all live until it ends
      (provider classes, jsii proxies), and the collector kept walking them: 0.1 s of every synth (`make bench`).
      Reference counting still frees everything that is not in a cycle.
    - No interpreter teardown (exit_without_teardown).

    Only for the command line: pytest and the tools call synthesize(), in processes that have more to do.
    """
    gc.disable()
    exit_without_teardown(run(compose, preload))


def exit_without_teardown(code: int) -> NoReturn:
    """End the process with CODE: run the exit handlers (jsii's stops the Node process and removes the copy of its
    runtime in the temporary folder), flush, then leave without the interpreter's teardown.

    Why: a synth leaves about a million objects behind (the provider bindings' classes, jsii's object map), and
    tearing them down one by one took 0.2-0.3 s of every `make synth` (measured with `make bench`) for a process
    that is ending anyway. Every file the synth wrote is closed by then (cdktf writes synchronously, ours use
    write_text), and the provider thread has been joined. tests/test_synth_cli.py checks that no Node process and no
    temporary folder is left behind.
    """
    atexit._run_exitfuncs()  # noqa: SLF001 - the handlers os._exit skips (undocumented, in every Python 3)
    sys.stdout.flush()  # what the table and the handlers printed: os._exit does not flush
    sys.stderr.flush()
    os._exit(code)
