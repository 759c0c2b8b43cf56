"""The commands of README.md and docs/*.md work as pasted (tools/readme_examples.py): every shell block is marked
with how it is proven and passes the checks a reader's shell would apply; the blocks that need no deployment run
here; request bodies pass the handlers' own validation; and the facts they show from a synth (the README's synth
table, the cost drivers of docs/operations.md) are what synth produces. The run=local blocks run in the e2e step
(tests/e2e), the run=api blocks against an API Gateway stand-in (tests/tools/pipeline/test_aws_target.py).
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from modules.config import load_config
from tests.conftest import PROJECT_ROOT
from tools import readme_examples as readme

SHELL_BLOCKS = readme.shell_blocks()
STATIC_BLOCKS = [block for block in SHELL_BLOCKS if block.run == "static"]
# The costs section's block synthesizes the cheaper dev: the cost test runs it (once) and reads what it wrote.
COST_BLOCK = next(block for block in STATIC_BLOCKS if "dev-cheap.toml" in block.text)
README = PROJECT_ROOT / "README.md"  # the Quick start's synth table
COSTS_PAGE = PROJECT_ROOT / "docs" / "operations.md"  # "Costs, briefly": the cost drivers


@pytest.mark.parametrize("block", SHELL_BLOCKS, ids=[block.where for block in SHELL_BLOCKS])
def test_every_shell_block_says_how_it_is_proven_and_would_run_as_pasted(block):
    assert readme.problems(block) == [], f"{block.where}:\n{block.text}"


def test_the_proven_modes_cover_the_first_hour():
    modes = {block.run for block in SHELL_BLOCKS}
    assert {"static", "local", "api"} <= modes
    local = "\n".join(block.text for block in SHELL_BLOCKS if block.run == "local")
    for step in (
        "make synth",
        "make deploy-local",
        "./pipeline jobs submit",
        "./pipeline jobs wait",
        "./pipeline dlq list",
        "./pipeline dlq redrive",
        "make plan-local",
        "make destroy-local",
    ):
        assert step in local, f"the first-hour path lacks {step!r}"


@pytest.mark.parametrize(
    "block",
    [b for b in STATIC_BLOCKS if b is not COST_BLOCK],
    ids=[block.where for block in STATIC_BLOCKS if block is not COST_BLOCK],
)
def test_every_static_block_runs_as_pasted(block, tmp_path):
    outcome = readme.Runner(env={"CDKTF_OUTDIR": str(tmp_path / "cdktf.out")}).run_static(block)
    assert outcome.passed, f"{block.where} failed:\n{outcome.output[-4000:]}"


@pytest.mark.parametrize(
    ("where", "route", "body"), readme.request_blocks(), ids=[where for where, _, _ in readme.request_blocks()]
)
def test_every_request_example_passes_the_handlers_validation(where, route, body):
    assert readme.validate_request(route, body) is None


def test_prose_commands_use_the_project_environment():
    assert [problem for path in readme.documents() for problem in readme.inline_command_problems(path)] == []


# --- the checker finds what a reader's shell would trip over ------------------------------------------------------


def _block(text: str, **attributes: str) -> readme.Block:
    return readme.Block(
        path=PROJECT_ROOT / "README.md", line=1, language="bash", attributes={"run": "static", **attributes}, text=text
    )


@pytest.mark.parametrize(
    ("text", "attributes", "problem"),
    [
        ("export AWS_ENDPOINT_URL=http://127.0.0.1:<port>", {}, "placeholder(s) <port> would be read as redirections"),
        ("python -m tools.local outputs", {}, "`python` runs outside the project environment; use .venv/bin/python"),
        ("cd x && pytest tests", {}, "`pytest` runs outside the project environment"),
        ("npx cdktf diff", {}, "`npx` runs outside the project environment; use make diff/deploy"),
        ("make synth", {"run": "sometimes"}, "no run mode (run=sometimes)"),
        ("make synth", {"run": "never"}, 'run=never needs why="..."'),
        ("if true; then echo", {}, "bash cannot parse it"),
        (
            """curl -d '{"model": "default", "inputs": [[5.1, 3.5, 1.4, 0.2]]}' "${URL}v1/jobs\"""",
            {},
            'the body sent to /v1/jobs is refused: inputs must be an object like {"instances": [[...], ...]}',
        ),
        (
            """curl -d '{"instances": [[5.1, 3.5]]}' "${URL}v1/predict\"""",
            {},
            "the body sent to /v1/predict is refused: instances[0] has 2 features; expected 4",
        ),
        (
            "curl -H 'Content-Type: text/csv' --data-binary $'1,2\\n3,4' localhost:8080/invocations",
            {},
            "the body sent to /invocations is refused",
        ),
        ("./pipeline jobs submit --inputs '{\"rows\": []}'", {}, "--inputs for /v1/jobs is refused"),
    ],
    ids=[
        "placeholder",
        "bare-python",
        "bare-pytest",
        "bare-cdktf",
        "unknown-mode",
        "never-without-reason",
        "syntax",
        "job-inputs-not-an-object",
        "predict-rows-too-short",
        "csv-rows-too-short",
        "cli-inputs",
    ],
)
def test_the_checker_names_what_would_break(text, attributes, problem):
    found = readme.problems(_block(text, **attributes))
    assert any(problem in item for item in found), found


