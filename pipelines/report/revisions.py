"""Revisions of submitted figures: from each version of a quarter to the next, and from its
latest version to the current marts, each naming the files that caused it.

Both sides are suppressed on their own tables, so a revision shows nothing the published
tables hide. Values only (no counts); where a revision moved a count of people by 1 to k-1,
the earlier value is hidden too, as beside the later denominator it would give that small
count back. A cell suppressed on both sides is not listed: there is nothing to show.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from itertools import pairwise

import polars as pl

from pipelines.ingest.sources import SOURCES
from pipelines.report.formatting import SCOPE_LEVELS, figure
from pipelines.report.published import Published

KEY = ["indicator_code", "scope_level", "scope_code", "period"]
FILE_KEY = ["source", "file"]
_LISTED_FILES = 5  # file names written out per kind of change; the rest are counted
_NO_FILE = "报送后无相关新文件：登记信息或计算口径更正"
# Kind of file change -> its label and what happened to the files.
_CHANGES = {
    "added": ("数据更新", "在报送后到达"),
    "changed": ("数据更正", "在报送后被替换"),
    "withdrawn": ("数据撤回", "在报送后被撤回"),
}


@dataclass(frozen=True)
class Side:
    """One side of a comparison: a frozen version, or the current marts (version None)."""

    version: int | None
    values: pl.DataFrame  # indicator_values rows of the quarter, unsuppressed
    files: pl.DataFrame | None  # source, file, content_sha256 of the delivered files
    period_end: date | None


def comparisons(data: Published, vintages: dict[str, pl.DataFrame]) -> Iterator[tuple[Side, Side]]:
    """(earlier, later) for each version of a quarter and its successor; the successor of the
    last version is the current marts."""
    if not vintages:
        return
    files = vintages["vintage_files"]
    audit = data.file_audit
    for (period,), versions in (
        vintages["vintages"].sort("period", "version").group_by("period", maintain_order=True)
    ):
        sides = [
            Side(
                v["version"],
                _frozen(vintages["vintage_indicator_values"], v["vintage_id"]),
                _frozen(files, v["vintage_id"]),
                v["period_end"],
            )
            for v in versions.iter_rows(named=True)
        ]
        current = data.indicator_values.filter(pl.col("period") == period)
        sides.append(
            Side(
                None,
                current,
                None if audit is None else audit.select("source", "file", "content_sha256"),
                current["period_end"][0] if not current.is_empty() else None,
            )
        )
        yield from pairwise(sides)


def revisions(data: Published, vintages: dict[str, pl.DataFrame], k: int) -> pl.DataFrame:
    """Every figure a later version or later data changed: both values, and why.

    `version` is the earlier side's version, `against` the later one's (null: the current
    marts); `before_*` and `after_*` are their values as published, suppression applied."""
    people = data.indicators.people
    rows = []
    for before, after in comparisons(data, vintages):
        changed = _changed_cells(before.values, after.values, k, people)
        if changed.is_empty():
            continue
        table = (
            changed.join(_shown_values(data, before.values, k, "before"), on=KEY, how="left")
            .join(_shown_values(data, after.values, k, "after"), on=KEY, how="left")
            .with_columns(
                before_suppressed=pl.col("before_suppressed").fill_null(False)
                | pl.col("small_change"),
                after_suppressed=pl.col("after_suppressed").fill_null(False),
                before_value=pl.when(pl.col("small_change"))
                .then(None)
                .otherwise(pl.col("before_value")),
            )
            .filter(~(pl.col("before_suppressed") & pl.col("after_suppressed")))
            .drop("small_change")
        )
        reasons: dict[tuple[str, ...], str] = {}
        for row in table.iter_rows(named=True):
            feeds = data.indicators.sources(row["indicator_code"])
            if feeds not in reasons:
                reasons[feeds] = _reason(feeds, before, after)
            rows.append(
                {
                    **row,
                    "version": before.version,
                    "against": after.version,
                    "reason": reasons[feeds],
                }
            )
    return pl.DataFrame(rows, infer_schema_length=None) if rows else pl.DataFrame()


def revision_rows(data: Published, revised: pl.DataFrame) -> list[list[str]]:
    """The revisions as the report and `yiyu submissions` write them."""
    indicators = data.indicators
    return [
        [
            r["period"],
            f"版本 {r['version']} → "
            + ("当前" if r["against"] is None else f"版本 {r['against']}"),
            indicators.name(r["indicator_code"]),
            f"{SCOPE_LEVELS.get(r['scope_level'], '')} {r['scope_name'] or ''}",
            figure(
                r["before_value"], indicators.is_ratio(r["indicator_code"]), r["before_suppressed"]
            ),
            figure(
                r["after_value"], indicators.is_ratio(r["indicator_code"]), r["after_suppressed"]
            ),
            r["reason"],
        ]
        for r in revised.iter_rows(named=True)
    ]


def _frozen(table: pl.DataFrame, vintage_id: int) -> pl.DataFrame:
    return table.filter(pl.col("vintage_id") == vintage_id).drop("vintage_id")


def _changed_cells(
    before: pl.DataFrame, after: pl.DataFrame, k: int, people: frozenset[str]
) -> pl.DataFrame:
    """Keys of the district and street cells that differ, and whether a count of people
    moved by 1 to k-1."""
    cols = ["numerator", "denominator", "value"]
    joined = before.select(*KEY, "scope_name", *cols).join(
        after.select(*KEY, "scope_name", *cols),
        on=KEY,
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
            *KEY,
            pl.coalesce("scope_name", "scope_name_now").alias("scope_name"),
            small.alias("small_change"),
        )
        .sort(KEY)
    )


def _shown_values(data: Published, values: pl.DataFrame, k: int, side: str) -> pl.DataFrame:
    return data.protected_values(k, values).select(
        *KEY,
        pl.col("value").alias(f"{side}_value"),
        pl.col("value_suppressed").alias(f"{side}_suppressed"),
    )


def _reason(feeds: tuple[str, ...], before: Side, after: Side) -> str:
    reasons = []
    if before.period_end and after.period_end and before.period_end != after.period_end:
        reasons.append(
            f"参考日由 {before.period_end} 变为 {after.period_end}（报送时本季度尚未结束）"
        )
    if before.files is not None and after.files is not None:
        for kind, files in _file_changes(before.files, after.files, feeds).items():
            if files.height:
                label, happened = _CHANGES[kind]
                reasons.append(f"{label}: {files.height} 个文件{happened}（{_names(files)}）")
    return "；".join(reasons) or _NO_FILE


def _file_changes(
    then: pl.DataFrame, now: pl.DataFrame, feeds: tuple[str, ...]
) -> dict[str, pl.DataFrame]:
    """Files of the feeding sources added, changed (same path, other content) or withdrawn.

    Compared by path and content hash, not by ingestion time: a re-stamped unchanged file
    is no change."""
    then = then.filter(pl.col("source").is_in(feeds)).select(*FILE_KEY, "content_sha256")
    now = now.filter(pl.col("source").is_in(feeds)).select(*FILE_KEY, "content_sha256")
    return {
        "added": now.join(then, on=FILE_KEY, how="anti"),
        "changed": now.join(then, on=FILE_KEY, how="inner", suffix="_then").filter(
            pl.col("content_sha256") != pl.col("content_sha256_then")
        ),
        "withdrawn": then.join(now, on=FILE_KEY, how="anti"),
    }


def _names(files: pl.DataFrame) -> str:
    """The files by source (`儿童健康检查: a.csv、b.csv`), the first few named."""
    listed = files.sort(FILE_KEY).head(_LISTED_FILES)
    parts = [
        f"{SOURCES[s].label_zh if s in SOURCES else s}: {'、'.join(group['file'])}"
        for (s,), group in listed.group_by("source", maintain_order=True)
    ]
    more = f" 等共 {files.height} 个" if files.height > _LISTED_FILES else ""
    return "，".join(parts) + more
