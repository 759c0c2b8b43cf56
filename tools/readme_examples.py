"""The README's commands, checked and run as pasted.

Every shell block (```bash, ```sh, ```console) of README.md and docs/*.md says how it is proven, in its info
string (GitHub shows only the language):

    ```bash run=static     run by `make test` from the project root, without a deployment
    ```bash run=local      run by the e2e step (`make e2e`, and `make test` through tests/e2e), against its
                           deployment on the emulator: every run=local block of a file, in order, in one bash
                           session, so variables set in one block reach the next, as in a terminal
    ```bash run=api        calls a deployed API (dev, prod): run by `make test` against an API Gateway stand-in
                           that verifies SigV4 as AWS does (tests/tools/pipeline/test_aws_target.py)
    ```bash run=aws        needs a real AWS account and deployment: checked, not run
    ```bash run=never why="..."   never run, for the reason given

`needs=model-server` starts the model server on 127.0.0.1:8080 (what `make serve-model` runs) for the block;
`expect="text"` (run=local) fails the block unless its output contains the text, so a claim next to it holds.
```json request=/v1/jobs (or /v1/predict, /invocations) marks a request body: it is validated like the others.

and every block, whatever its mode, is checked: bash parses it, no `<placeholder>` that a shell would read as a
redirection, commands go through the project environment (make, ./pipeline, .venv/bin/python; never a bare
`python`, `pytest` or `npx cdktf`), and every request body it sends (`-d` to /v1/jobs, /v1/predict,
/invocations; `--inputs` of ./pipeline) passes the real validation of the handler that will receive it.

A ```console block is a transcript: `$ command` lines are run, and each other line must appear in the output of the
command before it (a line ending in `...` as a prefix).

In the e2e step the lines `make deploy-local` and `make destroy-local` are the step's own deploy and destroy, so
they are not run a second time. A failing block fails the build with its file, line and output.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tools.terraform_cli import PROJECT_ROOT

SHELL_LANGUAGES = ("bash", "sh", "shell", "console")
RUN_MODES = ("static", "local", "api", "aws", "never")
DOCUMENTS = ("README.md", "docs/*.md")
# Commands that fail outside the project environment (bare `python` lacks the dependencies; `npx cdktf` alone
# picks no stack and synthesizes whichever environment the shell has).
OUTSIDE_THE_ENVIRONMENT = {"python": ".venv/bin/python", "python3": ".venv/bin/python", "pip": "make install",
                           "pytest": ".venv/bin/python -m pytest", "ruff": "make lint",
                           "cdktf": "make diff/deploy PIPELINE_ENV=...", "npx": "make diff/deploy PIPELINE_ENV=..."}
PERFORMED_BY_THE_E2E_STEP = ("make deploy-local", "make destroy-local")
_FENCE = re.compile(r"^(?P<indent>\s*)(?P<fence>```+|~~~+)(?P<info>.*)$")
_PLACEHOLDER = re.compile(r"<[A-Za-z][\w .:/-]*>")
_SEPARATORS = re.compile(r"&&|\|\||[;|&]|\$\(|`|\bthen\b|\bdo\b|\belse\b")
_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")


@dataclass(frozen=True)
class Block:
    """One fenced code block: where it is, its language and attributes, and its text."""

    path: Path
    line: int  # of the opening fence, 1-based
    language: str
    attributes: dict[str, str]
    text: str

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(PROJECT_ROOT)}:{self.line}"

    @property
    def run(self) -> str | None:
        return self.attributes.get("run")

    @property
    def shell(self) -> bool:
        return self.language in SHELL_LANGUAGES

    def commands(self) -> str:
        """The shell text: the block itself, or a transcript's `$ ` lines."""
        if self.language != "console":
            return self.text
        return "\n".join(line[2:] for line in self.text.splitlines() if line.startswith("$ "))

    def transcript(self) -> list[tuple[str, list[str]]]:
        """(command, expected output lines) of a console block."""
        steps: list[tuple[str, list[str]]] = []
        for line in self.text.splitlines():
            if line.startswith("$ "):
                steps.append((line[2:], []))
            elif steps and line.strip():
                steps[-1][1].append(line)
        return steps


