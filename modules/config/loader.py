"""Read an environment file and turn every problem into one line: file, field, what is allowed.

Why: ML platform engineers edit these files by hand; a traceback from deep inside pydantic tells them nothing.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from pathlib import Path

from pydantic import BaseModel, ValidationError

from modules.config.environment import PipelineConfig
from modules.config.image_tag import IMAGE_TAG_ENV, IMAGE_TAG_FIELDS, image_tag_problems

CONFIG_DIR = Path(__file__).resolve().parent.parent.parent / "config"
DEFAULT_ENVIRONMENT = "local"


class ConfigError(Exception):
    """A config problem, already phrased as the one line the user sees."""


def config_path_from_env(environ: dict[str, str] | None = None) -> Path:
    """`PIPELINE_CONFIG` (a file) wins over `PIPELINE_ENV` (a name under config/, default `local`)."""
    environ = os.environ if environ is None else environ
    explicit = environ.get("PIPELINE_CONFIG")
    if explicit:
        return Path(explicit)
    name = environ.get("PIPELINE_ENV") or DEFAULT_ENVIRONMENT
    path = CONFIG_DIR / f"{name}.toml"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in CONFIG_DIR.glob("*.toml")))
        raise ConfigError(f"PIPELINE_ENV={name}: no file config/{name}.toml; allowed: {known}")
    return path


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _allowed_keys(model: type[BaseModel], loc: tuple) -> list[str]:
    """Field names of the (sub)model that holds the unknown key at LOC."""
    current: type[BaseModel] | None = model
    for part in loc[:-1]:
        if current is None or not isinstance(part, str) or part not in current.model_fields:
            return []
        annotation = current.model_fields[part].annotation
        current = annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None
    return sorted(current.model_fields) if current else []


# What each strict type error allows, in TOML's words (the schema converts nothing: `strict=True` in base.py).
TYPE_ERRORS = {
    "bool_type": "must be true or false (a TOML boolean, without quotes)",
    "int_type": "must be a whole number, without quotes (e.g. 30)",
    "float_type": "must be a number, without quotes (e.g. 1.5)",
    "string_type": "must be a string, in double quotes",
    "tuple_type": "must be an array, in square brackets",
    "list_type": "must be an array, in square brackets",
    "dict_type": "must be a table ([section] or { key = value })",
    "model_type": "must be a table ([section] or { key = value })",
    "model_attributes_type": "must be a table ([section] or { key = value })",
}


def toml_value(value: object) -> str:
    """VALUE as it was written in TOML, for an error message."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list | tuple):
        return "an array"
    if isinstance(value, dict):
        return "a table"
    return f"a {type(value).__name__}"


def _describe(error: dict, model: type[BaseModel]) -> str:
    loc = tuple(part for part in error["loc"] if not (isinstance(part, str) and part in ("local", "s3")
                                                        and error["loc"][:1] == ("backend",)))
    field = ".".join(str(part) for part in loc) or "(file)"
    if error["type"] == "extra_forbidden":
        allowed = _allowed_keys(model, loc)
        return f"{field}: unknown key; allowed: {', '.join(allowed)}" if allowed else f"{field}: unknown key"
    if error["type"] in TYPE_ERRORS:
        return f"{field}: {TYPE_ERRORS[error['type']]}, not {toml_value(error['input'])}"
    if error["type"] == "union_tag_invalid":  # the key that picks a table's kind, e.g. backend.type
        key = error["ctx"]["discriminator"].strip("'")
        allowed = error["ctx"]["expected_tags"].replace("'", '"')  # TOML's quotes
        return f"{field}.{key}: must be one of {allowed}, not {toml_value(error['input'].get(key))}"
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "value_error" and not loc:
        return message  # model-level combination checks already name their fields
    return f"{field}: {message}"


def _override_image_tags(raw: dict, tag: str, shown: str) -> None:
    """PIPELINE_IMAGE_TAG (e.g. the git sha of the commit whose images CI pushed) replaces every image tag of the
    environment, so one synth renders a reviewable plan with the tag that will really run."""
    problems = image_tag_problems(IMAGE_TAG_ENV, tag, production=raw.get("production") is True)
    if problems:
        raise ConfigError(f"{shown}: {'; '.join(problems)}")
    for sections, field in IMAGE_TAG_FIELDS:
        table = raw
        for section in sections:
            table = table.setdefault(section, {}) if isinstance(table, dict) else None
        if isinstance(table, dict):  # otherwise a malformed section, which validation names
            table[field] = tag


def load_config(path: Path) -> PipelineConfig:
    """Parse and validate PATH; raise ConfigError with one line naming the file, the field and what is allowed."""
    shown = _display(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{shown}: file not found") from None
    except OSError as exc:
        raise ConfigError(f"{shown}: cannot read: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{shown}: malformed TOML: {exc}") from None
    named_by_file = "environment" not in raw
    raw.setdefault("environment", path.stem)
    emulator_url = os.environ.get("PIPELINE_EMULATOR_URL")
    if emulator_url:
        raw.setdefault("emulator", {})["url"] = emulator_url
    image_tag = os.environ.get(IMAGE_TAG_ENV)
    if image_tag:
        _override_image_tags(raw, image_tag, shown)
    try:
        return PipelineConfig.model_validate(raw)
    except ValidationError as exc:
        problems = [_describe(error, PipelineConfig) for error in exc.errors(include_url=False)]
        if named_by_file and any(_ENVIRONMENT_SETTING.search(problem) for problem in problems):
            problems.append(f"the environment name {raw['environment']!r} is the file name {path.name} (the file "
                            "sets no environment); set environment = \"<name>\" in the file, or rename the file")
        raise ConfigError(f"{shown}: {'; '.join(problems)}") from None


# A problem whose leading settings (before the first ": ") include the environment name.
_ENVIRONMENT_SETTING = re.compile(r"^[^:]*\benvironment\b[^:]*:")
