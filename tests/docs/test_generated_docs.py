"""The generated parts of docs/ are current: each fails when the code moved and `make docs` was not run."""

from __future__ import annotations

import shutil

import pytest

from tests.conftest import PROJECT_ROOT
from tools.docs import architecture, config_reference, stack_interfaces
from tools.docs.__main__ import PICTURE_ENVIRONMENT

DOCS = PROJECT_ROOT / "docs"
STALE = "is stale: run `make docs` and commit the result"


def test_the_configuration_reference_is_generated_from_the_current_schema():
    assert (DOCS / "configuration.md").read_text() == config_reference.render(), f"docs/configuration.md {STALE}"


def test_the_configuration_reference_documents_every_field_with_a_description():
    text = config_reference.render()
    undocumented = [line for line in text.splitlines() if line.startswith("| `") and line.rstrip().endswith("|  |")]
    # the backend's discriminator `type` is explained by its section title
    assert [line for line in undocumented if not line.startswith("| `type` |")] == []


def test_the_configuration_reference_has_a_section_for_every_table_of_the_schema():
    text = config_reference.render()
    for title in (
        "[network]",
        "[[messaging.queues]]",
        "[compute.lambdas.functions.<name>]",
        '[backend] with type = "s3"',
    ):
        assert f"## `{title}`" in text


def test_the_architecture_picture_is_drawn_from_the_current_stacks(synthesized):
    dot = architecture.render_dot(synthesized[PICTURE_ENVIRONMENT], PICTURE_ENVIRONMENT)
    assert (DOCS / "architecture.dot").read_text() == dot, f"docs/architecture.dot {STALE}"


def test_the_architecture_picture_has_every_stack_and_each_cross_stack_read(synthesized):
    found = architecture.edges(synthesized[PICTURE_ENVIRONMENT])
    assert ("api", "compute") in found and "aws_lambda_function" in found[("api", "compute")]
    assert ("compute", "network") in found
    dot = (DOCS / "architecture.dot").read_text()
    for stack in ("state", "network", "registry", "storage", "messaging", "compute", "inference", "api"):
        assert f'"{stack}" [label=' in dot


def test_the_committed_svg_is_the_rendering_of_the_committed_dot():
    if shutil.which("node") is None:
        pytest.fail("Node.js is required to render docs/architecture.svg (and by cdktf itself)")
    svg = architecture.render_svg((DOCS / "architecture.dot").read_text(), PROJECT_ROOT)
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg
    assert (DOCS / "architecture.svg").read_text() == svg, f"docs/architecture.svg {STALE}"


def test_the_stack_interfaces_page_is_generated_from_the_current_stacks(synthesized):
    page = stack_interfaces.render(synthesized[PICTURE_ENVIRONMENT], PICTURE_ENVIRONMENT)
    assert (DOCS / "stack-interfaces.md").read_text() == page, f"docs/stack-interfaces.md {STALE}"


def test_every_producer_a_stack_takes_is_typed_with_the_producers_class():
    for name, cls in stack_interfaces.stack_classes().items():
        for parameter in stack_interfaces.parameters(cls):
            assert "Stack" in parameter, f"{name}: {parameter} is not typed with a stack class"
