"""`[inference.rollout]`, `[inference.shadow]` and `[inference.dashboard]`: what SageMaker supports per mode and
fleet, refused at synth with one line naming the field (SageMaker would refuse it mid-release, the emulator never)."""

from __future__ import annotations

import re

import pytest

from modules.config import ConfigError
from tests.config.test_inference_api_config import LOCAL, PROD, SERVERLESS, _load

PROD_ROLLOUT = '[inference.rollout]\nstrategy = "canary"\nstep_size = 1\nwait_interval_seconds = 900\ntermination_wait_seconds = 600\n'


def _prod_rollout(tmp_path, rollout: str):
    assert PROD_ROLLOUT in PROD
    return _load(tmp_path, PROD.replace(PROD_ROLLOUT, f"[inference.rollout]\n{rollout}\n"))


def _refused(tmp_path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        _load(tmp_path, text)


def test_prod_ships_a_canary_of_one_instance_baked_while_the_alarms_are_watched(tmp_path):
    rollout = _load(tmp_path, PROD).inference.rollout
    assert (rollout.strategy, rollout.step_size, rollout.step_unit) == ("canary", 1, "instances")
    assert rollout.rolls_back("real-time") and rollout.wait_interval_seconds == 900


@pytest.mark.parametrize(("rollout", "strategy"), [
    ('strategy = "all-at-once"', "all-at-once"),
    ('strategy = "linear"\nstep_size = 50\nstep_unit = "percent"', "linear"),
    ('strategy = "rolling"\nstep_size = 1\nrollback_step_size = 2', "rolling"),
])
def test_every_rollout_mode_is_accepted_where_it_fits_the_fleet(tmp_path, rollout, strategy):
    assert _prod_rollout(tmp_path, rollout).inference.rollout.strategy == strategy


@pytest.mark.parametrize(("rollout", "message"), [
    ('strategy = "canary"\nstep_size = 2',
     "rollout.step_size: canary steps are 1-50 % of the instances (fleet of 2-6): allowed 1-1 instances, got 2"),
    ('strategy = "linear"\nstep_size = 2',
     "rollout.step_size: linear steps are 10-50 % of the instances (fleet of 2-6): allowed 1-1 instances, got 2"),
    ('strategy = "canary"\nstep_size = 60\nstep_unit = "percent"', "step_size: canary steps are 1-50 % of the instances, got 60"),
    ('strategy = "linear"\nstep_size = 5\nstep_unit = "percent"', "step_size: linear steps are 10-50 % of the instances, got 5"),
    ('strategy = "canary"', "step_size: required with strategy 'canary' (1-50 % of the instances)"),
    ('step_size = 1', "step_size: applies only to strategy 'canary', 'linear' or 'rolling', not to 'all-at-once'"),
    ('strategy = "canary"\nstep_size = 1\nrollback_step_size = 1', "rollback_step_size: applies only to strategy 'rolling'"),
    ('strategy = "rolling"\nstep_size = 1\ntermination_wait_seconds = 60',
     "termination_wait_seconds: applies only to blue/green strategies"),
    ("wait_interval_seconds = 300",
     "rollout.wait_interval_seconds: 300 s is shorter than the 900 s the endpoint's alarms need to fire"),
    ("wait_interval_seconds = 3601", "inference.rollout.wait_interval_seconds: Input should be less than or equal to 3600"),
    ("maximum_execution_timeout_seconds = 900",
     "rollout.maximum_execution_timeout_seconds: 900 s ends the update before its own baking and termination wait (900 s)"),
    ('strategy = "blue-green"', "inference.rollout.strategy: Input should be 'all-at-once', 'canary', 'linear' or 'rolling'"),
])
def test_a_rollout_sagemaker_would_refuse_for_this_fleet_is_refused_by_name(tmp_path, rollout, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        _prod_rollout(tmp_path, rollout)


def test_a_short_baking_period_is_fine_once_auto_rollback_is_off(tmp_path):
    rollout = _prod_rollout(tmp_path, "wait_interval_seconds = 300\nauto_rollback = false").inference.rollout
    assert not rollout.rolls_back("real-time")


def test_serverless_endpoints_get_sagemakers_own_update_and_refuse_every_guardrail_knob(tmp_path):
    assert not _load(tmp_path, SERVERLESS).inference.rollout.guarded("serverless")
    _refused(tmp_path, SERVERLESS + '\n[inference.rollout]\nstrategy = "canary"\nstep_size = 1\n',
             "inference: rollout.step_size: applies only to mode 'real-time' or 'async' (SageMaker deployment "
             "guardrails), not to mode 'serverless'; remove it; rollout.strategy: applies only")
    _refused(tmp_path, SERVERLESS + "\n[inference.rollout]\nauto_rollback = true\n",
             "rollout.auto_rollback: applies only to mode 'real-time' or 'async'")


def test_async_scaling_to_zero_takes_steps_in_percent_not_instances(tmp_path):
    text = LOCAL  # async
    assert _load(tmp_path, text).inference.mode == "async"
    _refused(tmp_path, text + '\n[inference.rollout]\nstrategy = "canary"\nstep_size = 1\n',
             "rollout.step_size: canary steps are 1-50 % of the instances (fleet of 0-4): allowed no instance count "
             "fits every fleet of 0-4; use step_unit = \"percent\"")
    rollout = '\n[inference.rollout]\nstrategy = "canary"\nstep_size = 25\nstep_unit = "percent"\n'
    assert _load(tmp_path, text + rollout).inference.rollout.step_size == 25


# --- shadow ----------------------------------------------------------------------------------------------------


def _with_shadow(text: str, shadow: str) -> str:
    return text.replace("# [inference.shadow]\n", f"[inference.shadow]\n{shadow}\n# ", 1)


def test_a_shadow_candidate_is_a_version_of_the_same_model_on_its_own_instances(tmp_path):
    inference = _load(tmp_path, _with_shadow(PROD, 'model_version = "1.1.0"\nsampling_percentage = 20')).inference
    assert inference.shadow_artifact_key == "models/inference/1.1.0/model.tar.gz"
    assert (inference.shadow.sampling_percentage, inference.shadow.initial_instance_count) == (20, 1)


@pytest.mark.parametrize(("shadow", "message"), [
    ('model_version = "1.0.0"', "shadow.model_version: '1.0.0' is the production version with the same image"),
    ('model_version = "latest"', "shadow.model_version: 'latest' does not name one artifact"),
    ('model_version = "1.1.0"\nsampling_percentage = 0', "inference.shadow.sampling_percentage: Input should be greater"),
    ('model_version = "1.1.0"\nimage_tag = "stable"', "inference.shadow.image_tag: 'stable' is a moving tag"),
])
def test_a_shadow_that_compares_nothing_or_names_no_artifact_is_refused(tmp_path, shadow, message):
    _refused(tmp_path, _with_shadow(PROD, shadow), message)


def test_a_shadow_refuses_modes_without_instances_and_rolling_updates(tmp_path):
    _refused(tmp_path, SERVERLESS + '\n[inference.shadow]\nmodel_version = "2.0.0"\n',
             "shadow: applies only to mode 'real-time' (a shadow variant needs instances), not to mode 'serverless'")
    text = _with_shadow(PROD, 'model_version = "1.1.0"').replace(PROD_ROLLOUT, '[inference.rollout]\nstrategy = "rolling"\nstep_size = 1\n')
    _refused(tmp_path, text, "rollout.strategy: 'rolling' does not work on an endpoint with a shadow variant")


def test_the_smoke_request_must_be_a_json_object_and_the_dashboard_a_known_range(tmp_path):
    _refused(tmp_path, LOCAL.replace("[inference]\n", "[inference]\nsmoke_request = '[1, 2]'\n", 1),
             "smoke_request: must be a JSON object (the body of POST /v1/predict)")
    _refused(tmp_path, LOCAL + '\n[inference.dashboard]\nstart = "yesterday"\n', "inference.dashboard.start: String should match")