def blocks(path: Path) -> Iterator[Block]:
    """Every fenced block of the Markdown file at PATH."""
    lines = path.read_text().splitlines()
    index = 0
    while index < len(lines):
        opening = _FENCE.match(lines[index])
        if not opening:
            index += 1
            continue
        fence, indent = opening["fence"], len(opening["indent"])
        words = shlex.split(opening["info"].strip()) if opening["info"].strip() else []
        language = words[0] if words and "=" not in words[0] else ""
        attributes = dict(word.split("=", 1) for word in words if "=" in word)
        body = []
        index += 1
        while index < len(lines) and not lines[index].strip().startswith(fence):
            body.append(lines[index][indent:] if lines[index][:indent].strip() == "" else lines[index])
            index += 1
        yield Block(path=path, line=index - len(body), language=language, attributes=attributes,
                    text="\n".join(body))
        index += 1


def documents(root: Path = PROJECT_ROOT) -> list[Path]:
    return sorted(path for pattern in DOCUMENTS for path in root.glob(pattern))


def shell_blocks(root: Path = PROJECT_ROOT) -> list[Block]:
    return [block for path in documents(root) for block in blocks(path) if block.shell]


# --- static checks ----------------------------------------------------------------------------------------------


def _unquoted(text: str) -> str:
    """TEXT without quoted strings and comments (what a shell reads as words and operators)."""
    out, quote, index = [], None, 0
    while index < len(text):
        char = text[index]
        if quote:
            if char == quote:
                quote = None
            elif char == "\\" and quote == '"':
                index += 1
        elif char in "'\"":
            quote = char
        elif char == "#" and (index == 0 or text[index - 1] in " \t\n;"):
            while index < len(text) and text[index] != "\n":
                index += 1
            continue
        elif char == "\\":
            index += 1
        else:
            out.append(char)
        index += 1
    return "".join(out)


def command_words(text: str) -> list[str]:
    """The first word of every simple command of TEXT (after variable assignments)."""
    words = []
    for line in _unquoted(text.replace("\\\n", " ")).splitlines():
        for part in _SEPARATORS.split(line):
            tokens = [token for token in part.split() if not _ASSIGNMENT.match(token)]
            while tokens and tokens[0] in ("(", "{", "!", "time", "exec", "env", "sudo"):
                tokens.pop(0)
            if tokens:
                words.append(tokens[0].lstrip("("))
    return words


def problems(block: Block) -> list[str]:
    """Why BLOCK would not run as pasted (empty: it would, as far as can be told without running it)."""
    found = []
    if block.run not in RUN_MODES:
        found.append(f"no run mode (run={block.run}); mark it run=static, run=local, run=api, run=aws or "
                     "run=never why=\"...\"")
    elif block.run == "never" and not block.attributes.get("why"):
        found.append('run=never needs why="..."')
    commands = block.commands()
    syntax = subprocess.run(["bash", "-n"], input=commands, text=True, capture_output=True, check=False)
    if syntax.returncode != 0:
        found.append(f"bash cannot parse it: {syntax.stderr.strip()}")
    placeholders = sorted(set(_PLACEHOLDER.findall(_unquoted(commands))))
    if placeholders:
        found.append(f"placeholder(s) {', '.join(placeholders)} would be read as redirections; use a variable "
                     "set in the block, or a real value")
    for word in command_words(commands):
        if word in OUTSIDE_THE_ENVIRONMENT:
            found.append(f"`{word}` runs outside the project environment; use {OUTSIDE_THE_ENVIRONMENT[word]}")
    found.extend(request_problems(commands))
    return found


# --- request bodies ---------------------------------------------------------------------------------------------


def _ansi_c_strings(text: str) -> str:
    """TEXT with bash's $'...' strings decoded and single-quoted, so shlex reads them as bash does."""
    def decode(match: re.Match[str]) -> str:
        return shlex.quote(match[1].encode().decode("unicode_escape"))

    return re.sub(r"\$'((?:[^'\\]|\\.)*)'", decode, text)


