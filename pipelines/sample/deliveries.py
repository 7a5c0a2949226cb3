"""Which file each row goes to, and which rows a later file re-delivers.

Natural keys repeat only through these functions, so the manifest knows every superseded
row: a row is superseded when the same record appears in a lexically later file.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import polars as pl

from pipelines.sample.calendar import day, quarter_label, text_where
from pipelines.sample.plan import (
    ARCHIVE_MONTHS,
    HISTORY_YEARS,
    PILOT_MONTHS,
    QUARTERS,
    REJECTED_MONTH,
    Delivery,
)


def by_events(
    frame: pl.DataFrame, events: tuple[str, ...], state: dict[str, str], ends: list[int]
) -> pl.DataFrame:
    """One row per record and delivery in which something happened to it.

    `ends` are the last days covered by each delivery (a snapshot, then deltas);
    a `state` column is printed only once its governing date has passed in that delivery.
    Adds `_delivery`, `_superseded` (a later delivery repeats the record) and
    `_redelivered` (an earlier one had it).
    """
    f = frame.with_row_index("_rid")
    days = pl.concat(
        [f.select("_rid", pl.col(c).cast(pl.Int32).alias("_d")) for c in events]
    ).drop_nulls()
    delivery = np.searchsorted(np.array(ends), days["_d"].to_numpy(), side="left")
    days = days.with_columns(pl.Series("_delivery", delivery)).filter(
        pl.col("_delivery") < len(ends)
    )
    slots = days.select("_rid", "_delivery").unique().sort("_rid", "_delivery")
    slots = slots.with_columns(
        (pl.col("_delivery") < pl.col("_delivery").max().over("_rid")).alias("_superseded"),
        (pl.col("_delivery") > pl.col("_delivery").min().over("_rid")).alias("_redelivered"),
        pl.col("_delivery").replace_strict(dict(enumerate(ends))).alias("_end"),
    )
    out = slots.join(f, on="_rid", how="left", maintain_order="left")
    shown = [
        pl.when(pl.col(gate).cast(pl.Int32) <= pl.col("_end")).then(pl.col(col)).alias(col)
        for col, gate in state.items()
    ]
    return out.with_columns(shown).drop("_rid", "_end")


def redeliver_later(
    frame: pl.DataFrame, rng, share: float, eligible: pl.Series, correct
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Picks `share` of eligible rows for re-delivery in the next file.

    Returns (the frame with those rows marked superseded, the corrected copies marked
    re-delivered); `correct` changes the copies (still valid rows).
    """
    pick = eligible.to_numpy() & (rng.random(frame.height) < share)
    marked = frame.with_columns(pl.Series("_superseded", pick) | pl.col("_superseded"))
    copies = correct(frame.filter(pl.Series(pick)), rng).with_columns(
        pl.lit(False).alias("_superseded"), pl.lit(True).alias("_redelivered")
    )
    return marked, copies


# The rows of the child-level sources, each with the index in its plan of the file it goes to
# (`_q`, `_delivery` or `_to`).


def births_rows(kids: pl.DataFrame, rng) -> pl.DataFrame:
    """Birth registrations by quarter (`_q`), some re-delivered with their ID number."""
    k = kids.filter(pl.col("has_birth"))
    n = k.height
    quarter = quarter_label(k["birth_day"].to_numpy())
    frame = k.select(
        "birth_cert_no",
        "child_name",
        "sex",
        "birth_date",
        pl.col("id_number").alias("_child_id"),
        pl.col("mother_id").alias("_mother_id"),
        pl.col("mother_name").alias("_x_母亲姓名"),
        pl.col("phone").alias("_x_联系电话"),
    ).with_columns(
        k["id_number"].set(pl.Series(rng.random(n) >= 0.4), None).alias("id_number"),
        k["community_code"].set(pl.Series(rng.random(n) >= 0.9), None).alias("community_code"),
        pl.Series("_q", np.searchsorted(np.array(QUARTERS), quarter)),
        pl.lit(False).alias("_superseded"),
        pl.lit(False).alias("_redelivered"),
    )
    outside = k["outside"] & frame["community_code"].is_not_null()
    frame = frame.with_columns(text_where(outside.to_numpy(), "outside_district").alias("_anomaly"))
    # A registration first sent without the ID number is sent again once it has one.
    eligible = (
        frame["id_number"].is_null()
        & frame["_anomaly"].is_null()
        & (frame["_q"] < len(QUARTERS) - 1)
    )
    frame, copies = redeliver_later(frame, rng, 0.03, eligible, _with_child_id)
    copies = copies.with_columns(pl.col("_q") + 1)
    return pl.concat([frame, copies])


