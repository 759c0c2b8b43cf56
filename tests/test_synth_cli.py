"""`make synth` and `cdktf synth` run cdktf.json's app command, `python -O main.py`, which synthesizes in a
process that lives for one synth: the provider loads on a thread, no cyclic GC, no interpreter teardown
(modules/synth_run.py `cli`). None of that may change a byte of what the tests check in-process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

from tests.conftest import PROJECT_ROOT, stack_dirs


def app_command() -> list[str]:
    """cdktf.json's app command, run with this interpreter (`.venv/bin/python -O main.py` -> [python, -O, main.py])."""
    _, *rest = json.loads((PROJECT_ROOT / "cdktf.json").read_text())["app"].split()
    return [sys.executable, *rest]


def test_the_app_command_is_optimized_python_running_main():
    assert app_command()[1:] == ["-O", "main.py"]


def test_the_app_command_writes_exactly_what_the_in_process_synth_writes(tmp_path, synthesized):
    env = {**os.environ, "PIPELINE_ENV": "local", "CDKTF_OUTDIR": str(tmp_path / "out")}
    proc = subprocess.run(app_command(), cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "inference-local: 9 stacks from local.toml" in proc.stdout
    written = {stack.name: (stack / "cdk.tf.json").read_text() for stack in stack_dirs(tmp_path / "out")}
    expected = {stack.name: (stack / "cdk.tf.json").read_text() for stack in stack_dirs(synthesized["local"])}
    assert written.keys() == expected.keys()
    different = [name for name in written if written[name] != expected[name]]
    assert different == [], f"the app command wrote other JSON for {different}"


def _processes_with(marker: str) -> list[int]:
    """PIDs whose environment holds MARKER (the jsii Node process inherits the synth's environment)."""
    found = []
    for environ in Path("/proc").glob("[0-9]*/environ"):
        try:
            if marker.encode() in environ.read_bytes():
                found.append(int(environ.parent.name))
        except OSError:  # gone meanwhile, or not ours to read
            continue
    return found


def test_the_app_command_leaves_no_node_process_and_no_temporary_folder_behind(tmp_path):
    """It leaves without the interpreter's teardown (modules/synth_run.py exit_without_teardown): jsii's exit
    handler must still have stopped Node and removed the copy of its runtime from the temporary folder."""
    marker = f"SYNTH_CLI_TEST={uuid.uuid4()}"
    name, value = marker.split("=")
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    env = {**os.environ, name: value, "TMPDIR": str(temporary), "CDKTF_OUTDIR": str(tmp_path / "out")}
    proc = subprocess.run(app_command(), cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    deadline = time.monotonic() + 10
    while (left := _processes_with(marker)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert left == [], f"processes of the synth still running: {left}"
    assert list(temporary.iterdir()) == [], "the jsii process left its temporary folder behind"


def test_leaving_without_teardown_runs_the_exit_handlers_and_keeps_the_exit_code_and_what_was_printed():
    probe = (
        "import atexit, sys\n"
        "sys.path.insert(0, '.')\n"
        "from modules.synth_run import exit_without_teardown\n"
        "atexit.register(lambda: print(' and the handler ran', end=''))\n"
        "print('printed', end='')\n"
        "sys.stderr.write('error line')\n"
        "exit_without_teardown(3)\n"
    )
    proc = subprocess.run([sys.executable, "-c", probe], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 3
    assert (proc.stdout, proc.stderr) == ("printed and the handler ran", "error line")
