"""The engine floor: the least work any correct refresh must do on the same raw files.

Plain polars, no framework, no cache, no audit: read the bytes of every file (decoding
GB18030 where needed), match the headers, keep the last row per natural key, replace every
identifier by its keyed hash (HMAC-SHA-256, as the contract demands), link the child-level
records into children as contract section 3 links them (identifiers transitively, then the
demographic triple unless the group holds two ID numbers or two certificates), place each
child at D by its latest archive, and aggregate the marts' main figures per street and
quarter: under-3 children, those with an archive by D, those with a check in the year to D,
operating and affordable slots, and passed surveys in the year to D.

It deliberately leaves out what a floor need not prove it can do (quarantine reasons, ID
check characters, the audit, publishing, the other indicators): the benchmark reports how far
the real refresh is above this bound, not that the two are the same program.

Run alone: `python -m benchmarks.floor RAW_DIR` (key from YIYU_LINK_SECRET); prints JSON with
the seconds of each phase (read: `floor_read`, link: `floor_link`, figures: here).
"""

from __future__ import annotations

import json
import os
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import polars as pl

from benchmarks.floor_link import link
from benchmarks.floor_read import SRC, load

PERIOD_START = date(2022, 10, 1)
# Birth dates coded as source rank * DAY_CODES + days since 1970, so one min picks the best.
DAY_CODES = 1_000_000
RESULT_MARK = "floor result: "


def periods(as_of: date) -> pl.DataFrame:
    """Quarter ends from PERIOD_START to the quarter of `as_of`; the last one is `as_of`."""
    starts = pl.date_range(PERIOD_START, as_of, "3mo", eager=True)
    ends = starts.dt.offset_by("2mo").dt.month_end()
    ends = ends.filter(ends < as_of).append(pl.Series([as_of]))
    return pl.DataFrame({"d": ends}).with_columns(
        (
            pl.col("d").dt.year().cast(pl.String) + "Q" + pl.col("d").dt.quarter().cast(pl.String)
        ).alias("period")
    )


def _age_months(birth: pl.Expr, d: pl.Expr) -> pl.Expr:
    months = (d.dt.year() - birth.dt.year()) * 12 + d.dt.month() - birth.dt.month()
    return months - (d.dt.day() < birth.dt.day()).cast(pl.Int32)


def child_figures(t: dict[str, pl.DataFrame], quarters: pl.DataFrame) -> pl.DataFrame:
    """Per street and period: under-3 children, with an archive by D, with a check in the
    year. A child lives at D where its latest archive dated <= D that names a community
    says, else where its birth record says; one whose latest archive was closed by D as
    moved out or died counts nowhere, one without a community at district scope only
    (street null)."""
    records = t["records"].filter(pl.col("child") >= 0)
    births, archives, checks = (SRC[s] for s in ("births", "health_archives", "health_checks"))
    best_birth = pl.col("src").cast(pl.Int64) * DAY_CODES + pl.col("birth_date").cast(pl.Int64)
    children = records.group_by("child").agg(
        (best_birth.min() % DAY_CODES).cast(pl.Int32).cast(pl.Date).alias("birth_date"),
        pl.col("community_code").filter(pl.col("src") == births).min().alias("birth_community"),
        pl.col("archive_date").min(),
    )
    dated = ["archive_date", "archive_key"]
    child_archives = (
        records.filter(pl.col("src") == archives)
        .select("child", *dated, "community_code", "closed_on", "close_reason")
        .sort("child", *dated)
    )
    child_checks = records.filter(pl.col("src") == checks).select("child", "check_date")
    streets = t["divisions"].lazy()
    parts = []
    for period, d in quarters.select("period", "d").iter_rows():
        # Group order follows the rows', sorted by date: the last is the latest.
        latest = (
            child_archives.lazy()
            .filter(pl.col("archive_date") <= d)
            .group_by("child")
            .agg(
                pl.col("closed_on", "close_reason").last(),
                pl.col("community_code").drop_nulls().last(),
            )
        )
        in_year = child_checks.filter(
            (pl.col("check_date") <= d) & (pl.col("check_date") > d - timedelta(days=365))
        )["child"]
        placed = (
            children.lazy()
            .filter(
                (pl.col("birth_date") <= d) & (_age_months(pl.col("birth_date"), pl.lit(d)) < 36)
            )
            .join(latest, on="child", how="left")
            .filter(
                ~(pl.col("closed_on") <= d).fill_null(False)
                | ~pl.col("close_reason").is_in(["moved_out", "died"]).fill_null(False)
            )
            .with_columns(pl.coalesce("community_code", "birth_community").alias("community_code"))
            .join(streets, on="community_code", how="left")
            .filter(pl.col("community_code").is_null() | pl.col("street_code").is_not_null())
        )
        parts.append(
            placed.group_by("street_code")
            .agg(
                pl.lit(period).alias("period"),
                pl.len().alias("under3"),
                (pl.col("archive_date") <= d).sum().alias("under3_archived"),
                pl.col("child").is_in(in_year.implode()).sum().alias("under3_checked"),
            )
            .collect()
        )
    return pl.concat(parts).select("period", pl.exclude("period"))


