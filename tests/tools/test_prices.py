"""The price table: dated, complete per region, every price with its source page, and covering every resource type
this project creates (so its own reviews never say "not priced")."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from tools.plan_review.cost import PRICING_RULES
from tools.plan_review.prices import DEFAULT_PRICE_TABLE, PriceTableError, default_price_table, load_price_table

TABLE = default_price_table()


def test_the_table_is_dated_and_every_item_cites_an_aws_price_page() -> None:
    assert isinstance(TABLE.as_of, dt.date) and TABLE.currency == "USD" and TABLE.hours_per_month == 730
    for key, item in TABLE.items.items():
        assert TABLE.sources[item["source"]].startswith("https://aws.amazon.com/"), key


def test_every_region_prices_every_item_and_the_project_regions_are_there() -> None:
    assert {"us-east-1", "eu-west-1"} <= set(TABLE.regions)
    for region, prices in TABLE.regions.items():
        assert set(prices) == set(TABLE.items), region


def test_the_pipelines_own_instance_types_are_priced_in_its_region() -> None:
    for instance_type in ("ml.m5.large", "ml.m5.xlarge", "ml.c5.xlarge", "ml.g4dn.xlarge"):
        assert TABLE.price("eu-west-1", "sagemaker_instance_hour", instance_type) is not None, instance_type


def test_every_resource_type_the_stacks_create_is_priced_or_known_to_cost_nothing(synthesized: dict[str, Path]) -> None:
    types = set()
    for outdir in synthesized.values():
        for stack in (outdir / "stacks").iterdir():
            types |= set(json.loads((stack / "cdk.tf.json").read_text()).get("resource", {}))
    unknown = sorted(t for t in types if t not in PRICING_RULES and TABLE.no_charge(t) is None)
    assert unknown == []


def test_a_broken_table_is_refused_with_every_problem_named(tmp_path: Path) -> None:
    broken = DEFAULT_PRICE_TABLE.read_text().replace("nat_gateway_hour = 0.048\n", "", 1)
    broken = broken.replace('kms = "https://aws.amazon.com/kms/pricing/"', 'kms = "http://example.com"')
    path = tmp_path / "prices.toml"
    path.write_text(broken)
    with pytest.raises(PriceTableError) as refused:
        load_price_table(path)
    assert "regions.eu-west-1: no price for nat_gateway_hour" in str(refused.value)
    assert "sources.kms: not an https URL" in str(refused.value)
