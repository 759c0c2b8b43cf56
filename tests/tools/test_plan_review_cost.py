"""Cost in the review, checked on real plans: every expected number is recomputed here from the price table, so a
wrong count, link or unit fails the test, and so does a price silently counted as zero."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from tests.tools import real_plans as scenario
from tests.tools.review_runs import run, run_json
from tools.plan_review.cli import EXIT_BAD_INPUT, EXIT_COST_INCREASE, EXIT_OK, EXIT_STATEFUL_DESTRUCTION, main
from tools.plan_review.cost import money
from tools.plan_review.prices import default_price_table

pytestmark = [pytest.mark.terraform, pytest.mark.emulator]

TABLE = default_price_table()
HOURS = TABLE.hours_per_month
REGION = scenario.REGION


def price(key: str, member: str | None = None) -> Decimal:
    found = TABLE.price(REGION, key, member)
    assert found is not None, f"{key} {member or ''} missing in {REGION}"
    return found.usd


def fargate_task_month(*, spot: bool = False) -> Decimal:
    vcpu = Decimal(scenario.SERVING_TASK_CPU) / 1024
    memory = Decimal(scenario.SERVING_TASK_MEMORY) / 1024
    hourly = vcpu * price("fargate_vcpu_hour") + memory * price("fargate_gb_hour")
    discount = TABLE.discount(REGION, "fargate_spot_discount")
    assert discount is not None
    return hourly * HOURS * (1 - discount.minimum if spot else 1)


def resources(stack: dict) -> dict[str, dict]:
    return {r["address"]: r for r in stack["cost"]["resources"]}


def monthly(record: dict, side: str) -> Decimal:
    return Decimal(str(record[side]["monthly"])) if record[side] else Decimal(0)


def cents(amount: Decimal) -> float:
    return float(amount.quantize(Decimal("0.01")))


def test_a_cost_increase_prices_sagemaker_fargate_spot_nat_addresses_and_interface_endpoints_from_the_table(
    capsys: pytest.CaptureFixture[str], serving_plan: Path
) -> None:
    stack = run_json(capsys, serving_plan)["stacks"][0]
    priced = resources(stack)
    endpoint = priced[scenario.ENDPOINT]
    # before: the one instance of the applied configuration; after: the new scaling target's minimum, not the
    # configuration's initial count of 1, at the new instance type.
    assert monthly(endpoint, "before") == Decimal(
        str(cents(price("sagemaker_instance_hour", scenario.ENDPOINT_TYPE_BEFORE) * HOURS))
    )
    assert monthly(endpoint, "after") == Decimal(
        str(
            cents(
                scenario.ENDPOINT_SCALING_MIN * price("sagemaker_instance_hour", scenario.ENDPOINT_TYPE_AFTER) * HOURS
            )
        )
    )
    assert endpoint["after"]["ceiling"] == cents(
        scenario.ENDPOINT_SCALING_MAX * price("sagemaker_instance_hour", scenario.ENDPOINT_TYPE_AFTER) * HOURS
    )
    service = priced[scenario.SERVICE]
    assert monthly(service, "before") == Decimal(str(cents(scenario.SERVING_TASKS_BEFORE * fargate_task_month())))
    assert monthly(service, "after") == Decimal(str(cents(scenario.SERVING_TASKS_AFTER * fargate_task_month())))
    spot = priced[scenario.SPOT_SERVICE]
    assert spot["before"] is None
    assert monthly(spot, "after") == Decimal(str(cents(scenario.SPOT_TASKS * fargate_task_month(spot=True))))
    assert monthly(priced[scenario.NEW_NAT], "after") == Decimal(str(cents(price("nat_gateway_hour") * HOURS)))
    assert monthly(priced[scenario.NEW_ADDRESS], "after") == Decimal(str(cents(price("public_ipv4_hour") * HOURS)))
    assert monthly(priced[scenario.NEW_INTERFACE_ENDPOINT], "after") == Decimal(
        str(cents(2 * price("interface_endpoint_hour") * HOURS))
    )  # one charge per AZ: two subnets
    cost = stack["cost"]
    assert cost["difference"] > 0
    assert cost["difference"] == pytest.approx(cost["after"] - cost["before"], abs=0.01)
    assert cost["after"] == pytest.approx(sum(float(monthly(r, "after")) for r in priced.values()), abs=0.05)


def test_a_cost_decrease_is_negative_and_prices_what_the_plan_removes(
    capsys: pytest.CaptureFixture[str], edge_plan: Path
) -> None:
    stack = run_json(capsys, edge_plan)["stacks"][0]
    removed = (
        price("nat_gateway_hour") * HOURS
        + price("public_ipv4_hour") * HOURS
        + price("kms_key_month")
        + price("secret_month")
        + 2 * price("alarm_metric_month")
    )
    assert stack["cost"]["difference"] == -cents(removed)
    priced = resources(stack)
    for address in (
        scenario.REMOVED_NAT,
        scenario.REMOVED_ADDRESS,
        scenario.REMOVED_KEY,
        scenario.REMOVED_SECRET,
        *scenario.REMOVED_ALARMS,
    ):
        assert priced[address]["after"] is None and monthly(priced[address], "before") > 0, address


def test_the_markdown_shows_before_after_difference_and_total_per_stack(
    capsys: pytest.CaptureFixture[str], serving_plan: Path, edge_plan: Path
) -> None:
    document = run_json(capsys, serving_plan, edge_plan)
    _, markdown, _ = run(capsys, serving_plan, edge_plan)
    section = markdown[markdown.index("### Cost: fixed monthly (USD)") :]
    for stack in document["stacks"]:
        cost = stack["cost"]
        before, after = money(Decimal(str(cost["before"]))), money(Decimal(str(cost["after"])))
        assert f"| `{stack['stack']}` | {before} | {after} | " in section
    total = document["cost"]
    assert (
        f"| **total** | {money(Decimal(str(total['before'])))} | {money(Decimal(str(total['after'])))} | "
        f"**{money(Decimal(str(total['difference'])), sign=True)}"
    ) in section
    assert f"Prices of {TABLE.as_of.isoformat()}" in section


def test_a_resource_the_table_does_not_know_is_listed_as_not_priced_and_left_out_of_both_totals(
    capsys: pytest.CaptureFixture[str], serving_plan: Path
) -> None:
    stack = run_json(capsys, serving_plan)["stacks"][0]
    not_priced = {r["address"]: r["reason"] for r in stack["cost"]["not_priced"]}
    assert not_priced == {scenario.UNKNOWN_PRICED: "the price table has no price for aws_sagemaker_notebook_instance"}
    assert scenario.UNKNOWN_PRICED not in resources(stack)
    _, markdown, _ = run(capsys, serving_plan)
    assert "**1 resource not priced**, so not in either total" in markdown
    assert f"- `serving`: `{scenario.UNKNOWN_PRICED}` — the price table has no price for" in markdown


def test_a_region_without_prices_leaves_priced_resources_not_priced_instead_of_free(
    capsys: pytest.CaptureFixture[str], serving_plan: Path
) -> None:
    stack = run_json(capsys, "--region", "ap-southeast-7", serving_plan)["stacks"][0]
    reasons = {r["address"]: r["reason"] for r in stack["cost"]["not_priced"]}
    assert reasons[scenario.NEW_NAT] == "the table has no prices for ap-southeast-7"
    assert reasons[scenario.ENDPOINT] == "the table has no prices for ap-southeast-7"
    assert stack["cost"]["before"] == stack["cost"]["after"] == 0.0 and stack["cost"]["resources"] == []


def test_prices_the_table_marks_uncertain_are_shown_as_approximate(
    capsys: pytest.CaptureFixture[str], serving_plan: Path
) -> None:
    stack = run_json(capsys, "--region", "eu-west-1", serving_plan)["stacks"][0]
    endpoint = resources(stack)[scenario.ENDPOINT]
    assert endpoint["after"]["uncertain"] is True and stack["cost"]["uncertain"] is True
    _, markdown, _ = run(capsys, "--region", "eu-west-1", serving_plan)
    assert "| `serving` | ≈$" in markdown
    assert f"≈${TABLE.price('eu-west-1', 'sagemaker_instance_hour', scenario.ENDPOINT_TYPE_AFTER).usd}" in markdown


def test_traffic_driven_items_are_listed_as_unit_prices_with_assumptions_never_as_totals(
    capsys: pytest.CaptureFixture[str], serving_plan: Path
) -> None:
    document = run_json(capsys, serving_plan)
    usage = {u["item"]: u for u in document["cost"]["usage_prices"]}
    assert usage["sagemaker_data_processed_gb"]["unit_price"] == float(price("sagemaker_data_processed_gb"))
    assert usage["nat_gateway_gb"]["resource_types"] == ["aws_nat_gateway"]
    assert usage["interface_endpoint_gb"]["source"] == "https://aws.amazon.com/privatelink/pricing/"
    charged = {
        charge["price"].split("[")[0]
        for r in document["stacks"][0]["cost"]["resources"]
        for side in ("before", "after")
        if r[side]
        for charge in r[side]["charges"]
    }
    assert not charged & set(usage), "a usage price was turned into a total"
    assert any("730 hours" in text for text in document["cost"]["assumptions"])
    _, markdown, _ = run(capsys, serving_plan)
    assert "Traffic-driven prices (unit prices only, never in the totals)" in markdown
    assert "| SageMaker hosting data processed (in, and again out) | $0.016 per GB | us-east-1 |" in markdown


def test_fail_on_cost_increase_exits_4_over_an_amount_or_a_percentage_and_not_under_it(
    capsys: pytest.CaptureFixture[str], serving_plan: Path, edge_plan: Path
) -> None:
    increase = Decimal(str(run_json(capsys, serving_plan)["stacks"][0]["cost"]["difference"]))
    assert run(capsys, "--fail-on-cost-increase", str(increase - 1), serving_plan)[0] == EXIT_COST_INCREASE
    assert run(capsys, "--fail-on-cost-increase", f"${increase + 1}", serving_plan)[0] == EXIT_OK
    assert run(capsys, "--fail-on-cost-increase", "10%", serving_plan)[0] == EXIT_COST_INCREASE
    assert run(capsys, "--fail-on-cost-increase", "1000%", serving_plan)[0] == EXIT_OK
    assert run(capsys, "--fail-on-cost-increase", "0", edge_plan)[0] == EXIT_OK  # a decrease never trips it


def test_the_allow_cost_increase_label_accepts_the_increase_and_the_review_says_so(
    capsys: pytest.CaptureFixture[str], serving_plan: Path
) -> None:
    code, markdown, err = run(
        capsys, "--fail-on-cost-increase", "10", "--labels", '["allow-cost-increase"]', serving_plan
    )
    assert code == EXIT_OK
    assert "cost increase: accepted by the label `allow-cost-increase`" in markdown
    assert "waived by the label 'allow-cost-increase'" in err
    code, markdown, _ = run(capsys, "--fail-on-cost-increase", "10", serving_plan)
    assert code == EXIT_COST_INCREASE and "**cost increase: blocked**" in markdown


def test_both_gates_tripping_exit_3_and_name_both(
    capsys: pytest.CaptureFixture[str], serving_plan: Path, storage_plan: Path
) -> None:
    code, _, err = run(capsys, "--fail-on-destroy", "--fail-on-cost-increase", "1", serving_plan, storage_plan)
    assert code == EXIT_STATEFUL_DESTRUCTION
    assert "stateful destruction:" in err and "cost increase:" in err


@pytest.mark.parametrize("limit", ["ten", "-5", "5%%", ""])
def test_an_unreadable_cost_limit_exits_2(capsys: pytest.CaptureFixture[str], messaging_plan: Path, limit: str) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--fail-on-cost-increase", limit, str(messaging_plan)])
    assert exited.value.code == EXIT_BAD_INPUT
    assert "neither an amount" in capsys.readouterr().err


def test_a_first_deploy_is_priced_through_the_configurations_references(
    capsys: pytest.CaptureFixture[str], serving_plan: Path
) -> None:
    """Against empty state nothing has an id yet: an endpoint's subnets, a service's task definition ARN and a
    scaling target's endpoint are found through what the configuration refers to, and priced all the same."""
    first = serving_plan.with_name(f"{scenario.FIRST_DEPLOY_PLAN}.json")
    changes = {rc["address"]: rc["change"] for rc in json.loads(first.read_text())["resource_changes"]}
    assert changes[scenario.NEW_INTERFACE_ENDPOINT]["after_unknown"]["subnet_ids"]
    assert changes[scenario.SERVICE]["after_unknown"]["task_definition"]
    stack = run_json(capsys, f"serving={first}")["stacks"][0]
    assert [r["address"] for r in stack["cost"]["not_priced"]] == [scenario.UNKNOWN_PRICED]
    assert stack["cost"]["before"] == 0.0
    priced = resources(stack)
    assert monthly(priced[scenario.NEW_INTERFACE_ENDPOINT], "after") == Decimal(
        str(cents(2 * price("interface_endpoint_hour") * HOURS))
    )
    assert monthly(priced[scenario.SERVICE], "after") == Decimal(
        str(cents(scenario.SERVING_TASKS_AFTER * fargate_task_month()))
    )
    assert monthly(priced[scenario.ENDPOINT], "after") == Decimal(
        str(
            cents(
                scenario.ENDPOINT_SCALING_MIN * price("sagemaker_instance_hour", scenario.ENDPOINT_TYPE_AFTER) * HOURS
            )
        )
    )
