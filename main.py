"""Compose the inference pipeline: load the environment's config, build every stack, synth."""

from __future__ import annotations

import sys

from modules.config import PipelineConfig
from modules.synth_run import run


def compose(app, config: PipelineConfig) -> dict:
    """Every stack of the pipeline, wired by attributes (cdktf turns them into cross-stack references)."""
    from modules.stacks.registry import RegistryStack
    from modules.stacks.state import StateStack

    stacks = {
        "state": StateStack(app, config=config),
        "registry": RegistryStack(app, config=config),
    }
    return stacks


if __name__ == "__main__":
    sys.exit(run(compose))