def test_quoted_text_and_comments_are_not_commands_or_placeholders():
    block = _block("echo 'python <is> fine in quotes'  # python <here> too\n./pipeline info")
    assert readme.problems(block) == []
    assert readme.command_words(block.text) == ["echo", "./pipeline"]


def test_a_transcript_fails_when_the_expected_output_is_missing(tmp_path):
    transcript = readme.Block(
        path=PROJECT_ROOT / "README.md",
        line=1,
        language="console",
        attributes={"run": "static"},
        text="$ echo hello world\nhello ...\n$ echo a\nb",
    )
    outcome = readme.Runner().run_static(transcript)
    assert not outcome.passed and "expected, not found: ['b']" in outcome.output


def test_a_local_session_carries_variables_from_block_to_block_and_stops_at_the_failing_one():
    blocks = [
        _block("JOB=42", run="local"),
        _block('make deploy-local\ntest "$JOB" = 42', run="local"),
        _block("false", run="local"),
        _block("echo never", run="local"),
    ]
    outcomes = readme.Runner().run_session(blocks, say=lambda _: None)
    assert [outcome.passed for outcome in outcomes] == [True, True, False]  # deploy-local: the e2e step's own


# --- facts the documents show from a synth -----------------------------------------------------------------------


def test_the_synth_table_is_what_synth_prints(synthesized):
    from modules.synth_run import summarize

    table = next(block for block in readme.blocks(README) if block.attributes.get("synth") == "local")
    rows = {
        cells[0]: cells[1:]
        for line in table.text.splitlines()
        if line.startswith("│")
        for cells in [[cell.strip() for cell in line.strip("│").split("│")]]
    }
    expected = {
        row.name: [row.backend, str(row.resources), str(row.outputs), ", ".join(row.depends_on) or "-"]
        for row in summarize(synthesized["local"])
    }
    assert rows == expected


def _cost_drivers(outdir: Path, config) -> dict[str, int]:
    counts = {
        "NAT gateways": 0,
        "interface endpoint ENIs (endpoints × AZs)": 0,
        "application load balancers": 0,
        "KMS customer keys": 0,
        "CloudWatch alarms": 0,
        "CloudWatch dashboards": 0,
    }
    kinds = {
        "aws_nat_gateway": "NAT gateways",
        "aws_lb": "application load balancers",
        "aws_kms_key": "KMS customer keys",
        "aws_cloudwatch_metric_alarm": "CloudWatch alarms",
        "aws_cloudwatch_dashboard": "CloudWatch dashboards",
    }
    for document in (json.loads(path.read_text()) for path in outdir.glob("stacks/*/cdk.tf.json")):
        for kind, resources in document.get("resource", {}).items():
            for resource in resources.values():
                if kind in kinds:
                    counts[kinds[kind]] += 1
                elif kind == "aws_vpc_endpoint" and resource.get("vpc_endpoint_type") == "Interface":
                    counts["interface endpoint ENIs (endpoints × AZs)"] += len(config.network.zones(config.region))
    service, worker = config.compute.inference_service, config.compute.queue_worker
    counts["Fargate tasks always running (vCPU / GB each)"] = (service.min_count if service.enabled else 0) + (
        worker.min_count if worker.enabled else 0
    )
    return counts