def slot_figures(t: dict[str, pl.DataFrame], quarters: pl.DataFrame) -> pl.DataFrame:
    inst = t["institutions"].join(quarters, how="cross")
    operating = (pl.col("filed_on") <= pl.col("d")) & (
        pl.col("closed_on").is_null() | (pl.col("closed_on") > pl.col("d"))
    )
    affordable = pl.col("is_affordable") & (
        pl.col("affordable_since").is_null() | (pl.col("affordable_since") <= pl.col("d"))
    )
    return (
        inst.filter(operating)
        .group_by("period", "street_code")
        .agg(
            pl.col("slots").sum().alias("slots"),
            pl.col("slots").filter(affordable).sum().alias("affordable_slots"),
        )
    )


def survey_figures(t: dict[str, pl.DataFrame], quarters: pl.DataFrame) -> pl.DataFrame:
    year = (pl.col("survey_date") <= pl.col("d")) & (
        pl.col("survey_date") > pl.col("d") - pl.duration(days=365)
    )
    return (
        t["surveys"]
        .join(t["divisions"], on="community_code", how="left")
        .join(quarters, how="cross")
        .filter(year)
        .group_by("period", "street_code")
        .agg(pl.len().alias("surveys"), pl.col("passed").sum().alias("surveys_passed"))
    )


def figures(raw_dir: Path, key: str) -> tuple[pl.DataFrame, dict[str, float]]:
    """The marts' main figures per period and street (street null: outside the divisions, or
    children without a community), and the seconds of each phase."""
    clock = time.perf_counter()
    seconds = {}

    def lap(phase: str) -> None:
        nonlocal clock
        seconds[phase] = time.perf_counter() - clock
        clock = time.perf_counter()

    t = load(raw_dir, key)
    lap("read")
    t["records"] = t["records"].with_columns(child=pl.Series(link(t["records"])))
    lap("link")
    # Dates after today are errors (quarantined by the refresh), not the latest event.
    checks = t["records"]["check_date"]
    as_of = checks.filter(checks <= date.today()).max()
    quarters = periods(as_of)
    on = ["period", "street_code"]
    result = (
        child_figures(t, quarters)
        .join(slot_figures(t, quarters), on=on, how="full", coalesce=True)
        .join(survey_figures(t, quarters), on=on, how="full", coalesce=True)
        .sort(on, nulls_last=True)
    )
    lap("figures")
    return result, seconds


def district_latest(result: pl.DataFrame) -> dict[str, object]:
    """District totals of the latest period (every street, and what has none)."""
    latest = result.filter(pl.col("period") == result["period"].max())
    totals = latest.drop("period", "street_code").sum().row(0, named=True)
    return {"period": result["period"].max(), **totals}


def main() -> None:
    raw_dir = Path(sys.argv[1])
    started = time.perf_counter()
    result, phases = figures(raw_dir, os.environ["YIYU_LINK_SECRET"])
    summary = {
        "seconds": time.perf_counter() - started,
        "phases": phases,
        "rows": result.height,
        "district": district_latest(result),
    }
    print(RESULT_MARK + json.dumps(summary), flush=True)


if __name__ == "__main__":
    main()
