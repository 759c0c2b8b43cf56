"""Fast checks of the local-deploy machinery (no emulator, no Terraform): stack ordering and the gap flags."""

from __future__ import annotations

from pathlib import Path

import pytest

from modules.config.emulator import EXCLUDED_RESOURCE_TYPES, EmulatorConfig
from tools.local.deploy import DeployError, StackInfo, dependency_levels


def stacks(**deps: tuple[str, ...]) -> dict[str, StackInfo]:
    return {name: StackInfo(name=name, directory=Path(name), dependencies=d) for name, d in deps.items()}


def test_stacks_are_grouped_into_levels_that_only_depend_on_earlier_levels():
    levels = dependency_levels(
        stacks(
            api=("compute", "inference"),
            compute=("network", "messaging"),
            inference=("network",),
            messaging=(),
            network=(),
        )
    )
    assert levels == [["messaging", "network"], ["compute", "inference"], ["api"]]


def test_a_dependency_cycle_or_unknown_stack_is_refused_by_name():
    with pytest.raises(DeployError, match="cycle among stacks: a, b"):
        dependency_levels(stacks(a=("b",), b=("a",)))
    with pytest.raises(DeployError, match="not stacks: ghost"):
        dependency_levels(stacks(a=("ghost",)))


def test_gap_flags_act_only_while_an_emulator_url_is_set():
    flags = {name: True for name in EmulatorConfig.gap_flags()}
    assert not EmulatorConfig(**flags).skips("autoscaling")
    assert EmulatorConfig(**flags).excluded_resource_types() == set()
    active = EmulatorConfig(url="http://127.0.0.1:5000", **flags)
    assert active.skips("autoscaling") and active.port == 5000
    assert active.excluded_resource_types() == {kind for kinds in EXCLUDED_RESOURCE_TYPES.values() for kind in kinds}


def test_every_excluding_gap_has_a_flag_and_an_unknown_gap_is_an_error():
    assert {f"skip_{gap}" for gap in EXCLUDED_RESOURCE_TYPES} <= set(EmulatorConfig.gap_flags())
    with pytest.raises(ValueError, match="unknown gap 'teleport'; known gaps: autoscaling"):
        EmulatorConfig(url="http://127.0.0.1:5000").skips("teleport")


def test_every_gap_flag_is_documented_in_the_local_loop_page():
    page = (Path(__file__).resolve().parents[2] / "docs" / "local-loop.md").read_text()  # "Emulator gaps"
    assert [flag for flag in EmulatorConfig.gap_flags() if f"`{flag}`" not in page] == []
