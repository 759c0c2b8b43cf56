"""Run a synth safely and report it: config errors become one line and exit code 2, the previous output
folder is replaced only after a successful synth, and a table summarises what was produced.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from modules.config import ConfigError, PipelineConfig, config_path_from_env, load_config

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


def summarize(outdir: Path) -> list[StackSummary]:
    """Read the synthesized manifest and every stack's JSON (counts resource blocks, not instances)."""
    manifest = json.loads((outdir / "manifest.json").read_text())
    rows = []
    for name, stack in manifest["stacks"].items():
        doc = json.loads((outdir / stack["synthesizedStackPath"]).read_text())
        backend_type, backend = next(iter(doc["terraform"].get("backend", {"local": {}}).items()))
        where = backend.get("path") or f"s3://{backend.get('bucket')}/{backend.get('key')}"
        rows.append(
            StackSummary(
                name=name,
                backend=f"{backend_type}: {where.removeprefix('../../../')}",
                resources=sum(len(instances) for instances in doc.get("resource", {}).values()),
                outputs=len(doc.get("output", {})),
                depends_on=tuple(stack.get("dependencies", [])),
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
    from cdktf import App  # imported here so that a config error exits before jsii starts

    outdir = outdir.resolve()
    building = outdir.with_name(f".{outdir.name}.building-{os.getpid()}")
    shutil.rmtree(building, ignore_errors=True)
    try:
        app = App(outdir=str(building), context=cdktf_context())
        compose(app, config)
        app.synth()
        rows = summarize(building)
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


def run(compose: Callable[[object, PipelineConfig], None]) -> int:
    """The whole `python main.py`: load config, synth, print; exit 2 with one line on bad input."""
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    outdir = Path(os.environ.get("CDKTF_OUTDIR") or PROJECT_ROOT / "cdktf.out")
    try:
        path = config_path_from_env()
        config = load_config(path)
        source = path.name
        rows = synthesize(compose, config, outdir)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_CONFIG_ERROR
    except ValueError as exc:  # a construct refused a combination the schema could not see
        print(f"error: {path}: {exc}", file=sys.stderr)
        return EXIT_CONFIG_ERROR
    try:
        shown = outdir.relative_to(Path.cwd())
    except ValueError:
        shown = outdir
    print_table(rows, config, shown, source)
    return 0
