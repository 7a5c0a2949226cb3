"""Small-cell suppression: no count of people between 1 and k-1 can be read or derived.

The checker below is written independently of pipelines.report.suppression: it looks only
at the published cells, derives every count a reader can (from a row: value x denominator,
numerator / value, denominator - numerator; across rows: the district minus any set of
published streets), and fails on any derived count between 1 and k-1.
"""

from __future__ import annotations

from itertools import combinations

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines.report.suppression import suppress, suppress_scorecard
from tests.test_report_fixtures import DISTRICT, PEOPLE, STREETS, indicator_values, scorecard


def _known_counts(row: dict) -> dict[str, int | None]:
    """Counts a reader gets from one published row."""
    num, den, value = row["numerator"], row["denominator"], row["value"]
    if num is None and value is not None and den is not None:
        num = round(value * den)
    if den is None and value not in (None, 0) and num is not None:
        den = round(num / value)
    diff = den - num if num is not None and den is not None else None
    return {"numerator": num, "denominator": den, "difference": diff}


def disclosures(published: pl.DataFrame, k: int) -> list[str]:
    """Every count between 1 and k-1 a reader can derive from the published table."""
    found = []
    rows = [r for r in published.to_dicts() if r["indicator_code"] in PEOPLE]
    for r in rows:
        for measure, n in _known_counts(r).items():
            if n is not None and 0 < n < k:
                found.append(f"{r['indicator_code']} {r['period']} {r['scope_code']} {measure}={n}")
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        groups.setdefault((r["indicator_code"], r["period"]), []).append(r)
    for (code, period), group in groups.items():
        district = [_known_counts(r) for r in group if r["scope_level"] == "district"]
        streets = [_known_counts(r) for r in group if r["scope_level"] == "street"]
        for measure in ("numerator", "denominator", "difference"):
            if not district or district[0][measure] is None:
                continue
            known = [s[measure] for s in streets if s[measure] is not None]
            # District minus any set of published streets (the unknown streets stay in).
            for size in range(len(known) + 1):
                for subtracted in combinations(known, size):
                    n = district[0][measure] - sum(subtracted)
                    if 0 < n < k:
                        found.append(f"{code} {period} district-{size} streets {measure}={n}")
    return found


def published_equals_marts(published: pl.DataFrame, marts: pl.DataFrame) -> bool:
    key = ["indicator_code", "scope_level", "scope_code", "period"]
    joined = published.join(marts, on=key, suffix="_mart")
    assert joined.height == published.height
    for column in ("numerator", "denominator", "value", "target_met"):
        shown = joined.filter(pl.col(column).is_not_null())
        if not (shown[column].cast(pl.Float64) == shown[f"{column}_mart"].cast(pl.Float64)).all():
            return False
    return True


def test_fixture_has_small_cells_and_checker_finds_them():
    # The unsuppressed marts disclose: the checker is not vacuous.
    marts = indicator_values().filter(pl.col("scope_level") != "community")
    assert any(
        "staff_certification_rate 2023Q2 330206002 numerator=3" in d for d in disclosures(marts, 5)
    )
    assert any(
        "record_filing_rate 2023Q2 district-4 streets numerator=2" in d
        for d in disclosures(marts, 5)
    )


def test_suppressed_fixture_discloses_nothing_and_keeps_mart_figures():
    marts = indicator_values()
    published = suppress(marts, 5, PEOPLE)
    assert disclosures(published, 5) == []
    assert published_equals_marts(published, marts)
    assert set(published["scope_level"]) == {"district", "street"}  # communities never published


def _hidden(published: pl.DataFrame, code: str) -> dict[str, tuple[bool, bool, bool]]:
    rows = published.filter((pl.col("indicator_code") == code) & (pl.col("period") == "2023Q2"))
    return {
        r["scope_code"]: (
            r["numerator_suppressed"],
            r["denominator_suppressed"],
            r["value_suppressed"],
        )
        for r in rows.iter_rows(named=True)
        if r["numerator_suppressed"] or r["denominator_suppressed"]
    }


ROW = (True, True, True)  # numerator, denominator and value hidden
NUM = (True, False, True)  # numerator and value hidden, denominator published


