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

Community rows are not published (the street/community hierarchy would need a second level
of complementary suppression); they are dropped here.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import polars as pl

MEASURES = ("numerator", "denominator", "difference")
PUBLISHED_SCOPES = ("district", "street")
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