def test_the_cost_drivers_are_what_dev_prod_and_the_cheaper_dev_synthesize(synthesized, tmp_path):
    # The cheaper dev is built and synthesized by the costs section's own block, run as pasted.
    outdir = tmp_path / "cdktf.out"
    outcome = readme.Runner(env={"CDKTF_OUTDIR": str(outdir)}).run_static(COST_BLOCK)
    assert outcome.passed, outcome.output[-3000:]
    columns = {
        "dev": (synthesized["dev"], load_config(PROJECT_ROOT / "config" / "dev.toml")),
        "prod": (synthesized["prod"], load_config(PROJECT_ROOT / "config" / "prod.toml")),
        "cheaper dev (below)": (outdir, load_config(PROJECT_ROOT / ".build" / "dev-cheap.toml")),
    }
    section = COSTS_PAGE.read_text().split("## Costs, briefly", 1)[1].split("\n## ", 1)[0]
    header, *rows = [
        [cell.strip() for cell in line.strip("|").split("|")]
        for line in section.splitlines()
        if line.startswith("| ") and not line.startswith("|---")
    ]
    table = {row[0]: dict(zip(header[1:], row[1:], strict=False)) for row in rows}
    for column, (folder, config) in columns.items():
        for driver, count in _cost_drivers(folder, config).items():
            assert re.match(rf"{count}\b", table[driver][column]), (driver, column, table[driver][column], count)
        inference = config.inference
        cell = table["SageMaker endpoint capacity"][column]
        if inference.mode == "real-time":
            assert cell.startswith(f"{inference.initial_instance_count} × {inference.instance_type} real-time")
        else:
            provisioned = inference.provisioned_concurrency
            assert (f"{provisioned} provisioned concurrency" if provisioned else "none provisioned") in cell


# The price column's dollar figures, in order, and the keys of the plan review's price table they quote.
COST_PRICE_KEYS = {
    "NAT gateways": ("nat_gateway_hour",),
    "interface endpoint ENIs (endpoints × AZs)": ("interface_endpoint_hour",),
    "application load balancers": ("alb_hour",),
    "Fargate tasks always running (vCPU / GB each)": ("fargate_vcpu_hour", "fargate_gb_hour"),
    "SageMaker endpoint capacity": (("sagemaker_instance_hour", "ml.m5.large"),),
    "KMS customer keys": ("kms_key_month",),
    "CloudWatch alarms": ("alarm_metric_month",),
    "CloudWatch dashboards": ("dashboard_month",),
}


def test_the_cost_pages_prices_are_the_plan_reviews_price_table_for_its_region():
    """docs/operations.md quotes prices by hand; they must be the ones plan review prices a plan with
    (tools/plan_review/prices.toml), in the region of dev and prod, rounded as written."""
    from decimal import Decimal

    from tools.plan_review.prices import default_price_table

    region = load_config(PROJECT_ROOT / "config" / "prod.toml").region
    table = default_price_table()
    section = COSTS_PAGE.read_text().split("## Costs, briefly", 1)[1].split("\n## ", 1)[0]
    rows = {
        cells[0]: cells[-1]
        for cells in (
            [cell.strip() for cell in line.strip("|").split("|")]
            for line in section.splitlines()
            if line.startswith("| ")
        )
    }
    assert set(COST_PRICE_KEYS) <= set(rows), sorted(set(COST_PRICE_KEYS) - set(rows))
    for driver, keys in COST_PRICE_KEYS.items():
        quoted = [Decimal(figure) for figure in re.findall(r"\$([0-9]+(?:\.[0-9]+)?)", rows[driver])][: len(keys)]
        for figure, key in zip(quoted, keys, strict=True):
            price = table.price(region, *key) if isinstance(key, tuple) else table.price(region, key)
            assert price is not None, (driver, key)
            assert price.usd.quantize(figure) == figure, (driver, key, str(figure), str(price.usd))


# --- the Makefile's help -------------------------------------------------------------------------------------------


def test_make_help_lists_every_documented_target():
    makefile = (PROJECT_ROOT / "Makefile").read_text()
    documented = re.findall(r"^([a-z0-9-]+):.*## ", makefile, flags=re.MULTILINE)
    shown = subprocess.run(
        ["make", "--no-print-directory", "help"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": "/usr/bin:/bin", "NO_INSTALL": "1"},
    ).stdout
    assert [line.split()[0] for line in shown.splitlines()] == documented
    assert "e2e" in documented and "plan-local" in documented and "queues" in documented


def test_a_local_block_whose_expected_output_is_missing_fails_and_stops_the_session():
    blocks = [
        _block("echo 'retention 7 -> 14'", run="local", expect="7 -> 14"),
        _block("echo 'nothing'", run="local", expect="7 -> 14"),
        _block("echo never", run="local"),
    ]
    outcomes = readme.Runner().run_session(blocks, say=lambda _: None)
    assert [outcome.passed for outcome in outcomes] == [True, False]
    assert "expected, not found: '7 -> 14'" in outcomes[1].output
