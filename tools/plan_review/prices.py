"""The dated AWS price table (prices.toml): loaded once, validated whole, asked for one price at a time.

Why a data file and not constants: prices change on AWS's schedule, not the code's. Keeping every number, its
unit, its source page and its date in one reviewed file lets a refresh be a one-file diff, and lets the review
cite where each number came from. Decimal throughout: a cost gate compares sums of many small products, and
binary floats would make `0.045 * 730` disagree with the price page by a fraction of a cent.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import tomllib
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

DEFAULT_PRICE_TABLE = Path(__file__).with_name("prices.toml")
SECONDS_PER_HOUR = Decimal(3600)


class PriceTableError(ValueError):
    """The price table is malformed; the message lists every problem found."""


@dataclass(frozen=True)
class Price:
    """One unit price in one region, with what it means and where it was read."""

    key: str
    label: str
    unit: str
    usd: Decimal
    source: str
    region: str
    member: str | None = None  # the instance type, for grouped items
    uncertain: bool = False
    note: str | None = None

    @property
    def approx(self) -> str:
        """`≈` before a number the table marks uncertain, else nothing."""
        return "≈" if self.uncertain else ""


@dataclass(frozen=True)
class Discount:
    """A discount that varies (Fargate Spot): MIN is the assumption the totals use, MAX the best case."""

    minimum: Decimal
    maximum: Decimal
    source: str
    uncertain: bool
    note: str | None


@dataclass(frozen=True)
class NoCharge:
    """Why a resource type costs nothing of its own, and where that is stated."""

    reason: str
    source: str


@dataclass(frozen=True)
class PriceTable:
    as_of: dt.date
    currency: str
    hours_per_month: Decimal
    sources: dict[str, str]
    items: dict[str, dict[str, Any]]
    regions: dict[str, dict[str, Any]]
    usage: dict[str, tuple[str, ...]]
    no_charge_exact: dict[str, NoCharge]
    no_charge_globs: tuple[tuple[str, NoCharge], ...]
    path: Path

    @property
    def seconds_per_month(self) -> Decimal:
        return self.hours_per_month * SECONDS_PER_HOUR

    def knows_region(self, region: str) -> bool:
        return region in self.regions

    def price(self, region: str, key: str, member: str | None = None) -> Price | None:
        """The price of KEY (of MEMBER, e.g. an instance type, for grouped items) in REGION, or None."""
        table = self.regions.get(region)
        if table is None:
            return None
        raw = table.get(key)
        if member is not None:
            raw = raw.get(member) if isinstance(raw, dict) else None
        if raw is None:
            return None
        item = self.items[key]
        usd, uncertain, note = _amount(raw)
        return Price(
            key=key,
            label=item["label"],
            unit=item["unit"],
            usd=usd,
            source=self.sources[item["source"]],
            region=region,
            member=member,
            uncertain=uncertain,
            note=note,
        )

    def discount(self, region: str, key: str) -> Discount | None:
        raw = self.regions.get(region, {}).get(key)
        if not isinstance(raw, dict) or "min" not in raw:
            return None
        return Discount(
            minimum=Decimal(str(raw["min"])),
            maximum=Decimal(str(raw["max"])),
            source=self.sources[self.items[key]["source"]],
            uncertain=bool(raw.get("uncertain")),
            note=raw.get("note"),
        )

    def no_charge(self, resource_type: str) -> NoCharge | None:
        """Why RESOURCE_TYPE has no charge of its own: an exact entry first, then the first matching glob."""
        exact = self.no_charge_exact.get(resource_type)
        if exact is not None:
            return exact
        return next(
            (entry for pattern, entry in self.no_charge_globs if fnmatch.fnmatchcase(resource_type, pattern)), None
        )

    def usage_items(self, resource_type: str) -> tuple[str, ...]:
        return self.usage.get(resource_type, ())

    def source_url(self, source_key: str) -> str:
        return self.sources[source_key]


def _amount(raw: Any) -> tuple[Decimal, bool, str | None]:
    if isinstance(raw, dict):
        return Decimal(str(raw["usd"])), bool(raw.get("uncertain")), raw.get("note")
    return Decimal(str(raw)), False, None


def _is_amount(raw: Any) -> bool:
    if isinstance(raw, (int, float, Decimal)) and not isinstance(raw, bool):
        return raw >= 0
    return isinstance(raw, dict) and set(raw) <= {"usd", "uncertain", "note"} and _is_amount(raw.get("usd"))


def _is_discount(raw: Any) -> bool:
    return (
        isinstance(raw, dict)
        and set(raw) <= {"min", "max", "uncertain", "note"}
        and all(isinstance(raw.get(k), (int, float, Decimal)) for k in ("min", "max"))
        and 0 <= raw["min"] <= raw["max"] < 1
    )


def _validate(document: dict[str, Any]) -> list[str]:
    """Every problem with DOCUMENT, so one run names them all."""
    problems = []
    if not isinstance(document.get("as_of"), dt.date):
        problems.append("as_of: a date (YYYY-MM-DD) is required")
    sources = document.get("sources", {})
    problems += [
        f"sources.{key}: not an https URL"
        for key, url in sources.items()
        if not (isinstance(url, str) and url.startswith("https://"))
    ]
    items = document.get("items", {})
    for key, item in items.items():
        missing = [field for field in ("label", "unit", "source") if not item.get(field)]
        if missing:
            problems.append(f"items.{key}: missing {', '.join(missing)}")
        elif item["source"] not in sources:
            problems.append(f"items.{key}: source {item['source']!r} is not in [sources]")
    regions = document.get("regions", {})
    if not regions:
        problems.append("regions: at least one region is required")
    for region, table in regions.items():
        for key in sorted(set(items) - set(table)):
            problems.append(f"regions.{region}: no price for {key}")
        for key, raw in table.items():
            item = items.get(key)
            where = f"regions.{region}.{key}"
            if item is None:
                problems.append(f"{where}: not an item of [items]")
            elif item.get("group"):
                if not isinstance(raw, dict) or not raw:
                    problems.append(f"{where}: a table of prices by type is required")
                else:
                    problems += [
                        f"{where}.{member}: not a price" for member, value in raw.items() if not _is_amount(value)
                    ]
            elif item["unit"] == "fraction" and "min" in (raw if isinstance(raw, dict) else {}):
                if not _is_discount(raw):
                    problems.append(f"{where}: a discount needs 0 <= min <= max < 1")
            elif not _is_amount(raw):
                problems.append(f"{where}: not a price (a number, or {{ usd = N, uncertain = true }})")
    for resource_type, keys in document.get("usage", {}).items():
        problems += [f"usage.{resource_type}: {key!r} is not an item of [items]" for key in keys if key not in items]
    for pattern, entry in document.get("no_charge", {}).items():
        if not (isinstance(entry, dict) and entry.get("reason") and entry.get("source") in sources):
            problems.append(f"no_charge.{pattern}: needs a reason and a source of [sources]")
    return problems


def load_price_table(path: Path = DEFAULT_PRICE_TABLE) -> PriceTable:
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"), parse_float=Decimal)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise PriceTableError(f"{path}: {exc}") from None
    problems = _validate(document)
    if problems:
        raise PriceTableError(f"{path}: " + "; ".join(problems))
    no_charge = {
        pattern: NoCharge(entry["reason"], entry["source"]) for pattern, entry in document.get("no_charge", {}).items()
    }
    return PriceTable(
        as_of=document["as_of"],
        currency=document.get("currency", "USD"),
        hours_per_month=Decimal(str(document.get("hours_per_month", 730))),
        sources=document["sources"],
        items=document["items"],
        regions=document["regions"],
        usage={resource_type: tuple(keys) for resource_type, keys in document.get("usage", {}).items()},
        no_charge_exact={pattern: entry for pattern, entry in no_charge.items() if "*" not in pattern},
        no_charge_globs=tuple((pattern, entry) for pattern, entry in no_charge.items() if "*" in pattern),
        path=path,
    )


@cache
def default_price_table() -> PriceTable:
    return load_price_table(DEFAULT_PRICE_TABLE)
