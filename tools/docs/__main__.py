"""`python -m tools.docs` (`make docs`): regenerate every generated part of docs/ (see tools/docs/__init__.py)."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from tools.docs import architecture, config_reference, stack_interfaces

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DOCS = PROJECT_ROOT / "docs"
PICTURE_ENVIRONMENT = "prod"  # the fullest wiring: every optional stack and edge is on


def synthesize(environment: str, outdir: Path) -> None:
    import main
    from modules.config import load_config
    from modules.synth_run import synthesize as run

    run(main.compose, load_config(PROJECT_ROOT / "config" / f"{environment}.toml"), outdir)


def main() -> int:
    (DOCS / "configuration.md").write_text(config_reference.render())
    with tempfile.TemporaryDirectory() as tmp:
        synthesize(PICTURE_ENVIRONMENT, Path(tmp))
        dot = architecture.render_dot(Path(tmp), PICTURE_ENVIRONMENT)
        interfaces = stack_interfaces.render(Path(tmp), PICTURE_ENVIRONMENT)
    (DOCS / "stack-interfaces.md").write_text(interfaces)
    (DOCS / "architecture.dot").write_text(dot)
    (DOCS / "architecture.svg").write_text(architecture.render_svg(dot, PROJECT_ROOT))
    print("docs/: configuration.md, stack-interfaces.md, architecture.dot, architecture.svg regenerated")
    return 0


if __name__ == "__main__":
    sys.exit(main())
