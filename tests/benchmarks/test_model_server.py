"""The peer benchmark's own logic: the prediction check that guards every run, and the ratios it prints."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "model_server.py"


@pytest.fixture(scope="module")
def bench():
    """benchmarks/ is a folder of scripts, not a package: load the script as a module."""
    spec = importlib.util.spec_from_file_location("bench_model_server", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    yield module
    del sys.modules[spec.name]


def prediction(label: str, setosa: float) -> dict:
    return {"label": label, "probabilities": {"setosa": setosa, "versicolor": round(1 - setosa, 6)}}


def test_predictions_that_agree_within_the_tolerance_are_the_same(bench) -> None:
    reference = [prediction("setosa", 0.9), prediction("versicolor", 0.2)]
    rounded_elsewhere = [prediction("setosa", 0.9 + 1e-7), prediction("versicolor", 0.2)]

    assert bench.differences(reference, rounded_elsewhere) == []


def test_a_server_with_another_label_another_probability_or_fewer_rows_is_reported(bench) -> None:
    reference = [prediction("setosa", 0.9), prediction("versicolor", 0.2)]

    assert bench.differences(reference, reference[:1]) == ["1 predictions instead of 2"]
    problems = bench.differences(reference, [prediction("versicolor", 0.9), prediction("versicolor", 0.21)])
    assert [problem.split(":")[0] for problem in problems] == ["row 0", "row 1"]


def test_the_table_prints_medians_with_their_range_and_the_project_to_peer_ratio_per_cell(bench) -> None:
    cell = bench.Cell(1, 8)
    results = bench.Results()
    for rps, p99 in ((1000, 4.0), (1200, 5.0), (900, 9.0)):
        results.add(cell, "project", bench.Sample(rps, 1.0, p99, 0, 0.05))
    for rps, p99 in ((500, 8.0), (600, 10.0), (400, 12.0)):
        results.add(cell, "flask-sync", bench.Sample(rps, 2.0, p99, 0, 0.05))
    servers = [  # the table reads only their names and peak memory
        bench.RunningServer(bench.ServerSpec(name, bench.uvicorn_fastapi), process=None, url="", log_path=Path())
        for name in ("project", "flask-sync")
    ]

    printed = bench.table(results, servers, (cell,))

    assert "1,000 (900-1,200)" in printed
    assert "2.00x (p99 0.50)" in printed  # 1,000 / 500 req/s; 5.0 / 10.0 ms
