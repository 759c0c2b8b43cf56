"""The inference image's files, as the Dockerfile lays them out, run without the repository around them.

No Docker engine runs here, so the image's /opt/program is rebuilt from the Dockerfile's own COPY instructions
(sources filtered by Dockerfile.dockerignore, as BuildKit would) in a temporary folder, and its commands are run
from there with the repository off the import path: a module the image lacks fails these tests, not a deploy.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[2]
IMAGE = PROJECT_ROOT / "containers" / "inference"
PROGRAM = "/opt/program"


def _ignore_rules() -> list[tuple[bool, str]]:
    """(allowed, pattern) in file order: the last matching rule decides (Docker's .dockerignore semantics)."""
    rules = []
    for line in (IMAGE / "Dockerfile.dockerignore").read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            rules.append((line.startswith("!"), line.removeprefix("!").rstrip("/")))
    return rules


def _matches(relative: str, pattern: str) -> bool:
    """Docker's matching: `*` and `?` stay within one path segment, `**` crosses them, and a pattern that matches a
    folder matches everything under it."""
    regex = (
        re.escape(pattern)
        .replace(r"\*\*/", "(?:.*/)?")
        .replace(r"\*\*", ".*")
        .replace(r"\*", "[^/]*")
        .replace(r"\?", "[^/]")
    )
    return re.fullmatch(f"{regex}(?:/.*)?", relative) is not None


def _in_context(relative: str, rules: list[tuple[bool, str]]) -> bool:
    allowed = True
    for allow, pattern in rules:
        if _matches(relative, pattern):
            allowed = allow
    return allowed


def _runtime_copies() -> list[tuple[list[str], str]]:
    """(sources, destination) of every COPY of the runtime stage that reads the build context."""
    text = re.sub(r"\\\n\s*", " ", (IMAGE / "Dockerfile").read_text())
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]
    runtime = lines[max(i for i, line in enumerate(lines) if line.upper().startswith("FROM ")) :]
    copies = []
    for line in runtime:
        if line.upper().startswith("COPY ") and "--from=" not in line:
            *sources, destination = line.split()[1:]
            copies.append((sources, destination))
    return copies


@pytest.fixture(scope="module")
def image_program(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """/opt/program as the Dockerfile builds it, under a temporary root."""
    root = tmp_path_factory.mktemp("image")
    rules = _ignore_rules()
    for sources, destination in _runtime_copies():
        target = root / (Path(PROGRAM) / destination).relative_to("/")
        for source in sources:
            for path in sorted(PROJECT_ROOT.glob(source.rstrip("/"))):
                files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
                for file in files:
                    relative = file.relative_to(PROJECT_ROOT).as_posix()
                    if not _in_context(relative, rules):
                        continue
                    inside = file.relative_to(path).as_posix() if path.is_dir() else file.name
                    final = target / inside if destination.endswith("/") or path.is_dir() else target
                    final.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy(file, final)
    return root / Path(PROGRAM).relative_to("/")


def _run(program: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    clean = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "QUEUE_URL")}
    return subprocess.run(
        [sys.executable, *args], cwd=program, env={**clean, **(env or {})}, capture_output=True, text=True, timeout=60
    )


def test_the_context_holds_the_image_code_and_the_shared_job_modules_but_no_handler_or_state() -> None:
    rules = _ignore_rules()

    for wanted in (
        "containers/inference/serve.py",
        "containers/inference/queue_worker/consumer.py",
        "containers/inference/server/app.py",
        "lambdas/jobs.py",
        "lambdas/contract.py",
    ):
        assert _in_context(wanted, rules), wanted
    for unwanted in (
        "lambdas/worker/handler.py",
        "state/local/compute.tfstate",
        ".venv/bin/python",
        "tests/conftest.py",
        "containers/inference/server/__pycache__/app.cpython-311.pyc",
    ):
        assert not _in_context(unwanted, rules), unwanted


def test_the_image_has_every_module_the_work_command_imports(image_program: Path) -> None:
    assert sorted(p.name for p in (image_program / "lambdas").iterdir()) == sorted(
        p.name for p in (PROJECT_ROOT / "lambdas").glob("*.py")
    )

    started = _run(image_program, "serve.py", "work")

    assert started.returncode != 0
    assert "environment variable QUEUE_URL is not set" in started.stderr, started.stderr[-2000:]


def test_the_health_check_of_the_task_definition_runs_in_the_image(image_program: Path, tmp_path: Path) -> None:
    checked = _run(image_program, "-m", "queue_worker.health", env={"HEALTH_FILE": str(tmp_path / "health")})

    assert checked.returncode == 1 and "no heartbeat file" in checked.stderr