def _curl_requests(commands: str) -> Iterator[tuple[str, str, str]]:
    """(url, content type, body) of every curl command with a body (`@file` read from the project root)."""
    for command in commands.replace("\\\n", " ").splitlines():
        try:
            words = shlex.split(_ansi_c_strings(command), comments=True)
        except ValueError:
            continue
        if not any(word.rsplit("(", 1)[-1] == "curl" for word in words):
            continue
        body = url = None
        content_type = "application/json"
        for index, word in enumerate(words):
            following = words[index + 1] if index + 1 < len(words) else ""
            if word in ("-d", "--data", "--data-binary", "--data-raw"):
                body = following
            elif word in ("-H", "--header") and following.lower().startswith("content-type:"):
                content_type = following.split(":", 1)[1].strip()
            elif re.search(r"(https?://|\$\{?URL\}?|localhost)", word) and not word.startswith("-"):
                url = word
        if body is not None and url:
            yield url, content_type, (PROJECT_ROOT / body[1:]).read_text() if body.startswith("@") else body


def _pipeline_inputs(commands: str) -> Iterator[tuple[str, str]]:
    """(command, inline inputs) of every `./pipeline jobs submit|predict --inputs ...`."""
    for command in commands.replace("\\\n", " ").splitlines():
        try:
            words = shlex.split(command, comments=True)
        except ValueError:
            continue
        if "./pipeline" in words and "--inputs" in words[:-1]:
            yield ("predict" if "predict" in words else "jobs"), words[words.index("--inputs") + 1]


def request_problems(commands: str) -> list[str]:
    found = []
    for url, content_type, body in _curl_requests(commands):
        route = next((route for route in ("/v1/jobs", "/v1/predict", "/invocations") if url.rstrip('"').endswith(
            route.lstrip("/")) or url.rstrip('"').endswith(route)), None)
        if route:
            problem = validate_request(route, body, content_type)
            if problem:
                found.append(f"the body sent to {route} is refused: {problem}")
    for kind, inputs in _pipeline_inputs(commands):
        try:
            document = json.loads(inputs)
        except ValueError as exc:
            found.append(f"--inputs is not JSON: {exc}")
            continue
        document = {"instances": document} if isinstance(document, list) else document
        route = "/v1/predict" if kind == "predict" else "/v1/jobs"
        body = document if kind == "predict" else {"model": "iris", "inputs": document}
        problem = validate_request(route, json.dumps(body), "application/json")
        if problem:
            found.append(f"--inputs for {route} is refused: {problem}")
    return found


def validate_request(route: str, body: str, content_type: str = "application/json") -> str | None:
    """What the code behind ROUTE says about BODY: None when it accepts it, else its error message.

    /v1/jobs: the submit handler's validation; /v1/predict: the predict handler's and then the model's (it
    forwards {"instances"}); /invocations: the model server's payload parser.
    """
    from containers.inference.server.payload import PayloadError, parse_instances
    from lambdas.http import HttpError, instances, json_object
    from lambdas.submit.handler import validated_job

    try:
        if route == "/invocations":
            parse_instances(body.encode(), content_type, n_features=_model_features(), max_batch_size=1000)
        elif route == "/v1/jobs":
            job = validated_job(json_object(body.encode()))
            parse_instances(json.dumps(job["inputs"]).encode(), "application/json", n_features=_model_features(),
                            max_batch_size=1000)
        elif route == "/v1/predict":
            rows = instances(json_object(body.encode()), "instances")
            parse_instances(json.dumps({"instances": rows}).encode(), "application/json",
                            n_features=_model_features(), max_batch_size=1000)
        else:
            return f"no validation known for {route}"
    except (HttpError, PayloadError) as exc:
        return exc.message
    return None


def request_blocks(root: Path = PROJECT_ROOT) -> list[tuple[str, str, str]]:
    """(where, route, body) of every request example: ```json request=<route> blocks and examples/*.json."""
    found = [(block.where, block.attributes["request"], block.text) for path in documents(root)
             for block in blocks(path) if "request" in block.attributes]
    for example in sorted((root / "examples").glob("*.json")):
        route = "/v1/jobs" if "job" in example.stem else "/v1/predict"
        found.append((str(example.relative_to(root)), route, example.read_text()))
    return found


_INLINE_CODE = re.compile(r"(?<!`)`([^`\n]+)`(?!`)")


