"""Find the Terraform CLI and the offline hashicorp/aws provider mirror, and run Terraform against them.

Why: these machines have no route to the Terraform registry. `terraform init` only works offline when a CLI
configuration names a `filesystem_mirror`, and the machine's own `TF_CLI_CONFIG_FILE` may point at a file that
does not exist. So the project writes a CLI configuration of its own (under `.build/`) and hands it to every
Terraform process it starts. Nothing here hard-codes a machine path: the binary comes from `TERRAFORM_BIN` or
`PATH`, the mirror from `TF_PROVIDER_MIRROR` or a bounded search of Terraform's documented plugin folders and
the usual install prefixes.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
BUILD_DIR = PROJECT_ROOT / ".build"
AWS_PROVIDER_PATH = Path("registry.terraform.io") / "hashicorp" / "aws"
REATTACH_ENV = "TF_REATTACH_PROVIDERS"
PROVIDER_LOG_ENV = "PIPELINE_PROVIDER_LOG"  # a TF_LOG level for the shared provider processes of the local loop

# Terraform's implied local mirror folders (see "Implied Local Mirror Directories" in the CLI docs) first,
# then the usual install prefixes, searched a few levels deep.
_SEARCH_ROOTS = (
    Path.home() / ".terraform.d" / "plugins",
    Path.home() / ".local" / "share" / "terraform" / "plugins",
    Path("/usr/local/share/terraform/plugins"),
    Path("/usr/share/terraform/plugins"),
    Path("/opt"),
    Path("/usr/local"),
    Path("/usr/share"),
    Path.home(),
)
_SEARCH_DEPTH = 3


class TerraformNotFound(RuntimeError):
    """Terraform or its provider mirror is missing; the message says how to provide it."""


@dataclass(frozen=True)
class TerraformToolchain:
    """The Terraform binary, the provider mirror and the CLI configuration that ties them together."""

    binary: Path
    mirror: Path
    cli_config: Path

    def env(self, base: dict[str, str] | None = None) -> dict[str, str]:
        """Environment for a Terraform process: offline CLI config, shared plugin cache, no telemetry."""
        env = dict(os.environ if base is None else base)
        env["TF_CLI_CONFIG_FILE"] = str(self.cli_config)
        env["TF_IN_AUTOMATION"] = "1"
        env["CHECKPOINT_DISABLE"] = "1"
        env.setdefault("TF_PLUGIN_CACHE_DIR", str(BUILD_DIR / "plugin-cache"))
        Path(env["TF_PLUGIN_CACHE_DIR"]).mkdir(parents=True, exist_ok=True)
        return env

    def run(self, args: list[str], cwd: Path, *, check: bool = True, env: dict[str, str] | None = None,
            timeout: float = 600) -> subprocess.CompletedProcess[str]:
        """Run `terraform ARGS` in CWD; on failure raise with Terraform's own output."""
        proc = subprocess.run([str(self.binary), *args], cwd=cwd, env=self.env(env), text=True,
                              capture_output=True, timeout=timeout, check=False)
        if check and proc.returncode != 0:
            raise subprocess.CalledProcessError(proc.returncode, proc.args, proc.stdout, proc.stderr)
        return proc

    def provider_versions(self) -> list[str]:
        """Versions of hashicorp/aws that the mirror holds (folder names)."""
        return sorted(p.name for p in (self.mirror / AWS_PROVIDER_PATH).iterdir() if p.is_dir())


def find_terraform_binary() -> Path:
    """`TERRAFORM_BIN`, else `terraform` on PATH."""
    explicit = os.environ.get("TERRAFORM_BIN")
    if explicit:
        path = Path(explicit)
        if not (path.is_file() and os.access(path, os.X_OK)):
            raise TerraformNotFound(f"TERRAFORM_BIN={explicit} is not an executable file")
        return path
    found = shutil.which("terraform")
    if not found:
        raise TerraformNotFound(
            "terraform CLI not found: install Terraform >= 1.10 on PATH or set TERRAFORM_BIN to its path")
    return Path(found)


def _holds_aws_provider(root: Path) -> bool:
    aws = root / AWS_PROVIDER_PATH
    return aws.is_dir() and any(aws.glob("*/*/terraform-provider-aws*"))


def _search(root: Path, depth: int) -> Path | None:
    if _holds_aws_provider(root):
        return root
    if depth == 0:
        return None
    try:
        children = sorted(p for p in root.iterdir() if p.is_dir() and not p.is_symlink())
    except OSError:
        return None
    for child in children:
        if child.name.startswith(".") and child.name not in (".terraform.d",):
            continue
        if child.name in ("node_modules", "proc", "sys", "site-packages", "dist-packages"):
            continue
        found = _search(child, depth - 1)
        if found:
            return found
    return None


