"""Which upstream changes make a downstream stack's reviewed plan stale: the outputs each stack reads (from the
synthesized prod stacks) and the rule `decide` applies to them. Pure: no Terraform (test_saved_plans.py runs the
same rule against real plans)."""

from __future__ import annotations

import json
from pathlib import Path

from tools.plan_review.saved import APPLY_SAVED, REPLAN, Meta, upstream_reason
from tools.plan_review.stacks import ANY_OUTPUT, ci_stacks, dependency_order, outputs_read

# What a model release changes in the inference stack's reviewed plan (config [inference] model: a new model and
# endpoint configuration, the endpoint updated in place).
MODEL_RELEASE = ("endpoint_configuration_name", "model_name")


def prod_reads(synthesized: dict[str, Path]) -> dict[str, dict[str, frozenset[str]]]:
    return outputs_read(ci_stacks(synthesized["prod"]))


def outputs_of(outdir: Path, stack: str) -> set[str]:
    return set(json.loads((outdir / "stacks" / stack / "cdk.tf.json").read_text()).get("output", {}))


def test_prod_batch_reads_the_inference_execution_role_name_and_not_the_model(synthesized: dict[str, Path]) -> None:
    (read,) = prod_reads(synthesized)["batch"]["inference"]
    assert "execution-role" in read and read.endswith("name")
    assert not set(MODEL_RELEASE) & {read}
    assert set(MODEL_RELEASE) <= outputs_of(synthesized["prod"], "inference")  # the release's outputs are real


def test_prod_api_reads_nothing_from_inference(synthesized: dict[str, Path]) -> None:
    assert "inference" not in prod_reads(synthesized)["api"]


def test_every_output_a_stack_reads_is_an_output_of_the_upstream_it_is_mapped_to(
    synthesized: dict[str, Path],
) -> None:
    for env in ("local", "dev", "prod", "local-eks"):
        stacks = ci_stacks(synthesized[env])
        reads = outputs_read(stacks)
        for stack, upstreams in reads.items():
            assert set(upstreams) == {d for d in stacks[stack].dependencies if d in stacks}, (env, stack)
            for upstream, names in upstreams.items():
                assert names, (env, stack, upstream)  # cdktf depends on a stack because it reads from it
                assert names <= outputs_of(synthesized[env], upstream), (env, stack, upstream)


def write_stacks(outdir: Path, stacks: dict[str, tuple[list[str], dict]]) -> None:
    manifest = {"stacks": {}}
    for name, (dependencies, doc) in stacks.items():
        (outdir / "stacks" / name).mkdir(parents=True)
        (outdir / "stacks" / name / "cdk.tf.json").write_text(json.dumps(doc))
        manifest["stacks"][name] = {"workingDirectory": f"stacks/{name}", "dependencies": dependencies}
    (outdir / "manifest.json").write_text(json.dumps(manifest))


def test_a_whole_outputs_reference_reads_any_output_and_an_unknown_remote_state_reads_from_every_dependency(
    tmp_path: Path,
) -> None:
    remote = {"backend": "s3", "config": {"key": "somewhere/else.tfstate"}}
    write_stacks(
        tmp_path,
        {
            "up": ([], {"output": {"a": {"value": "1"}}}),
            "other": ([], {}),
            "state": ([], {"output": {"state_bucket": {"value": "b"}}}),
            "boot": (
                ["state", "up"],
                {
                    "data": {"terraform_remote_state": {"cross-stack-reference-input-state": remote}},
                    "locals": {
                        "b": "${data.terraform_remote_state.cross-stack-reference-input-state.outputs.state_bucket}"
                    },
                },
            ),
            "whole": (
                ["up"],
                {
                    "data": {"terraform_remote_state": {"up": {"backend": "local", "config": {"path": "../up/x"}}}},
                    "locals": {"all": "${data.terraform_remote_state.up.outputs}"},
                },
            ),
            "unknown": (
                ["up", "other"],
                {
                    "data": {"terraform_remote_state": {"mystery": remote}},
                    "locals": {"a": "${data.terraform_remote_state.mystery.outputs.a}"},
                },
            ),
        },
    )
    reads = outputs_read(ci_stacks(tmp_path))
    assert reads["whole"] == {"up": frozenset({ANY_OUTPUT})}
    assert reads["unknown"] == {"up": frozenset({"a"}), "other": frozenset({"a"})}
    assert reads["boot"] == {"up": frozenset()}  # the bootstrap is not planned by CI: its outputs do not count


def test_a_model_release_leaves_the_saved_plans_of_batch_and_api_applicable(synthesized: dict[str, Path]) -> None:
    reads = prod_reads(synthesized)
    changed = {"inference": MODEL_RELEASE}
    assert upstream_reason(reads["batch"], set(), changed) is None
    assert upstream_reason(reads["api"], set(), changed) is None


def test_a_changed_output_the_stack_reads_replans_it_and_names_upstream_and_output(
    synthesized: dict[str, Path],
) -> None:
    reads = prod_reads(synthesized)
    (role_name,) = reads["batch"]["inference"]
    changed = {"inference": (*MODEL_RELEASE, role_name)}
    assert upstream_reason(reads["batch"], set(), changed) == (
        f"it reads inference's {role_name}, which its reviewed plan changes"
    )


def test_a_meta_that_only_says_outputs_changed_replans_every_stack_that_reads_from_it(
    synthesized: dict[str, Path],
) -> None:
    reads = prod_reads(synthesized)
    reason = upstream_reason(reads["batch"], set(), {"inference": (ANY_OUTPUT,)})
    assert reason is not None and reason.startswith("it reads inference's cross-stack-output-aws_iam_roleexecution")
    assert upstream_reason(reads["api"], set(), {"inference": (ANY_OUTPUT,)}) is None


def test_a_replanned_upstream_replans_its_readers_and_their_readers_in_turn(synthesized: dict[str, Path]) -> None:
    stacks = ci_stacks(synthesized["prod"])
    reads = outputs_read(stacks)
    action: dict[str, str] = {}
    for stack in dependency_order(stacks):
        replanned = {name for name, done in action.items() if done == REPLAN}
        reason = "its state changed" if stack == "inference" else upstream_reason(reads[stack], replanned, {})
        action[stack] = APPLY_SAVED if reason is None else REPLAN
    assert upstream_reason(reads["batch"], {"inference"}, {}) == "it reads inference, which is re-planned"
    assert {name for name, done in action.items() if done == REPLAN} == {"inference", "batch", "api"}


def meta_fields(**changes: object) -> dict[str, object]:
    base = {
        "stack": "inference",
        "head_sha": "a" * 40,
        "tree": "b" * 40,
        "pipeline_env": "prod",
        "synth_digest": "c" * 64,
        "lineage": "l",
        "serial": 3,
        "refresh_only": False,
        "changes": True,
    }
    return {**base, **changes}


def test_a_meta_json_from_before_the_names_were_recorded_reads_true_as_every_output(tmp_path: Path) -> None:
    for flag, expected in ((True, (ANY_OUTPUT,)), (False, ())):
        (tmp_path / "meta.json").write_text(json.dumps(meta_fields(output_changes=flag)))
        assert Meta.read(tmp_path).changed_outputs == expected


def test_a_meta_json_round_trips_the_names_of_the_changed_outputs(tmp_path: Path) -> None:
    meta = Meta(**meta_fields(changed_outputs=MODEL_RELEASE))
    meta.write(tmp_path)
    assert json.loads((tmp_path / "meta.json").read_text())["changed_outputs"] == list(MODEL_RELEASE)
    assert Meta.read(tmp_path) == meta