def _read_only_root(*read_only: Path | str) -> tuple[list[str], dict[str, str]]:
    """The command prefix and environment that run a command in an unprivileged mount namespace (util-linux
    `unshare`) whose root is remounted read-only, /tmp stays writable (a checkout or its environment may live under
    it), and each of READ_ONLY is remounted read-only too."""
    unshare = shutil.which("unshare")
    assert unshare, "util-linux's `unshare` is needed to mount the root filesystem read-only for this test"
    script = (
        "mount --bind /tmp /tmp && mount -o remount,bind,ro / && IFS=: && for d in $READ_ONLY; do "
        'mount --bind "$d" "$d" && mount -o remount,bind,ro "$d" || exit 1; done && exec "$@"'
    )
    prefix = [unshare, "--user", "--map-root-user", "--mount", "sh", "-c", script, "sh"]
    return prefix, {"READ_ONLY": ":".join(str(path) for path in read_only)}


def test_the_image_serves_on_a_read_only_root_filesystem_with_only_tmp_writable(
    image_program: Path, model_dir: Path, tmp_path: Path
) -> None:
    """The task definitions set readonlyRootFilesystem with one writable scratch volume at /tmp (and /dev/shm):
    the image's server must start and answer there. It runs in a mount namespace (util-linux `unshare`,
    unprivileged) whose root is remounted read-only while /tmp stays writable, except the staged /opt/program, the
    model and the interpreter's environment, which are remounted read-only too (a checkout or its environment may
    itself live under /tmp); the repository is off the import path, as the image's ENTRYPOINT runs it."""
    import json
    import signal
    import time
    import urllib.request

    from tests.containers.model_server_process import free_port, http_request
    from tools.local.smoke import serve_arguments

    staging = tmp_path / "staged"
    shutil.copytree(image_program, staging / "program")
    shutil.copytree(model_dir, staging / "model")
    port = free_port()
    prefix, namespace_env = _read_only_root(staging, sys.prefix)
    command = [*prefix, sys.executable, "serve.py", "serve", *serve_arguments(staging / "model", port, 1)]
    clean = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "QUEUE_URL")}
    env = {**clean, "PYTHONDONTWRITEBYTECODE": "1", **namespace_env}
    log = tmp_path / "server.log"
    with log.open("wb") as out:
        process = subprocess.Popen(command, cwd=staging / "program", env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline, answered = time.monotonic() + 60, False
        while time.monotonic() < deadline and process.poll() is None and not answered:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=2) as response:
                    answered = response.status == 200
            except OSError:
                time.sleep(0.3)
        assert answered, f"no /ping answer on a read-only root:\n{log.read_text()[-3000:]}"
        body = json.dumps({"instances": [[5.1, 3.5, 1.4, 0.2]]}).encode()
        answer = http_request(f"http://127.0.0.1:{port}/invocations", method="POST", body=body)
        assert answer.status == 200 and answer.body["predictions"][0]["label"] == "setosa", answer
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
    lines = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    assert any(line.get("path") == "/invocations" and line.get("status") == 200 for line in lines), lines[-5:]
    assert "Read-only file system" not in log.read_text()


def test_the_read_only_namespace_of_that_test_refuses_writes_outside_tmp(tmp_path: Path) -> None:
    """The namespace the test above runs the server in (_read_only_root) is read-only where it says: the root and a staged folder
    under /tmp refuse writes ("Read-only file system"), the rest of /tmp takes them."""
    staged = tmp_path / "staged"
    staged.mkdir()
    prefix, namespace_env = _read_only_root(staged)
    probe = (
        "import sys\n"
        "for path in sys.argv[1:]:\n"
        "    try:\n"
        "        open(path, 'w').close()\n"
        "        print(path, 'written', sep='\\t')\n"
        "    except OSError as error:\n"
        "        print(path, error.strerror, sep='\\t')\n"
    )
    root_probe, staged_probe, scratch_probe = "/read-only-probe", str(staged / "probe"), str(tmp_path / "probe")
    done = subprocess.run(
        [*prefix, sys.executable, "-c", probe, root_probe, staged_probe, scratch_probe],
        env={**os.environ, **namespace_env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    Path(root_probe).unlink(missing_ok=True)  # only there if the test fails

    assert done.returncode == 0, done.stderr
    said = dict(line.split("\t", 1) for line in done.stdout.splitlines())
    assert said == {
        root_probe: "Read-only file system",
        staged_probe: "Read-only file system",
        scratch_probe: "written",
    }
