"""Config tests start from a shipped environment's TOML, change a line, and load the result: the shipped text, the
load from text and the one-line refusal live here so that each test file says only what it changes."""

from __future__ import annotations

from pathlib import Path

import pytest

from modules.config import ConfigError, PipelineConfig, load_config
from tests.conftest import PROJECT_ROOT


def shipped_config_text(env: str) -> str:
    """The TOML of a shipped environment (config/<env>.toml), as text to edit."""
    return (PROJECT_ROOT / "config" / f"{env}.toml").read_text()


def load_config_text(tmp_path: Path, text: str, name: str = "dev.toml") -> PipelineConfig:
    """TEXT loaded as the config file NAME: the file name is the environment's name, which some checks read."""
    path = tmp_path / name
    path.write_text(text)
    return load_config(path)


def refusal(tmp_path: Path, text: str, name: str = "dev.toml") -> str:
    """The ConfigError that loading TEXT as NAME raises, checked to be the one line every refusal must be."""
    with pytest.raises(ConfigError) as error:
        load_config_text(tmp_path, text, name)
    message = str(error.value)
    assert "\n" not in message
    return message
