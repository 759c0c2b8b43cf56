"""Construct props carry no numbers of their own: a numeric default is read from modules/defaults.py (security
invariants) or modules/limits.py (AWS facts), never typed into the props.

Why: a tunable has one owner, the config schema (which documents it); a number a stack always passes is dead
when it is also a prop default (editing it changes nothing), and one a stack relies on is a second, undocumented
home of a setting. Defaults that mean "none" (None, empty tuples) are not numbers and stay.
"""

from __future__ import annotations

import ast
import dataclasses
import importlib
import inspect
import pkgutil
import sys
from dataclasses import dataclass

import pytest

import modules.constructs
from modules import defaults, limits
from modules.limits import HTTPS_PORT

HOMES = (defaults, limits)


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _home_values() -> list[object]:
    """Every number the two modules export, a limit's value included."""
    values = []
    for module in HOMES:
        for name, value in vars(module).items():
            value = value.value if isinstance(value, limits.Limit) else value
            if not name.startswith("_") and _is_number(value):
                values.append(value)
    return values


def _default_expression(cls: type, field: str) -> ast.expr:
    """The expression after `FIELD: type =` in CLS's body."""
    tree = ast.parse(inspect.getsource(sys.modules[cls.__module__]))
    body = next(node for node in ast.walk(tree) if isinstance(node, ast.ClassDef) and node.name == cls.__name__)
    return next(
        node.value
        for node in body.body
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.target.id == field
    )


def numbers_of_their_own(classes: list[type]) -> list[str]:
    """One line per dataclass field of CLASSES whose numeric default is typed in (a literal anywhere in the
    expression), or is not the very object defaults.py or limits.py exports: small numbers are shared objects in
    Python, so the literal check is what tells `= 30` from `= defaults.KMS_DELETION_WINDOW_DAYS`."""
    homes = _home_values()
    problems = []
    for cls in classes:
        for field in dataclasses.fields(cls):
            if not _is_number(field.default):
                continue
            expression = _default_expression(cls, field.name)
            literal = any(isinstance(node, ast.Constant) and _is_number(node.value) for node in ast.walk(expression))
            if literal or not any(field.default is value for value in homes):
                problems.append(
                    f"{cls.__module__}.{cls.__name__}.{field.name} = {ast.unparse(expression)}: a tunable comes "
                    "from config (make the prop required), an invariant or AWS fact from modules/defaults.py or "
                    "modules/limits.py"
                )
    return problems


def construct_dataclasses() -> list[type]:
    classes = []
    for info in pkgutil.iter_modules(modules.constructs.__path__):
        module = importlib.import_module(f"modules.constructs.{info.name}")
        classes += [
            value
            for value in vars(module).values()
            if isinstance(value, type) and dataclasses.is_dataclass(value) and value.__module__ == module.__name__
        ]
    return classes


def test_construct_props_read_every_numeric_default_from_defaults_or_limits():
    classes = construct_dataclasses()
    assert any(cls.__name__ == "EncryptedQueueProps" for cls in classes)  # the walk finds the props
    assert numbers_of_their_own(classes) == []


@dataclass(frozen=True, kw_only=True)
class _TypedIn:
    port: int = 8080
    share: float = 0.5


@dataclass(frozen=True, kw_only=True)
class _SameNumberTypedIn:
    window_days: int = 30  # defaults.KMS_DELETION_WINDOW_DAYS is 30 too, and the same object


@dataclass(frozen=True, kw_only=True)
class _FromTheHomes:
    port: int = HTTPS_PORT
    window_days: int = defaults.KMS_DELETION_WINDOW_DAYS
    retention_seconds: int = limits.SQS_MESSAGE_RETENTION.value
    name: str = "x"
    enabled: bool = True
    count: int | None = None


@pytest.mark.parametrize(
    ("cls", "fields"),
    [(_TypedIn, ["port", "share"]), (_SameNumberTypedIn, ["window_days"]), (_FromTheHomes, [])],
    ids=["typed-in", "same-number-typed-in", "from-the-homes"],
)
def test_a_number_typed_into_props_is_named_and_one_from_the_homes_passes(cls, fields):
    named = [problem.split(" = ")[0].rsplit(".", 1)[1] for problem in numbers_of_their_own([cls])]
    assert named == fields
