"""Imports point one way: config <- constructs <- stacks <- main; tools may use modules, never the reverse; runtime
code (lambdas/, containers/) never imports infrastructure code; leaf modules import nothing of the project.

Why a test: an import that points the wrong way is how a rule gets a second home (the schema reading a
construct's constant, a stack starting the emulator); this fails on the line that does it. Every import counts,
also those inside functions.
"""

from __future__ import annotations

import ast
import importlib

import pytest

from tests.conftest import PROJECT_ROOT

PROJECT_PACKAGES = ("modules", "lambdas", "containers", "tools", "main", "tests", "benchmarks")
# The names both sides of the runtime contract share: the one runtime module infrastructure may import.
SHARED_CONTRACT = "lambdas.contract"
LEAVES = ("modules/limits.py", "modules/defaults.py", "lambdas/contract.py")

# layer (path prefix) -> project modules it may import (prefixes; a module may always import its own layer)
ALLOWED: dict[str, tuple[str, ...]] = {
    "modules/config/": ("modules.config", "modules.limits", "modules.defaults", SHARED_CONTRACT),
    "modules/constructs/": (
        "modules.constructs",
        "modules.config",
        "modules.aws",
        "modules.limits",
        "modules.defaults",
        SHARED_CONTRACT,
    ),
    "modules/stacks/": ("modules", SHARED_CONTRACT),
    "modules/": ("modules", SHARED_CONTRACT),
    "main.py": ("modules",),
    "lambdas/": ("lambdas",),
    "containers/": ("containers", "lambdas"),
    "tools/": ("tools", "modules", "lambdas", "containers", "main"),
}


def project_imports(source: str) -> list[tuple[str, int]]:
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.module, node.lineno))
            # `from lambdas import contract` imports lambdas.contract
            found += [
                (f"{node.module}.{alias.name}", node.lineno) for alias in node.names if node.module in PROJECT_PACKAGES
            ]
    return [(name, line) for name, line in found if name.split(".")[0] in PROJECT_PACKAGES]


def _allowed(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def _layer(relative: str) -> str | None:
    return next((layer for layer in ALLOWED if relative.startswith(layer) or relative == layer), None)


def _sources() -> list[tuple[str, str]]:
    roots = [PROJECT_ROOT / folder for folder in ("modules", "lambdas", "containers", "tools")]
    paths = [PROJECT_ROOT / "main.py"] + sorted(p for root in roots for p in root.rglob("*.py"))
    return [(path.relative_to(PROJECT_ROOT).as_posix(), path.read_text()) for path in paths]


def violations(sources: list[tuple[str, str]]) -> list[str]:
    """One line per import against the layers, for (path relative to the project, source) pairs."""
    problems = []
    for relative, source in sources:
        layer = _layer(relative)
        for name, line in project_imports(source):
            if name in ("lambdas", "modules", "containers", "tools"):  # the bare package of a `from X import y`
                continue
            if relative in LEAVES:
                problems.append(f"{relative}:{line} imports {name}, but a leaf module imports nothing of the project")
            elif layer is not None and not _allowed(name, ALLOWED[layer]):
                problems.append(
                    f"{relative}:{line} imports {name}: {layer} may import only {', '.join(ALLOWED[layer])}"
                )
    return problems


def test_every_import_points_the_way_the_layers_allow():
    assert violations(_sources()) == []


@pytest.mark.parametrize(
    ("relative", "source", "expected"),
    [
        (
            "modules/stacks/x.py",
            "from tools.emulator import provider_settings\n",
            "modules/stacks/x.py:1 imports tools.emulator",
        ),
        (
            "modules/config/x.py",
            "def f():\n    from modules.constructs.kms_key import KmsKey\n",
            "modules/config/x.py:2 imports modules.constructs",
        ),
        ("lambdas/x.py", "from modules.limits import LAMBDA_TIMEOUT\n", "lambdas/x.py:1 imports modules.limits"),
        (
            "modules/limits.py",
            "from modules.config.base import StrictModel\n",
            "modules/limits.py:1 imports modules.config",
        ),
        ("modules/stacks/x.py", "from lambdas import json_logs\n", "modules/stacks/x.py:1 imports lambdas.json_logs"),
    ],
)
def test_an_import_against_the_layers_is_named_with_its_file_and_line(relative, source, expected):
    assert [problem for problem in violations([(relative, source)]) if problem.startswith(expected)]


def test_imports_the_layers_allow_pass():
    assert (
        violations(
            [
                ("modules/stacks/x.py", "from lambdas import contract\nfrom modules.constructs import y\n"),
                ("tools/x.py", "import main\nfrom modules.config import load_config\n"),
            ]
        )
        == []
    )


CONSTRUCTS = "modules/constructs/"


def config_values_in_constructs(sources: list[tuple[str, str]]) -> list[str]:
    """One line per name a construct imports from modules.config that is not a type (a class).

    Why: a construct may type a prop with a config class (a subnet plan), but the numbers and lists both sides
    check against (Fargate sizes, log types, endpoint services) are AWS facts and shared rules, whose one home is
    modules/limits.py (or modules/defaults.py); read from the schema, they would have two."""
    problems = []
    for relative, source in sources:
        if not relative.startswith(CONSTRUCTS):
            continue
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Import):
                problems += [
                    f"{relative}:{node.lineno} imports {alias.name}: import only types from modules.config"
                    for alias in node.names
                    if _allowed(alias.name, ("modules.config",))
                ]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [(node.module, alias.name) for alias in node.names]
                if node.module == "modules":
                    names = [(f"modules.{name}", None) for _, name in names if name == "config"]
                for module, name in names:
                    if not _allowed(module, ("modules.config",)):
                        continue
                    value = getattr(importlib.import_module(module), name) if name else None
                    if not isinstance(value, type):
                        what = f"{module}.{name}" if name else module
                        problems.append(
                            f"{relative}:{node.lineno} imports {what}, not a type: AWS facts and shared "
                            "rules come from modules.limits or modules.defaults"
                        )
    return problems


def test_constructs_take_only_types_from_the_config_schema():
    assert config_values_in_constructs(_sources()) == []


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("from modules.config.fargate import FARGATE_STOP_TIMEOUT\n", "imports modules.config.fargate.FARGATE_STOP"),
        ("from modules.config.eks import CONTROL_PLANE_LOGS\n", "imports modules.config.eks.CONTROL_PLANE_LOGS"),
        ("import modules.config.network\n", "imports modules.config.network: import only types"),
        ("from modules import config\n", "imports modules.config, not a type"),
    ],
)
def test_a_value_a_construct_takes_from_the_schema_is_named_with_its_line(source, expected):
    assert [
        problem for problem in config_values_in_constructs([("modules/constructs/x.py", source)]) if expected in problem
    ]


def test_a_config_type_a_construct_takes_passes():
    assert (
        config_values_in_constructs([("modules/constructs/x.py", "from modules.config.network import SubnetPlan\n")])
        == []
    )
