"""What the CLI prints: results on stdout (one JSON document with --json), progress on stderr that neither floods a
log nor goes quiet, nothing but the result for scripts."""

from __future__ import annotations

import json

from tools.pipeline import cli
from tools.pipeline.cli import Output


def test_progress_in_a_log_is_a_line_per_state_change_and_a_reminder_while_it_lasts(capsys, monkeypatch):
    clock = [100.0]
    monkeypatch.setattr(cli.time, "monotonic", lambda: clock[0])
    out = Output()
    for second, state in enumerate(["pending"] * 15 + ["succeeded"]):
        clock[0] = 100.0 + second
        out.progress(f"waiting: {state} ({second} s)", key=state)
    assert capsys.readouterr().err.splitlines() == ["waiting: pending (0 s)", "waiting: pending (10 s)",
                                                    "waiting: succeeded (15 s)"]


def test_json_mode_prints_one_document_and_no_progress(capsys):
    out = Output(json_mode=True)
    out.progress("waiting")
    out.note("a note")
    out.result({"status": "succeeded"}, "job: succeeded")
    captured = capsys.readouterr()
    assert json.loads(captured.out) == {"status": "succeeded"} and captured.err == ""
