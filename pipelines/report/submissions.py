"""Frozen quarterly submissions (报送): vintages that survive every later refresh.

A submission copies the unsuppressed mart figures of one period, and the list of delivered
files at that moment, into `<warehouse dir>/submissions.duckdb`, a file the refresh never
touches. Vintages are only ever inserted: submitting a period again adds a new version and
leaves the earlier ones as they were. The report compares the latest version of each period
with the current marts and explains every revision.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import duckdb
import polars as pl

from pipelines.config import Settings
from pipelines.ingest.sources import SOURCES
from pipelines.report.published import Published, read_published

_SCHEMA = """
create table if not exists vintages (
    vintage_id integer primary key, period varchar not null, version integer not null,
    submitted_at timestamp not null, period_end date, published_file varchar
);
"""
_KEY = ["indicator_code", "scope_level", "scope_code", "period"]


def submissions_path(published: Path | None = None) -> Path:
    """Beside the published file (by default the one `YIYU_WAREHOUSE_PATH` names)."""
    return (published or Settings.from_env().warehouse_path).parent / "submissions.duckdb"


def submit(period: str, published: Path | None = None, store: Path | None = None) -> int:
    """Freeze `period` of the published marts as a new vintage; returns its version number."""
    published = published or Settings.from_env().warehouse_path
    data = read_published(published)
    values = data.indicator_values.filter(pl.col("period") == period)
    if values.is_empty():
        raise ValueError(f"period {period} is not in the published marts")
    scorecard = data.scorecard.filter(pl.col("period") == period)
    files = (
        data.file_audit.select("source", "file", "content_sha256")
        if data.file_audit is not None
        else pl.DataFrame(
            schema={"source": pl.String, "file": pl.String, "content_sha256": pl.String}
        )
    )
    store = store or submissions_path(published)
    store.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(store))
    try:
        con.execute("begin")
        con.execute(_SCHEMA)
        vintage_id, version = con.execute(
            "select coalesce(max(vintage_id), 0) + 1,"
            " coalesce(max(version) filter (where period = ?), 0) + 1 from vintages",
            [period],
        ).fetchall()[0]
        con.execute(
            "insert into vintages values (?, ?, ?, ?, ?, ?)",
            [vintage_id, period, version, datetime.now(), values["period_end"][0], str(data.path)],
        )
        for table, frame in (
            ("vintage_indicator_values", values),
            ("vintage_scorecard", scorecard),
            ("vintage_files", files),
        ):
            tagged = frame.with_columns(vintage_id=pl.lit(vintage_id, pl.Int32))
            con.register("frame", tagged)
            con.execute(f"create table if not exists {table} as select * from frame limit 0")
            con.execute(f"insert into {table} by name select * from frame")
            con.unregister("frame")
        con.execute("commit")
    finally:
        con.close()
    return version


def read_vintages(store: Path) -> dict[str, pl.DataFrame]:
    """All stored tables by name (empty dict when nothing was ever submitted)."""
    if not store.exists():
        return {}
    con = duckdb.connect(str(store), read_only=True)
    try:
        names = [
            r[0] for r in con.execute("select table_name from information_schema.tables").fetchall()
        ]
        return {name: con.sql(f"select * from {name}").pl() for name in names}
    finally:
        con.close()


def latest_vintages(vintages: dict[str, pl.DataFrame]) -> pl.DataFrame:
    """The latest version of each submitted period."""
    if not vintages:
        return pl.DataFrame()
    return vintages["vintages"].sort("version").group_by("period").last().sort("period")


def revisions(data: Published, vintages: dict[str, pl.DataFrame], k: int) -> pl.DataFrame:
    """Submitted figures that later data changed: submitted and current value, and why.

    Both sides are suppressed on their own tables, so the revision table shows nothing the
    published tables hide. Values only (no counts); and where the revision moved a count of
    people by 1 to k-1, the submitted value is hidden too, as with the current denominator it
    would give that small count back.
    """
    people = data.indicators.people
    rows = []
    for vintage in latest_vintages(vintages).iter_rows(named=True):
        vid = vintage["vintage_id"]
        frozen = (
            vintages["vintage_indicator_values"]
            .filter(pl.col("vintage_id") == vid)
            .drop("vintage_id")
        )
        current = data.indicator_values.filter(pl.col("period") == vintage["period"])
        changed = _changed_cells(frozen, current, k, people)
        if changed.is_empty():
            continue
        frozen_shown = _shown_values(data, frozen, k, "submitted")
        current_shown = _shown_values(data, current, k, "current")
        files = vintages["vintage_files"].filter(pl.col("vintage_id") == vid)
        table = changed.join(frozen_shown, on=_KEY, how="left").join(
            current_shown, on=_KEY, how="left"
        )
        table = table.with_columns(
            submitted_suppressed=pl.col("submitted_suppressed") | pl.col("small_change"),
            submitted_value=pl.when(pl.col("small_change"))
            .then(None)
            .otherwise(pl.col("submitted_value")),
        ).drop("small_change")
        for row in table.iter_rows(named=True):
            rows.append(
                {
                    **row,
                    "version": vintage["version"],
                    "submitted_at": vintage["submitted_at"],
                    "reason": _reason(
                        data.indicators.sources(row["indicator_code"]),
                        vintage,
                        current,
                        files,
                        data.file_audit,
                    ),
                }
            )
    return pl.DataFrame(rows) if rows else pl.DataFrame()


def _changed_cells(
    frozen: pl.DataFrame, current: pl.DataFrame, k: int, people: frozenset[str]
) -> pl.DataFrame:
    """Keys of the district and street cells that differ, and whether a count of people
    moved by 1 to k-1."""
    cols = ["numerator", "denominator", "value"]
    joined = frozen.select(*_KEY, "scope_name", *cols).join(
        current.select(*_KEY, "scope_name", *cols),
        on=_KEY,
        how="full",
        coalesce=True,
        suffix="_now",
    )
    differs = pl.any_horizontal(
        *[pl.col(c).cast(pl.Float64).ne_missing(pl.col(f"{c}_now").cast(pl.Float64)) for c in cols]
    )
    small = pl.any_horizontal(
        *[(pl.col(c) - pl.col(f"{c}_now")).abs().is_between(1, k - 1) for c in cols[:2]]
    ).fill_null(False) & pl.col("indicator_code").is_in(list(people))
    return (
        joined.filter(pl.col("scope_level").is_in(["district", "street"]) & differs)
        .select(
            *_KEY,
            pl.coalesce("scope_name", "scope_name_now").alias("scope_name"),
            small.alias("small_change"),
        )
        .sort(_KEY)
    )


def _shown_values(data: Published, values: pl.DataFrame, k: int, side: str) -> pl.DataFrame:
    return data.protected_values(k, values).select(
        *_KEY,
        pl.col("value").alias(f"{side}_value"),
        pl.col("value_suppressed").alias(f"{side}_suppressed"),
    )


def _reason(
    feeds: tuple[str, ...],
    vintage: dict,
    current: pl.DataFrame,
    frozen_files: pl.DataFrame,
    file_audit: pl.DataFrame | None,
) -> str:
    reasons = []
    period_end_now = current["period_end"][0] if not current.is_empty() else None
    if period_end_now is not None and period_end_now != vintage["period_end"]:
        reasons.append(
            f"参考日由 {vintage['period_end']} 变为 {period_end_now}（报送时本季度尚未结束）"
        )
    if file_audit is not None:
        now = file_audit.filter(pl.col("source").is_in(feeds)).select(
            "source", "file", "content_sha256"
        )
        known = frozen_files.select("source", "file", "content_sha256")
        new = now.join(known, on=["source", "file"], how="anti")
        replaced = now.join(known, on=["source", "file"], how="inner", suffix="_then").filter(
            pl.col("content_sha256") != pl.col("content_sha256_then")
        )
        if new.height:
            reasons.append(f"数据更新: {new.height} 个文件在报送后到达（{_by_source(new)}）")
        if replaced.height:
            reasons.append(
                f"数据更正: {replaced.height} 个文件在报送后被替换（{_by_source(replaced)}）"
            )
    return "；".join(reasons) or "报送后无相关新文件：登记信息或计算口径更正"


def _by_source(files: pl.DataFrame) -> str:
    counts = files.group_by("source").len().sort("source")
    return "、".join(
        f"{SOURCES[s].label_zh if s in SOURCES else s} {n}" for s, n in counts.iter_rows()
    )
