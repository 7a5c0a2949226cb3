"""The rows of one export: the latest period of `worklist.follow_up_rows` in the working state,
per recipient, with each handle's clear value joined from the decrypted handles and sorted as
contract section 8 says (reason, community, birth date, handle; the row key breaks ties)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

import duckdb
import polars as pl

INSTITUTION = "institution"
UNASSIGNED = "unassigned"
HANDLE_COLUMNS = ["handle_kind", "handle_key"]
# What a file name may not hold on Windows, macOS or Linux, and control characters.
_UNSAFE = re.compile(r'[\\/:*?"<>|\x00-\x1f\x7f]+')
_MAX_NAME_CHARS = 120


class NoWorklists(RuntimeError):
    """The working state has no worklist rows to export (no refresh built them yet)."""


class RowsOutOfStep(RuntimeError):
    """The rows read disagree with marts.follow_up_backlog of the same period (a refresh that
    stopped between the two): nothing is exported until a refresh rebuilds both."""


class UnknownRecipient(ValueError):
    """`--recipient` names no recipient of the latest period; the message lists the codes."""


@dataclass(frozen=True)
class Recipient:
    type: str  # health_facility | institution | unassigned
    code: str
    name: str

    @property
    def is_institution(self) -> bool:
        return self.type == INSTITUTION

    @property
    def file_name(self) -> str:
        """`<type>_<code>_<name>.xlsx`, made safe as a file name on every system."""
        stem = _UNSAFE.sub("_", f"{self.type}_{self.code}_{self.name}").strip(" .")
        return f"{stem[:_MAX_NAME_CHARS] or self.type}.xlsx"


@dataclass(frozen=True)
class Worklists:
    """What one export writes: the latest period's rows of the chosen recipients."""

    period: str
    period_end: date
    refresh_run_id: str | None
    rows: pl.DataFrame  # worklist.follow_up_rows of the chosen recipients, this period
    # the seed reference.follow_up_reasons, with the name of the indicator each closes
    reasons: pl.DataFrame

    def wanted_handles(self) -> pl.DataFrame:
        """The (handle_kind, handle_key) pairs to decrypt: only those the rows name."""
        return self.rows.select(HANDLE_COLUMNS).filter(pl.col("handle_key").is_not_null()).unique()


def read_worklists(con: duckdb.DuckDBPyConnection, recipient: str | None = None) -> Worklists:
    """The latest period's rows (of `recipient` alone when given) from the working state."""
    present = con.sql(
        "SELECT count(*) FROM information_schema.tables"
        " WHERE table_schema = 'worklist' AND table_name = 'follow_up_rows'"
    ).fetchall()[0][0]
    if not present:
        raise NoWorklists(
            "the working state holds no worklists (worklist.follow_up_rows): run yiyu refresh first"
        )
    latest = con.sql(
        "SELECT period, period_end FROM marts.indicator_values ORDER BY period_end DESC LIMIT 1"
    ).fetchall()
    if not latest:
        raise NoWorklists("the working state holds no period: run yiyu refresh first")
    period, period_end = latest[0]
    rows = con.sql(
        "SELECT * FROM worklist.follow_up_rows WHERE period_end = $d", params={"d": period_end}
    ).pl()
    _check_against_backlog(con, rows, period)
    if recipient is not None:
        chosen = rows.filter(pl.col("recipient_code") == recipient)
        if chosen.is_empty():
            codes = ", ".join(rows["recipient_code"].unique().sort())
            raise UnknownRecipient(
                f"no recipient {recipient!r} has rows in {period}; recipients: {codes or 'none'}"
            )
        rows = chosen
    run = con.sql("SELECT max(run_id) FROM meta.run_settings").fetchall()[0][0]
    reasons = con.sql(
        "SELECT reasons.*, indicators.name_zh AS indicator_name_zh"
        " FROM reference.follow_up_reasons AS reasons"
        " LEFT JOIN marts.indicators AS indicators USING (indicator_code)"
        " ORDER BY reason_order"
    ).pl()
    return Worklists(period, period_end, run, rows, reasons)


def _check_against_backlog(con: duckdb.DuckDBPyConnection, rows: pl.DataFrame, period: str) -> None:
    """The rows are a view computed now; the backlog was counted by the refresh. Both must
    agree per recipient and reason, or the file would not be what the backlog reports."""
    cell = ["recipient_type", "recipient_code", "reason"]
    counted = rows.group_by(cell).len("rows")
    backlog = con.sql(
        "SELECT recipient_type, recipient_code, reason, children FROM marts.follow_up_backlog"
        " WHERE period = $p",
        params={"p": period},
    ).pl()
    differ = counted.join(backlog, on=cell, how="full", coalesce=True).filter(
        pl.col("rows").fill_null(0) != pl.col("children").fill_null(0)
    )
    if not differ.is_empty():
        raise RowsOutOfStep(
            f"the worklist rows of {period} disagree with marts.follow_up_backlog for"
            f" {differ.height} recipient(s) and reason(s): run yiyu refresh, then export again"
        )


def with_handles(lists: Worklists, clear: pl.DataFrame) -> pl.DataFrame:
    """The rows with `handle` (the clear value of their handle, null for kind `none`), sorted
    by reason (the contract's order), community, birth date, handle, then row key."""
    values = clear.group_by(HANDLE_COLUMNS).agg(pl.col("handle_value").min().alias("handle"))
    order = lists.reasons.select("reason", "reason_order")
    return (
        lists.rows.join(values, on=HANDLE_COLUMNS, how="left")
        .join(order, on="reason", how="left")
        .sort("reason_order", "community_code", "birth_date", "handle", "row_key", nulls_last=True)
        .drop("reason_order")
    )
