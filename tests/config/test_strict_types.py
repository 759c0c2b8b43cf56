"""The config converts no type, for every setting of the shipped files, not only the ones a test names.

The cases are held out from the implementation: they are generated from every scalar `key = value` line of
config/{local,dev,prod}.toml (inside arrays, inline tables and arrays of tables too), each value rewritten as the other TOML
types a user might write by mistake (`"5"` or `5.0` for 5, `"true"` or `1` for true, `1` or `true` for a string).
Each must be refused in one line that names the file and the setting; none may load.
"""

from __future__ import annotations

import re
import tomllib

import pytest

from modules.config import load_config
from modules.config.loader import toml_value
from tests.config.config_text import refusal, shipped_config_text
from tests.conftest import PROJECT_ROOT

_HEADER = re.compile(r"^\[(\[)?\s*([\w.-]+)\s*\]\]?\s*(#.*)?$")
_ASSIGNMENT = re.compile(r"^([\w-]+)\s*=\s*(.+)$")


def _wrong_types(value: object, loaded: object) -> list[str]:
    """TOML spellings of VALUE's content as other types: the mistakes strict typing must refuse. LOADED is the value
    the schema made of it: an integer written for a number field (a float) is TOML's one accepted widening."""
    if isinstance(value, bool):
        return [f'"{str(value).lower()}"', "1" if value else "0"]
    if isinstance(value, int):
        return [f'"{value}"', "true"] + ([] if isinstance(loaded, float) else [f"{value}.0"])
    if isinstance(value, float):
        return [f'"{value}"', "true"]
    if isinstance(value, str):
        return ["1", "true"]
    return []


def _cases() -> list[tuple[str, int, str, str]]:
    """(environment, line number, dotted setting, the line's value with that setting mistyped) for every scalar of
    the shipped files, inside arrays and inline tables too (a multi-line array's items are left out)."""
    cases = []
    for env in ("local", "dev", "prod"):
        section, tables = "", {}
        config = load_config(PROJECT_ROOT / "config" / f"{env}.toml")
        for number, line in enumerate(shipped_config_text(env).splitlines()):
            if header := _HEADER.match(line):
                section = header[2]
                if header[1]:  # [[array.of.tables]]: the n-th entry is <array>.<n>
                    tables[section] = tables.get(section, -1) + 1
                    section = f"{section}.{tables[section]}"
                continue
            if not (assignment := _ASSIGNMENT.match(line)):
                continue
            try:
                value = tomllib.loads(f"v = {assignment[2]}")["v"]  # TOML itself drops a trailing comment
            except tomllib.TOMLDecodeError:
                continue  # the first line of a multi-line array
            setting = f"{section}.{assignment[1]}".lstrip(".")
            cases += [(env, number, f"{setting}{path}", wrong) for path, wrong in _mistyped(value, config, setting)]
    return cases


def _mistyped(value: object, config: object, setting: str, path: str = "") -> list[tuple[str, str]]:
    """(path under SETTING, VALUE in TOML with the scalar at that path mistyped) for every scalar in VALUE."""
    if isinstance(value, dict | list):
        items = value.items() if isinstance(value, dict) else enumerate(value)
        found = []
        for key, item in items:
            for inner, wrong in _mistyped(item, config, setting, f"{path}.{key}"):
                copy = dict(value) if isinstance(value, dict) else list(value)
                copy[key] = _Raw(wrong)
                found.append((inner, _toml(copy)))
        return found
    return [(path, wrong) for wrong in _wrong_types(value, _loaded(config, setting + path))]


class _Raw(str):
    """TOML text to write as is."""


def _toml(value: object) -> str:
    if isinstance(value, _Raw):
        return str(value)
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{key} = {_toml(item)}" for key, item in value.items()) + " }"
    if isinstance(value, list):
        return "[" + ", ".join(_toml(item) for item in value) + "]"
    return toml_value(value)


def _loaded(config: object, setting: str) -> object:
    """The loaded value of the dotted SETTING (attributes, array indexes, table keys)."""
    for part in setting.split("."):
        if isinstance(config, dict):
            config = config[part]
        elif isinstance(config, tuple):
            config = config[int(part)]
        else:
            config = getattr(config, part.replace("-", "_"))
    return config


CASES = _cases()


def test_the_generated_cases_cover_every_section_of_the_shipped_files():
    settings = {setting for _, _, setting, _ in CASES}
    sections = {setting.split(".")[0] for setting in settings}
    assert {
        "project",
        "region",
        "log_retention_days",
        "backend",
        "registry",
        "emulator",
        "network",
        "storage",
        "messaging",
        "compute",
        "inference",
        "api",
        "tags",
        "state",
    } <= sections
    assert {
        "messaging.queues.1.visibility_timeout_seconds",
        "messaging.queues.0.filter.priority.0",
        "messaging.alarm_subscriptions.0.endpoint",
        "allowed_account_ids.0",
    } <= settings
    assert any(setting.startswith("inference.rollout.") for setting in settings)
    assert len(CASES) > 150


@pytest.mark.parametrize(
    ("env", "number", "setting", "wrong"), CASES, ids=[f"{env}:{setting}={wrong}" for env, _, setting, wrong in CASES]
)
def test_a_wrongly_typed_value_of_any_shipped_setting_is_refused_in_one_line_naming_it(
    tmp_path, env, number, setting, wrong
):
    lines = shipped_config_text(env).splitlines()
    lines[number] = f"{_ASSIGNMENT.match(lines[number])[1]} = {wrong}"
    message = refusal(tmp_path, "\n".join(lines) + "\n", f"{env}.toml")  # refused in one line
    assert message.startswith(f"{tmp_path / f'{env}.toml'}: ")
    assert re.search(rf"(^|: |; ){re.escape(setting)}: ", message), message
