"""One rule for every image tag (compute.inference_service, compute.queue_worker, inference): moving tags are
refused in every environment, production also refuses tags that do not look immutable, and PIPELINE_IMAGE_TAG
sets every tag of the environment at synth."""

from __future__ import annotations

import pytest

from modules.config import ConfigError, load_config
from modules.config.image_tag import IMAGE_TAG_ENV, MOVING_TAGS
from tests.config.config_text import load_config_text, shipped_config_text
from tests.conftest import ENVIRONMENTS, PROJECT_ROOT

TAG_FIELDS = ("compute.inference_service", "compute.queue_worker", "inference")


def _with_tag(text: str, section: str, tag: str) -> str:
    """TEXT with `image_tag = TAG` as the only image_tag of [SECTION] (the table is added when missing)."""
    header = f"[{section}]"
    lines = text.splitlines()
    if header not in lines:
        return f'{text}\n{header}\nimage_tag = "{tag}"\n'
    start = lines.index(header) + 1
    end = next((i for i in range(start, len(lines)) if lines[i].startswith("[")), len(lines))
    body = [line for line in lines[start:end] if not line.startswith("image_tag")]
    return "\n".join([*lines[:start], f'image_tag = "{tag}"', *body, *lines[end:]]) + "\n"


def _tags(config) -> dict[str, str]:
    return {
        "compute.inference_service": config.compute.inference_service.image_tag,
        "compute.queue_worker": config.compute.queue_worker.image_tag,
        "inference": config.inference.image_tag,
    }


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_no_environment_file_runs_a_moving_tag(env, monkeypatch):
    monkeypatch.delenv(IMAGE_TAG_ENV, raising=False)
    tags = _tags(load_config(PROJECT_ROOT / "config" / f"{env}.toml"))
    assert not {field: tag for field, tag in tags.items() if tag.lower() in MOVING_TAGS}


@pytest.mark.parametrize("env", ENVIRONMENTS)
@pytest.mark.parametrize("section", TAG_FIELDS)
@pytest.mark.parametrize("tag", ["latest", "stable", "main"])
def test_a_moving_tag_is_refused_in_every_environment(tmp_path, monkeypatch, env, section, tag):
    """GIVEN immutable repositories, WHEN any tag field of any environment names a moving tag, THEN config
    validation refuses it in one line naming the field (the second push of `latest` would fail)."""
    monkeypatch.delenv(IMAGE_TAG_ENV, raising=False)
    with pytest.raises(ConfigError) as error:
        load_config_text(tmp_path, _with_tag(shipped_config_text(env), section, tag), f"{env}.toml")
    assert f"{section}.image_tag: '{tag}' is a moving tag, refused in every environment" in str(error.value)
    assert "\n" not in str(error.value)


@pytest.mark.parametrize("section", TAG_FIELDS)
def test_production_refuses_a_tag_that_does_not_look_immutable(tmp_path, monkeypatch, section):
    monkeypatch.delenv(IMAGE_TAG_ENV, raising=False)
    with pytest.raises(
        ConfigError,
        match=rf"{section}.image_tag: 'my-feature' does not look immutable, refused "
        r"when production = true",
    ):
        load_config_text(tmp_path, _with_tag(shipped_config_text("prod"), section, "my-feature"), "prod.toml")


def test_a_branch_like_tag_is_fine_outside_production(tmp_path, monkeypatch):
    monkeypatch.delenv(IMAGE_TAG_ENV, raising=False)
    config = load_config_text(tmp_path, _with_tag(shipped_config_text("dev"), "inference", "my-feature"), "dev.toml")
    assert config.inference.image_tag == "my-feature"


@pytest.mark.parametrize("tag", ["1.4.2", "v2.0.0-rc1", "3f9c2ab", "0123456789ab", "sha256:" + "a" * 64])
@pytest.mark.parametrize("section", TAG_FIELDS)
def test_production_accepts_versions_shas_and_digests(tmp_path, monkeypatch, section, tag):
    monkeypatch.delenv(IMAGE_TAG_ENV, raising=False)
    config = load_config_text(tmp_path, _with_tag(shipped_config_text("prod"), section, tag), "prod.toml")
    assert _tags(config)[section] == tag


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_pipeline_image_tag_sets_every_image_tag_of_the_environment(monkeypatch, env):
    """The release story: CI pushes the images tagged with the commit's sha, then
    `PIPELINE_IMAGE_TAG=$(git rev-parse --short=12 HEAD) make synth` renders a plan with exactly that tag."""
    monkeypatch.setenv(IMAGE_TAG_ENV, "0123456789ab")
    config = load_config(PROJECT_ROOT / "config" / f"{env}.toml")
    assert set(_tags(config).values()) == {"0123456789ab"}


@pytest.mark.parametrize(
    ("tag", "env", "expected"),
    [
        ("latest", "dev", f"{IMAGE_TAG_ENV}: 'latest' is a moving tag, refused in every environment"),
        (
            "my-feature",
            "prod",
            f"{IMAGE_TAG_ENV}: 'my-feature' does not look immutable, refused when production = true",
        ),
        ("-bad", "dev", f"{IMAGE_TAG_ENV}: '-bad' is not an image tag"),
    ],
)
def test_pipeline_image_tag_is_judged_by_the_same_rule(monkeypatch, tag, env, expected):
    monkeypatch.setenv(IMAGE_TAG_ENV, tag)
    with pytest.raises(ConfigError) as error:
        load_config(PROJECT_ROOT / "config" / f"{env}.toml")
    assert expected in str(error.value)
    assert "\n" not in str(error.value)


def test_an_empty_pipeline_image_tag_changes_nothing(monkeypatch):
    monkeypatch.setenv(IMAGE_TAG_ENV, "")
    assert _tags(load_config(PROJECT_ROOT / "config" / "prod.toml"))["inference"] == "1.0.0"
