"""Build one construct inside a throwaway stack and return the synthesized JSON as a dict."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from cdktf import App, Testing

from modules.config import load_config
from modules.stacks.base import PipelineStack

CONFIG_DIR = Path(__file__).resolve().parent.parent.parent / "config"


def synth_with(build: Callable[[PipelineStack], object], env: str = "local") -> dict:
    app = App(context={"excludeStackIdFromLogicalIds": "true", "allowSepCharsInLogicalIds": "true"})
    stack = PipelineStack(app, "test", config=load_config(CONFIG_DIR / f"{env}.toml"))
    build(stack)
    return json.loads(Testing.synth(stack))


def only(doc: dict, resource_type: str) -> dict:
    """The single resource of RESOURCE_TYPE (fails if there are 0 or several)."""
    resources = doc.get("resource", {}).get(resource_type, {})
    assert len(resources) == 1, f"expected one {resource_type}, found {len(resources)}"
    return next(iter(resources.values()))
