"""Compose the inference pipeline: load the environment's config, build every stack, synth."""

from __future__ import annotations

from typing import TYPE_CHECKING

from modules.synth_run import cli

if TYPE_CHECKING:  # run() imports the config while the provider's assembly loads
    from modules.config import PipelineConfig

# The stack modules compose() imports for every environment: `make synth` imports them while the provider's
# assembly loads (modules/provider_load.py). Not the EKS stack: it loads cdk8s's own assembly, so it waits.
STACK_MODULES = tuple(
    f"modules.stacks.{name}"
    for name in ("state", "network", "registry", "storage", "messaging", "compute", "inference", "batch", "api")
)


def compose(app, config: PipelineConfig) -> dict:
    """Every stack of the pipeline, wired by attributes (cdktf turns them into cross-stack references)."""
    from modules.stacks.api import ApiStack
    from modules.stacks.batch import BatchStack
    from modules.stacks.compute import ComputeStack
    from modules.stacks.inference import InferenceStack
    from modules.stacks.messaging import MessagingStack
    from modules.stacks.network import NetworkStack
    from modules.stacks.registry import RegistryStack
    from modules.stacks.state import StateStack
    from modules.stacks.storage import StorageStack

    stacks = {
        "state": StateStack(app, config=config),
        "network": NetworkStack(app, config=config),
        "registry": RegistryStack(app, config=config),
    }
    stacks["storage"] = StorageStack(app, config=config)
    stacks["messaging"] = MessagingStack(app, config=config)
    # What every workload stack builds on, passed the same way to each.
    foundation = {name: stacks[name] for name in ("network", "registry", "storage", "messaging")}
    if config.compute.orchestrator == "eks":
        from modules.stacks.eks import EksStack  # cdk8s and the EKS bindings load only when EKS is chosen

        stacks["eks"] = EksStack(app, config=config, **foundation)
    stacks["compute"] = ComputeStack(app, config=config, **foundation, eks=stacks.get("eks"))
    stacks["inference"] = InferenceStack(app, config=config, **foundation)
    if config.batch.enabled:
        stacks["batch"] = BatchStack(app, config=config, **foundation, inference=stacks["inference"])
    stacks["api"] = ApiStack(
        app,
        config=config,
        network=stacks["network"],
        messaging=stacks["messaging"],
        compute=stacks["compute"],
        inference=stacks["inference"],
        batch=stacks.get("batch"),
    )
    return stacks


if __name__ == "__main__":
    cli(compose, preload=STACK_MODULES)
