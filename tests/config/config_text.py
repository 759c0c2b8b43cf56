"""Config tests start from a shipped environment's TOML, change a line, and load the result: the shipped text and
the load from text live here so that each test file says only what it changes."""

from __future__ import annotations

from pathlib import Path

from modules.config import PipelineConfig, load_config
from tests.conftest import PROJECT_ROOT


def shipped_config_text(env: str) -> str:
    """The TOML of a shipped environment (config/<env>.toml), as text to edit."""
    return (PROJECT_ROOT / "config" / f"{env}.toml").read_text()


def load_config_text(tmp_path: Path, text: str, name: str = "dev.toml") -> PipelineConfig:
    """TEXT loaded as the config file NAME: the file name is the environment's name, which some checks read."""
    path = tmp_path / name
    path.write_text(text)
    return load_config(path)
