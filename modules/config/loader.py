"""Read an environment file and turn every problem into one line: file, field, what is allowed.

Why: ML platform engineers edit these files by hand; a traceback from deep inside pydantic tells them nothing.
"""

from __future__ import annotations

import os
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


def _describe(error: dict, model: type[BaseModel]) -> str:
    loc = tuple(part for part in error["loc"] if not (isinstance(part, str) and part in ("local", "s3")
                                                        and error["loc"][:1] == ("backend",)))
    field = ".".join(str(part) for part in loc) or "(file)"
    if error["type"] == "extra_forbidden":
        allowed = _allowed_keys(model, loc)
        return f"{field}: unknown key; allowed: {', '.join(allowed)}" if allowed else f"{field}: unknown key"
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
        raise ConfigError(f"{shown}: {'; '.join(problems)}") from None
