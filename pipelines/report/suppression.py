"""Small-cell suppression for everything published outside the warehouse (contract section 6).

One function, used by the report, the exports and the revision table, so all of them
hide the same cells. Rules, for indicators that count people (children, staff, survey
answers), over the district and street rows of one indicator and period:

1. Primary: a numerator, a denominator, or their difference (denominator - numerator) between
   1 and k-1 is hidden; a small difference hides the numerator, so it cannot be derived.
2. Complementary: for each measure (numerator, denominator, difference), the district cell
   minus the published street cells must not reveal anything: when exactly one street cell
   is hidden, or the remainder is between 1 and k-1 (people with no known street are part of
   it), the smallest published non-zero street cell is hidden too; with none left, the
   district cell. Repeated until nothing changes.
3. A hidden numerator or denominator hides the row's value and target_met (the rate would
   give the hidden count back).

The follow-up backlog (`suppress_backlog`) is a second partition of each reason's indicator
gap (denominator - numerator) by recipient; its rules are in docs/report.md.

Community rows are not published (the street/community hierarchy would need a second level
of complementary suppression); they are dropped here.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import NamedTuple

import polars as pl

from pipelines.report.formatting import FOLLOW_UP_REASONS, INSTITUTION_REASON

MEASURES = ("numerator", "denominator", "difference")
PUBLISHED_SCOPES = ("district", "street")
_BACKLOG_GROUP = ["period", "reason"]
FLAG_COLUMNS = ("numerator_suppressed", "denominator_suppressed", "value_suppressed")


@dataclass
class _Row:
    numerator: int
    denominator: int
    hide_numerator: bool = False
    hide_denominator: bool = False

    def amount(self, measure: str) -> int:
        if measure == "numerator":
            return self.numerator
        if measure == "denominator":
            return self.denominator
        return self.denominator - self.numerator

    def known(self, measure: str) -> bool:
        if measure == "numerator":
            return not self.hide_numerator
        if measure == "denominator":
            return not self.hide_denominator
        return not (self.hide_numerator or self.hide_denominator)

    def hide(self, measure: str) -> None:
        # Hiding the numerator is enough to hide the difference, and keeps the denominator.
        if measure == "denominator":
            self.hide_denominator = True
        else:
            self.hide_numerator = True


def _primary(row: _Row, k: int) -> None:
    for measure in MEASURES:
        if 0 < row.amount(measure) < k:
            row.hide(measure)


def _complementary_step(district: _Row, streets: list[_Row], k: int) -> bool:
    """Hide one more cell where district minus published streets reveals too much."""
    for measure in MEASURES:
        if not district.known(measure):
            continue
        shown = [s for s in streets if s.known(measure)]
        hidden = len(streets) - len(shown)
        remainder = district.amount(measure) - sum(s.amount(measure) for s in shown)
        if hidden == 1 or 0 < remainder < k:
            candidates = sorted(
                (s for s in shown if s.amount(measure) > 0), key=lambda s: s.amount(measure)
            )
            (candidates[0] if candidates else district).hide(measure)
            return True
    return False


def suppress(values: pl.DataFrame, k: int, people: frozenset[str]) -> pl.DataFrame:
    """indicator_values rows (contract section 6) -> the publishable district and street rows.

    Hidden cells become null and are flagged in `numerator_suppressed`,
    `denominator_suppressed` and `value_suppressed`.
    """
    frame = values.filter(pl.col("scope_level").is_in(PUBLISHED_SCOPES))
    records = frame.to_dicts()
    groups: dict[tuple, dict[str, list[tuple[int, _Row]]]] = defaultdict(lambda: defaultdict(list))
    rows: dict[int, _Row] = {}
    for i, rec in enumerate(records):
        if rec["indicator_code"] not in people or rec["denominator"] is None:
            continue
        row = _Row(int(rec["numerator"] or 0), int(rec["denominator"]))
        _primary(row, k)
        rows[i] = row
        groups[(rec["indicator_code"], rec["period"])][rec["scope_level"]].append((i, row))
    for group in groups.values():
        if len(group["district"]) != 1:
            continue
        district = group["district"][0][1]
        streets = [row for _, row in group["street"]]
        while _complementary_step(district, streets, k):
            pass
    hide_num = [rows[i].hide_numerator if i in rows else False for i in range(len(records))]
    hide_den = [rows[i].hide_denominator if i in rows else False for i in range(len(records))]
    flags = pl.DataFrame(
        {"numerator_suppressed": hide_num, "denominator_suppressed": hide_den},
        schema={"numerator_suppressed": pl.Boolean, "denominator_suppressed": pl.Boolean},
    )
    out = pl.concat([frame, flags], how="horizontal").with_columns(
        value_suppressed=pl.col("numerator_suppressed") | pl.col("denominator_suppressed")
    )
    return out.with_columns(
        numerator=pl.when(pl.col("numerator_suppressed")).then(None).otherwise(pl.col("numerator")),
        denominator=pl.when(pl.col("denominator_suppressed"))
        .then(None)
        .otherwise(pl.col("denominator")),
        value=pl.when(pl.col("value_suppressed")).then(None).otherwise(pl.col("value")),
        target_met=pl.when(pl.col("value_suppressed")).then(None).otherwise(pl.col("target_met")),
    )


def suppress_scorecard(
    scorecard: pl.DataFrame, values: pl.DataFrame, k: int, people: frozenset[str]
) -> pl.DataFrame:
    """Hide a scorecard value that is the value of a hidden indicator cell of its period.

    The three-in-one target reports one street's filing rate; published beside that street's
    denominator it would give the hidden numerator back.
    """
    hidden = (
        values.filter(pl.col("scope_level").is_in(PUBLISHED_SCOPES))
        .select("indicator_code", "period", "value")
        .with_columns(suppress(values, k, people).select("value_suppressed"))
        .filter(pl.col("value_suppressed") & pl.col("value").is_not_null())
        .select("indicator_code", "period", _rounded("value"))
        .unique()
        .with_columns(value_suppressed=pl.lit(True))
    )
    out = scorecard.with_columns(_rounded("value").alias("_match")).join(
        hidden.rename({"value": "_match"}), on=["indicator_code", "period", "_match"], how="left"
    )
    out = out.with_columns(pl.col("value_suppressed").fill_null(False)).drop("_match")
    return out.with_columns(
        value=pl.when(pl.col("value_suppressed")).then(None).otherwise(pl.col("value")),
        met=pl.when(pl.col("value_suppressed")).then(None).otherwise(pl.col("met")),
    )


def _rounded(column: str) -> pl.Expr:
    # Scorecard and indicator values come from the same computation; rounding absorbs float noise.
    return pl.col(column).cast(pl.Float64).round(9).alias(column)


class _Gaps(NamedTuple):
    """What a reader of the suppressed indicator values knows of one indicator's gaps
    (denominator - numerator) in one period."""

    total: int | None  # the district gap (None without a district row)
    total_known: bool
    unknown: frozenset[int]  # hidden gaps: streets', the district's, the people without a street
    known: frozenset[int]  # shown gaps: a count equal to one may be read from it
    streets: frozenset[int] = frozenset()  # every street's gap


def _backlog_gaps(values: pl.DataFrame, protected: pl.DataFrame) -> dict[tuple[str, str], _Gaps]:
    """(period, indicator) -> _Gaps of the four indicators the reasons close."""
    key = ["indicator_code", "period", "scope_level", "scope_code"]
    cells = protected.select(
        *key, known=~(pl.col("numerator_suppressed") | pl.col("denominator_suppressed"))
    ).join(
        values.select(*key, gap=pl.col("denominator") - pl.col("numerator")),
        on=key,
        how="left",
    )
    out = {}
    indicators = [indicator for _, indicator in FOLLOW_UP_REASONS.values()]
    for (indicator, period), group in cells.filter(
        pl.col("indicator_code").is_in(indicators) & pl.col("gap").is_not_null()
    ).group_by("indicator_code", "period"):
        district = group.filter(pl.col("scope_level") == "district")
        streets = group.filter(pl.col("scope_level") == "street")
        total = district["gap"][0] if district.height == 1 else None
        total_known = bool(district["known"][0]) if district.height == 1 else True
        unknown = set(group.filter(~pl.col("known"))["gap"].to_list())
        known = set(group.filter(pl.col("known"))["gap"].to_list())
        if total is not None:
            # The people without a known street: the district gap minus every street's.
            no_street = total - streets["gap"].sum()
            (known if total_known and streets["known"].all() else unknown).add(no_street)
        out[(period, indicator)] = _Gaps(
            total,
            total_known,
            frozenset(unknown - {0}),
            frozenset(known - {0}),
            frozenset(streets["gap"].to_list()) - {0},
        )
    return out


def _hide_counts(counts: list[int], gaps: _Gaps, k: int, nested: bool = False) -> list[bool]:
    """Which counts of one period and reason to hide: small ones, ones a hidden gap gives back,
    complementary ones against the district gap; all where one is hidden when `nested` (the
    recipients split the streets' gaps, as institutions do)."""
    hidden = [0 < c < k or c in gaps.unknown for c in counts]
    total = sum(counts) if gaps.total is None else gaps.total
    while True:
        remainder = total - sum(c for c, h in zip(counts, hidden, strict=True) if not h)
        if not (
            sum(hidden) == 1 or 0 < remainder < k or (not gaps.total_known and not any(hidden))
        ):
            break
        candidates = [i for i, c in enumerate(counts) if not hidden[i] and c > 0]
        if not candidates:
            break
        # Hiding a count a shown gap gives back protects nothing: such counts come last.
        hidden[min(candidates, key=lambda i: (counts[i] in gaps.known, counts[i]))] = True
    return [c > 0 for c in counts] if nested and any(hidden) else hidden


def suppress_backlog(
    backlog: pl.DataFrame, values: pl.DataFrame, k: int, people: frozenset[str]
) -> pl.DataFrame:
    """marts.follow_up_backlog rows -> the same with `children_suppressed`, hidden counts null,
    checked against the indicator values published beside them (`values`, unsuppressed)."""
    gaps = _backlog_gaps(values, suppress(values, k, people))
    parts = []
    for (period, reason), group in backlog.sort(*_BACKLOG_GROUP, "recipient_code").group_by(
        _BACKLOG_GROUP, maintain_order=True
    ):
        indicator = FOLLOW_UP_REASONS.get(reason, ("", ""))[1]
        of_group = gaps.get((period, indicator), _Gaps(None, True, frozenset(), frozenset()))
        counts = group["children"].cast(pl.Int64).to_list()
        # Each street's gap whole with one recipient, or the recipients split streets.
        nested = reason == INSTITUTION_REASON or not of_group.streets <= set(counts)
        hidden = _hide_counts(counts, of_group, k, nested)
        parts.append(group.with_columns(children_suppressed=pl.Series(hidden, dtype=pl.Boolean)))
    out = pl.concat(parts) if parts else backlog.with_columns(children_suppressed=pl.lit(False))
    return out.with_columns(
        children=pl.when(pl.col("children_suppressed")).then(None).otherwise(pl.col("children"))
    )