def inline_command_problems(path: Path) -> list[str]:
    """Inline `code` in the prose of PATH that starts a command outside the project environment."""
    found, fenced = [], None
    for number, line in enumerate(path.read_text().splitlines(), 1):
        fence = _FENCE.match(line)
        if fence:
            fenced = None if fenced and fence["fence"].startswith(fenced) else (fenced or fence["fence"])
            continue
        if fenced:
            continue
        for code in _INLINE_CODE.findall(line):
            first = code.split()[0] if code.split() else ""
            if first in OUTSIDE_THE_ENVIRONMENT and len(code.split()) > 1:
                found.append(f"{path.relative_to(PROJECT_ROOT)}:{number}: `{code}` runs outside the project "
                             f"environment; use {OUTSIDE_THE_ENVIRONMENT[first]}")
    return found


def _model_features() -> int:
    """Features per row of the example model (iris: 4)."""
    from sklearn.datasets import load_iris

    return len(load_iris().feature_names)


# --- running ----------------------------------------------------------------------------------------------------


@dataclass
class Outcome:
    block: Block
    passed: bool
    output: str
    seconds: float = 0.0


@dataclass
class Runner:
    """Runs blocks from the project root with ENV (added to the caller's environment)."""

    env: dict[str, str] = field(default_factory=dict)
    timeout: float = 900

    def environment(self) -> dict[str, str]:
        return {**os.environ, "NO_INSTALL": "1", "COLUMNS": "160", **self.env}

    def run_static(self, block: Block) -> Outcome:
        import time

        began = time.monotonic()
        if block.attributes.get("needs") == "model-server":
            with serve_model_on(SERVE_MODEL_PORT):
                return self._run_static(block, began)
        return self._run_static(block, began)

    def _run_static(self, block: Block, began: float) -> Outcome:
        import time

        if block.language == "console":
            outputs, passed = [], True
            for command, expected in block.transcript():
                proc = subprocess.run(["bash", "-o", "pipefail", "-c", command], cwd=PROJECT_ROOT,
                                      env=self.environment(), text=True, capture_output=True, timeout=self.timeout)
                output = proc.stdout + proc.stderr
                outputs.append(f"$ {command}\n{output}")
                missing = [line for line in expected if not _appears(line, output)]
                if missing:
                    passed = False
                    outputs.append(f"expected, not found: {missing}")
            return Outcome(block, passed, "\n".join(outputs), time.monotonic() - began)
        proc = subprocess.run(["bash", "-euo", "pipefail", "-c", block.text], cwd=PROJECT_ROOT,
                              env=self.environment(), text=True, capture_output=True, timeout=self.timeout)
        return Outcome(block, proc.returncode == 0, proc.stdout + proc.stderr, time.monotonic() - began)

    def run_session(self, session: list[Block], say=print) -> list[Outcome]:
        """SESSION's blocks in one bash process, in order; stops at the first failing block."""
        import time

        marker = "::readme-block::"
        script = ["set -euo pipefail"]
        for number, block in enumerate(session):
            script.append(f"echo '{marker}{number}' >&2")
            script.extend(line for line in block.text.splitlines()
                          if line.split("#", 1)[0].strip() not in PERFORMED_BY_THE_E2E_STEP)
        script.append(f"echo '{marker}done' >&2")
        with tempfile.NamedTemporaryFile("w", suffix=".sh", delete=False) as handle:
            handle.write("\n".join(script) + "\n")
        began = time.monotonic()
        proc = subprocess.Popen(["bash", handle.name], cwd=PROJECT_ROOT, env=self.environment(), text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        watchdog = threading.Timer(self.timeout, proc.kill)  # a hanging block fails instead of hanging the build
        watchdog.start()
        assert proc.stdout is not None
        outcomes: list[Outcome] = []
        current, output, started = None, [], began
        for line in proc.stdout:
            if line.startswith(marker):
                if current is not None:
                    block, text = session[current], "".join(output)
                    expected = block.attributes.get("expect")
                    passed = expected is None or expected in text
                    outcomes.append(Outcome(block, passed, text if passed else f"{text}\nexpected, not found: "
                                                                             f"{expected!r}", time.monotonic() - started))
                    say(f"  README block {block.where}: {'ok' if passed else 'FAILED'} "
                        f"({time.monotonic() - started:.1f} s)")
                    if not passed:
                        proc.kill()
                        current = None
                        break
                tag = line[len(marker):].strip()
                current, output, started = (None if tag == "done" else int(tag)), [], time.monotonic()
                continue
            output.append(line)
        proc.wait()
        watchdog.cancel()
        os.unlink(handle.name)
        if current is not None:  # the block that was running when bash stopped
            outcomes.append(Outcome(session[current], False, "".join(output), time.monotonic() - started))
        return outcomes


EXAMPLES_LOG = PROJECT_ROOT / ".build" / "local-deploy" / "readme-examples.log"
SERVE_MODEL_PORT = 8080  # `make serve-model`'s port, which the model server's examples call


@contextlib.contextmanager
def serve_model_on(port: int) -> Iterator[None]:
    """The model server on 127.0.0.1:PORT for a block, as `make serve-model` runs it; one already answering there
    is used as it is."""
    import time
    import urllib.error
    import urllib.request

    url = f"http://127.0.0.1:{port}"

    def answers() -> bool:
        try:
            with urllib.request.urlopen(f"{url}/ping", timeout=1) as response:
                return bool(response.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    if answers():
        yield
        return
    process = subprocess.Popen([sys.executable, "-m", "containers.inference.serve", "--train-if-missing",
                                "--model-dir", str(PROJECT_ROOT / ".build" / "model"), "--host", "127.0.0.1",
                                "--port", str(port), "--workers", "1"], cwd=PROJECT_ROOT,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 90
        while not answers():
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the model server did not start on {url} (is the port taken?)")
            time.sleep(0.3)
        yield
    finally:
        process.terminate()
        process.wait(timeout=15)


def _appears(expected: str, output: str) -> bool:
    if expected.endswith("..."):
        return expected[:-3].rstrip() in output
    return expected in output


def run_local_examples(steps, *, emulator_url: str, environment: str, outdir: Path, say=print) -> None:
    """The e2e step's part: every document's run=local blocks, one bash session per document, against the
    deployment on EMULATOR_URL (synthesized into OUTDIR). Each block is reported as a step with its time; the
    first failing block fails the step (StepFailed). The README's examples are for `local`: another environment's
    e2e runs none of them."""
    from tools.local.smoke import Step, StepFailed

    if environment != "local":
        say(f"README examples not run: they are written for local, this e2e deployed {environment}")
        return
    EXAMPLES_LOG.parent.mkdir(parents=True, exist_ok=True)
    EXAMPLES_LOG.write_text("")
    with tempfile.TemporaryDirectory(prefix="readme-") as folder:
        record = Path(folder) / "local-deploy.json"
        record.write_text(json.dumps({"environment": environment, "emulator_url": emulator_url, "outdir": str(outdir),
                                      "started_emulator": False, "engine": "terraform"}))
        runner = Runner(env={"PIPELINE_LOCAL_DEPLOYMENT": str(record), "PIPELINE_ENV": environment,
                             "CDKTF_OUTDIR": str(Path(folder) / "cdktf.out")})
        for path in documents():
            session = [block for block in blocks(path) if block.shell and block.run == "local"]
            if not session:
                continue
            outcomes = runner.run_session(session, say=say)
            with EXAMPLES_LOG.open("a") as log:
                log.writelines(f"===== {outcome.block.where} ({outcome.seconds:.1f} s)\n{outcome.output}\n"
                               for outcome in outcomes)
            for outcome in outcomes:
                first = next((line.split("#", 1)[0].strip() for line in outcome.block.text.splitlines()
                              if line.split("#", 1)[0].strip()), "")
                step = Step(f"README {outcome.block.where}: {first[:60]}", outcome.passed, outcome.seconds,
                            "" if outcome.passed else f"{outcome.output.strip()[-3000:]} (all output: {EXAMPLES_LOG})")
                steps.done.append(step)
                mark = "✓" if step.passed else "✗"
                say(f"{mark} {step.name} ({step.seconds:.1f} s)" + (f": {step.detail}" if step.detail else ""))
                if not step.passed:
                    raise StepFailed(step.name)
            if len(outcomes) < len(session):
                missing = session[len(outcomes)]
                steps.done.append(Step(f"README {missing.where}", False, 0.0, "the session ended before this block"))
                raise StepFailed(missing.where)