def test_hand_worked_cells():
    published = suppress(indicator_values(), 5, PEOPLE)
    s2, s3, s4 = STREETS[1][0], STREETS[2][0], STREETS[3][0]
    # Staff: street 2 has 3 of 4 certified (primary, whole row); street 4 (20/25) is the next
    # smallest, hidden so that district minus the other streets does not give street 2 back.
    assert _hidden(published, "staff_certification_rate") == {
        s2: (True, True, True),
        s4: (True, True, True),
    }
    # Surveys: 18 of 20 and 40 of 44 passed: the 2 and 4 who did not pass are protected by
    # hiding the numerators; denominators stay published.
    assert _hidden(published, "parenting_knowledge_rate") == {
        s2: (True, False, True),
        s4: (True, False, True),
    }
    # Filing: district minus all streets = 2 archived children of no known street (< 5): the
    # smallest numerator (street 4) goes, then street 2 so that no street stands alone.
    assert _hidden(published, "record_filing_rate") == {
        s2: (True, True, True),
        s4: (True, True, True),
    }
    # Enrollment: 2 of 2 in street 4; street 3 is hidden with it.
    assert _hidden(published, "enrollment_check_rate") == {
        s3: (True, True, True),
        s4: (True, True, True),
    }
    # Slots and institutions are not people: 2 of 3 slots in street 3 stay published.
    assert _hidden(published, "affordable_slot_share") == {}
    slots = published.filter(
        (pl.col("indicator_code") == "affordable_slot_share")
        & (pl.col("period") == "2023Q2")
        & (pl.col("scope_code") == s3)
    )
    assert slots["numerator"].to_list() == [2]


def test_scorecard_value_of_a_hidden_street_is_hidden():
    marts = indicator_values()
    card = scorecard(marts)
    # Served streets 1 and 2: the lower rate is street 1 (188/200), which is published.
    shown = suppress_scorecard(card, marts, 5, PEOPLE).filter(pl.col("period") == "2023Q2")
    filing = shown.filter(pl.col("target_code") == "T01")
    assert filing["value"].to_list() == [0.94] and filing["value_suppressed"].to_list() == [False]
    # If street 2 (hidden, 95/100) were the lowest, the scorecard must not show its rate.
    card = card.with_columns(
        value=pl.when((pl.col("target_code") == "T01") & (pl.col("period") == "2023Q2"))
        .then(0.95)
        .otherwise(pl.col("value"))
    )
    hidden = suppress_scorecard(card, marts, 5, PEOPLE).filter(
        (pl.col("period") == "2023Q2") & (pl.col("target_code") == "T01")
    )
    assert hidden["value"].to_list() == [None] and hidden["met"].to_list() == [None]
    assert hidden["value_suppressed"].to_list() == [True]


def _group(code: str, district: tuple[int, int], streets: list[tuple[int, int]]) -> list[dict]:
    def row(level, scope, num, den):
        return {
            "indicator_code": code,
            "indicator_name_zh": code,
            "scope_level": level,
            "scope_code": scope,
            "scope_name": scope,
            "period": "2023Q2",
            "numerator": num,
            "denominator": den,
            "value": num / den if den else None,
            "target": None,
            "target_met": None,
        }

    return [row("district", DISTRICT[0], *district)] + [
        row("street", f"s{i}", num, den) for i, (num, den) in enumerate(streets)
    ]


cells = st.tuples(st.integers(0, 40), st.integers(0, 40)).map(lambda t: (min(t), max(t)))


@settings(max_examples=300, deadline=None)
@given(
    streets=st.lists(cells, min_size=1, max_size=7),
    unallocated=cells,
    k=st.integers(2, 11),
)
def test_no_disclosure_for_any_group(streets, unallocated, k):
    district = (
        sum(n for n, _ in streets) + unallocated[0],
        sum(d for _, d in streets) + unallocated[1],
    )
    marts = pl.DataFrame(
        _group("staff_certification_rate", district, streets)
        + _group("affordable_slot_share", district, streets),
        infer_schema_length=None,
    )
    published = suppress(marts, k, PEOPLE)
    assert disclosures(published, k) == []
    assert published_equals_marts(published, marts)
    # Institutions' slots are never suppressed.
    slots = published.filter(pl.col("indicator_code") == "affordable_slot_share")
    assert not slots["value_suppressed"].any()