def find_provider_mirror() -> Path:
    """`TF_PROVIDER_MIRROR`, else the first folder holding registry.terraform.io/hashicorp/aws/<v>/<os_arch>."""
    explicit = os.environ.get("TF_PROVIDER_MIRROR")
    if explicit:
        path = Path(explicit)
        if not _holds_aws_provider(path):
            raise TerraformNotFound(
                f"TF_PROVIDER_MIRROR={explicit} holds no {AWS_PROVIDER_PATH}/<version>/<os_arch>/terraform-provider-aws*")
        return path
    for root in _SEARCH_ROOTS:
        if root.is_dir():
            found = _search(root, _SEARCH_DEPTH)
            if found:
                return found
    raise TerraformNotFound(
        "no offline mirror of the hashicorp/aws provider found: set TF_PROVIDER_MIRROR to the folder that "
        f"contains {AWS_PROVIDER_PATH} (find / -name 'terraform-provider-aws*' shows where it is)")


def write_cli_config(mirror: Path, path: Path) -> Path:
    """A CLI configuration that installs hashicorp/aws from MIRROR only and never calls the registry."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = (
        "# Written by tools/terraform_cli.py: offline provider installation from the local mirror.\n"
        "provider_installation {\n"
        f'  filesystem_mirror {{\n    path    = "{mirror}"\n    include = ["registry.terraform.io/hashicorp/aws"]\n  }}\n'
        '  direct {\n    exclude = ["registry.terraform.io/hashicorp/aws"]\n  }\n'
        "}\n"
        "disable_checkpoint = true\n"
    )
    if not path.exists() or path.read_text() != text:
        path.write_text(text)
    return path


@contextmanager
def shared_provider(folder: Path, env: dict[str, str] | None = None, timeout: float = 60.0) -> Iterator[dict[str, str]]:
    """Start FOLDER's installed AWS provider once, in debug mode, and let every Terraform command attach to it.

    Why: each Terraform command otherwise starts its own provider process (an apply starts it three times:
    schema, plan walk, apply walk), and the AWS provider spends about 3 s of CPU building its schema on every
    start. Terraform attaches to a running provider named in `TF_REATTACH_PROVIDERS` (its documented debugging
    hook). Share one process only between commands with the same provider configuration: a provider process
    keeps the configuration of the last `ConfigureProvider` call (default tags, endpoints), so two
    differently-configured root modules attached at once would overwrite each other's settings.
    The process runs in FOLDER, as Terraform would start it: the provider resolves relative paths (Lambda zips
    under assets/) against its own working directory.
    If the provider does not announce itself in time, this yields no variable and every command starts its own
    provider, as usual: slower, same result.
    """
    binaries = sorted((folder / ".terraform" / "providers").glob(f"{AWS_PROVIDER_PATH}/*/*/terraform-provider-aws*"))
    if not binaries:
        yield {}
        return
    log = folder / ".terraform" / "shared-provider.log"
    # Debug mode logs every RPC at trace level unless told not to. With logging off, the provider rejects an
    # AWS_CA_BUNDLE ("unable to add custom RootCAs HTTPClient"); the emulator speaks plain HTTP, so drop it.
    base = os.environ if env is None else env
    # PROVIDER_LOG_ENV=debug keeps the provider's own log (every AWS request, its attempt number and duration) in
    # LOG, appended command after command: what it takes to see why a create stalls (README: Local loop).
    level = base.get(PROVIDER_LOG_ENV, "").upper()
    logging = {"TF_LOG": "off", "TF_LOG_PROVIDER": level, "TF_LOG_SDK": "off", "TF_LOG_SDK_PROTO": "off"} if level \
        else {"TF_LOG": "off", "TF_LOG_PROVIDER": "off", "TF_LOG_SDK": "off", "TF_LOG_SDK_PROTO": "off"}
    child_env = {name: value for name, value in base.items() if name not in ("AWS_CA_BUNDLE", REATTACH_ENV)} | logging
    start = log.stat().st_size if level and log.is_file() else 0  # an appended log: read only this process's lines
    with log.open("ab" if level else "wb") as output:
        process = subprocess.Popen([str(binaries[-1]), "-debug"], stdout=output, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, env=child_env, cwd=folder)
    try:
        reattach = None
        deadline = time.monotonic() + timeout
        while process.poll() is None and time.monotonic() < deadline:
            with log.open("rb") as lines:
                lines.seek(start)
                found = re.search(r"TF_REATTACH_PROVIDERS='([^']+)'", lines.read().decode(errors="replace"))
            if found:
                reattach = found[1]
                break
            time.sleep(0.1)
        yield {REATTACH_ENV: reattach} if reattach else {}
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@cache
def toolchain() -> TerraformToolchain:
    """The discovered toolchain; raises TerraformNotFound with a clear message when something is missing."""
    binary = find_terraform_binary()
    mirror = find_provider_mirror()
    cli_config = write_cli_config(mirror, BUILD_DIR / "terraform.rc")
    return TerraformToolchain(binary=binary, mirror=mirror, cli_config=cli_config)


if __name__ == "__main__":
    try:
        tc = toolchain()
    except TerraformNotFound as exc:
        raise SystemExit(f"error: {exc}") from None
    print(f"terraform: {tc.binary}\nmirror: {tc.mirror} (aws {', '.join(tc.provider_versions())})\n"
          f"cli config: {tc.cli_config}")