def archives_rows(archives: pl.DataFrame) -> pl.DataFrame:
    """Health archives: the full extract, then monthly deltas (`_delivery`)."""
    ends = [day(date(2022, 12, 31))] + [end for _ym, end in ARCHIVE_MONTHS]
    return by_events(
        archives,
        ("archive_date", "family_doctor_signed_on", "closed_on"),
        {
            "family_doctor_signed_on": "family_doctor_signed_on",
            "closed_on": "closed_on",
            "close_reason": "closed_on",
        },
        ends,
    )


def checks_rows(checks: pl.DataFrame, plan: list[Delivery], rng, first_chunk: bool):
    """Health checks by history year or pilot month (`_to`), some re-delivered corrected,
    a few in the late files."""
    days = checks["check_date"].cast(pl.Int32).to_numpy()
    years = days.astype("datetime64[D]").astype("datetime64[Y]").astype(int) + 1970
    ends = np.array([end for _ym, end in PILOT_MONTHS])
    target = np.where(
        days < day(date(2022, 10, 1)),
        np.searchsorted(HISTORY_YEARS, years),
        len(HISTORY_YEARS) + np.searchsorted(ends, days),
    )
    frame = checks.with_columns(
        pl.Series("_to", target),
        pl.lit(False).alias("_superseded"),
        pl.lit(False).alias("_redelivered"),
    )
    last_month = len(HISTORY_YEARS) + len(PILOT_MONTHS) - 1
    # A check corrected after it was sent is sent again with the next month.
    eligible = (
        (frame["_to"] >= len(HISTORY_YEARS))
        & (frame["_to"] < last_month)
        & frame["_anomaly"].is_null()
        & frame["archive_no"].is_not_null()
    )
    frame, copies = redeliver_later(frame, rng, 0.01, eligible, _reweighed)
    frame = pl.concat([frame, copies.with_columns(pl.col("_to") + 1)])
    return _late_checks(frame, plan, rng, first_chunk)


def _late_checks(frame, plan, rng, first_chunk: bool) -> pl.DataFrame:
    """Moves a few checks of one month into a late file that lacks check_date
    (rejected whole) and its corrected resend."""
    month = next(i for i, d in enumerate(plan) if d.path.startswith(f"{REJECTED_MONTH}/"))
    clean = (
        (pl.col("_to") == month)
        & ~pl.col("_superseded")
        & ~pl.col("_redelivered")
        & pl.col("_anomaly").is_null()
    )
    candidates = np.flatnonzero(frame.select(clean).to_series().to_numpy())
    k = max(int(rng.binomial(len(candidates), 0.03)), int(first_chunk))
    picked = rng.choice(candidates, size=min(k, len(candidates)), replace=False)
    hit = np.zeros(frame.height, dtype=bool)
    hit[picked] = True
    rejected, resent = len(plan) - 2, len(plan) - 1
    moved = frame.filter(pl.Series(hit))
    return pl.concat(
        [
            frame.filter(pl.Series(~hit)),
            moved.with_columns(pl.lit(rejected, pl.Int64).alias("_to")),
            moved.with_columns(pl.lit(resent, pl.Int64).alias("_to")),
        ]
    )


def enrollments_rows(enrolled: pl.DataFrame) -> pl.DataFrame:
    """Enrollments: the roll at the pilot's start, then monthly deltas (`_delivery`)."""
    ends = [day(date(2022, 9, 30))] + [end for _ym, end in PILOT_MONTHS]
    return by_events(enrolled, ("enroll_date", "leave_date"), {"leave_date": "leave_date"}, ends)


def _with_child_id(rows: pl.DataFrame, rng) -> pl.DataFrame:
    return rows.with_columns(pl.col("_child_id").alias("id_number"))


def _reweighed(rows: pl.DataFrame, rng) -> pl.DataFrame:
    delta = pl.Series(rng.choice([-0.5, -0.3, -0.2, 0.2, 0.3, 0.5], size=rows.height))
    return rows.with_columns((pl.col("weight_kg") + delta).clip(2.0, 25.0).round(1))
