"""The follow-up backlog (contract section 8, `marts.follow_up_backlog`) in the report and the
exports: figures equal to the worklist rows where shown, small cells hidden, and nothing hidden
that a reader could work out from the shown backlog together with the indicator values
published beside it (docs/report.md, small-cell suppression)."""

from __future__ import annotations

import csv
from itertools import combinations
from pathlib import Path

import duckdb
import numpy as np
import openpyxl
import polars as pl
import pytest

from pipelines.report.exports import write_exports
from pipelines.report.formatting import FOLLOW_UP_REASONS as REASONS
from pipelines.report.render import write_report
from pipelines.report.suppression import _Gaps, _hide_counts, suppress, suppress_backlog
from tests.test_report import _tables
from tests.test_report_fixtures import PEOPLE, indicator_values, settings_for, write_published

K = 5
SUPPRESSED = "已抑制"
HEALTH_REASONS = [r for r in REASONS if r != "enrolled_without_entry_check"]
HF = "health_facility"
# The worklist rows' columns the checks read (worklist.follow_up_rows, one row per child).
TRUTH_COLUMNS = [
    "period", "reason", "street_code", "recipient_code", "recipient_name", "recipient_type",
]  # fmt: skip


def derivable(
    streets: dict[str | None, tuple[int, int, bool, bool]],
    pairs: dict[tuple[str | None, str], int],
    recipients: dict[str, bool],
    k: int = K,
) -> list[str]:
    """The counts of 1..k-1 a reader works out for one indicator, period and reason from the
    indicator values and the backlog published together, knowing which streets each recipient
    serves. `streets`: code (None: the district, "": the people without a known street) ->
    (numerator, denominator, numerator shown, denominator shown); `pairs`: (street code, or
    "" without one; recipient) -> worklist rows; `recipients`: whether each count is shown.

    Unknowns: each street's numerator and its rows per recipient (denominator = numerator +
    rows). A figure is derivable when its vector lies in the span of the shown figures'."""
    parts = [s for s in streets if s is not None]
    cells = sorted((c for c, n in pairs.items() if n > 0), key=str)
    columns = [("num", s) for s in parts] + [("rows", *c) for c in cells]
    truth = np.array([streets[c[1]][0] if c[0] == "num" else pairs[c[1:]] for c in columns])

    def vector(street=None, recipient=None, num=False, rows=False) -> np.ndarray:
        return np.array(
            [
                1.0
                if (num and c[0] == "num" and street in (None, c[1]))
                or (
                    rows and c[0] == "rows" and street in (None, c[1]) and recipient in (None, c[2])
                )
                else 0.0
                for c in columns
            ]
        )

    figures = []  # (name, vector, shown)
    for code, (_, _, num_shown, den_shown) in streets.items():
        name = {None: "district", "": "no street"}.get(code, f"street {code}")
        figures += [
            (f"{name} numerator", vector(code, num=True), num_shown),
            (f"{name} denominator", vector(code, num=True, rows=True), den_shown),
            (f"{name} gap", vector(code, rows=True), num_shown and den_shown),
        ]
    figures += [
        (f"recipient {r}", vector(None, r, rows=True), shown) for r, shown in recipients.items()
    ]
    found = [
        f"{n} shown = {int(v @ truth)}" for n, v, shown in figures if shown and 0 < v @ truth < k
    ]
    known = np.array([v for _, v, shown in figures if shown] or [np.zeros(len(columns))])
    rank = np.linalg.matrix_rank(known)
    hidden = [(n, v) for n, v, shown in figures if not shown]
    recipients_hidden = [v for n, v in hidden if n.startswith("recipient")]
    combos = [[h] for h in hidden] + [list(c) for c in combinations(hidden, 2)]
    if recipients_hidden:
        combos.append([("all hidden recipients", sum(recipients_hidden))])
    for combo in combos:
        target = sum(v for _, v in combo)
        value = int(target @ truth)
        if 0 < value < k and np.linalg.matrix_rank(np.vstack([known, target])) == rank:
            found.append(f"{' + '.join(n for n, _ in combo)} = {value} derivable")
    return found


# --- hand-worked cells -------------------------------------------------------------------


def _backlog(rows: list[tuple[str, str, int]], period="2023Q2", reason="no_archive"):
    return pl.DataFrame(
        [(period, code, code, kind, reason, n) for code, kind, n in rows],
        schema=[
            "period",
            "recipient_code",
            "recipient_name",
            "recipient_type",
            "reason",
            "children",
        ],
        orient="row",
    )


def _hidden(backlog: pl.DataFrame, values: pl.DataFrame) -> set[str]:
    out = suppress_backlog(backlog, values, K, PEOPLE)
    assert (
        out.filter(pl.col("children_suppressed"))["children"].null_count()
        == out.filter(pl.col("children_suppressed")).height
    )
    return set(out.filter(pl.col("children_suppressed"))["recipient_code"])


def test_small_counts_and_what_the_street_gaps_give_back_are_hidden():
    # Fixture 2023Q2 filing: street gaps 12, 5, 10, 4, district 32 (1 child without a street).
    # The indicator table hides streets 2 and 4 (gap 4, then complementary), so a centre per
    # street would show their gaps; the child without a street goes unassigned.
    values = indicator_values()
    backlog = _backlog(
        [
            ("C1", HF, 12),
            ("C2", HF, 5),
            ("C3", HF, 10),
            ("C4", HF, 4),
            ("unassigned", "unassigned", 1),
        ]
    )
    # C4 and unassigned: 1..4; C2: street 2's hidden gap (5) read from its centre.
    assert _hidden(backlog, values) == {"C2", "C4", "unassigned"}


def test_complementary_counts_close_the_district_gap():
    def hidden(counts, total=32, total_known=True, known=(), nested=False):
        gaps = _Gaps(total, total_known, frozenset(), frozenset(known))
        return [n for n, h in zip(counts, _hide_counts(counts, gaps, K, nested), strict=True) if h]

    # Two counts of 2 (primary) leave 32 - 28 = 4 to a reader: the 28 is hidden as well.
    assert hidden([2, 2, 28]) == [2, 2, 28]
    # One small count: the smallest other non-zero count goes too, but not one equal to a
    # shown street gap (12 would be read from it): 17 rather than 12; a zero never.
    assert hidden([3, 0, 12, 17], known={12}) == [3, 17]
    # A hidden district gap (37) may not be the sum of shown counts: two go.
    assert hidden([20, 17], total=37, total_known=False) == [20, 17]
    assert hidden([20, 17, 5], total=42) == []
    # Recipients splitting streets: one hidden count hides them all.
    assert hidden([7, 3, 0, 5, 5], total=20, nested=True) == [7, 3, 5, 5]


def test_a_centre_does_not_give_back_its_streets_hidden_numerator():
    # Street 1: 2 of 50 archived (numerator hidden, denominator shown); its centre's 48 would
    # give the 2 back. Street 4's numerator is hidden to protect it, so is its centre's 14.
    values = indicator_values(
        {"record_filing_rate": ([(2, 50), (95, 100), (140, 150), (76, 90)], (313, 390))}
    )
    backlog = _backlog([("C1", HF, 48), ("C2", HF, 5), ("C3", HF, 10), ("C4", HF, 14)])
    assert _hidden(backlog, values) == {"C1", "C4"}
    # The checker reads the 2 back when the centres' counts are all shown, not when protected.
    scopes = _fixture_scopes(values, "record_filing_rate")
    pairs = {(f"33020600{i}", f"C{i}"): n for i, n in enumerate((48, 5, 10, 14), start=1)}
    shown = {f"C{i}": True for i in range(1, 5)}
    assert "street 330206001 numerator = 2 derivable" in derivable(scopes, pairs, shown)
    assert derivable(scopes, pairs, shown | {"C1": False, "C4": False}) == []


def test_institutions_of_one_street_are_hidden_together():
    # Fixture 2023Q2 entry checks: street gaps 10, 5, 5, 0. Street 1's gap (shown) is split
    # 7 + 3 between two institutions: showing the 7 would give the 3 back.
    values = indicator_values()
    counts = {("330206001", "I1a"): 7, ("330206001", "I1b"): 3}
    counts |= {("330206002", "I2"): 5, ("330206003", "I3"): 5}
    backlog = _backlog(
        [(code, "institution", n) for (_, code), n in counts.items()],
        reason="enrolled_without_entry_check",
    )
    assert _hidden(backlog, values) == {"I1a", "I1b", "I2", "I3"}
    scopes = _fixture_scopes(values, "enrollment_check_rate")
    shown = {code: code == "I1a" for _, code in counts}
    assert "recipient I1b = 3 derivable" in derivable(scopes, counts, shown)
    assert derivable(scopes, counts, dict.fromkeys(shown, False)) == []


def _fixture_scopes(values: pl.DataFrame, indicator: str, period: str = "2023Q2") -> dict:
    """derivable()'s `streets` for the fixture's figures of one indicator and period."""
    of = values.filter((pl.col("indicator_code") == indicator) & (pl.col("period") == period))
    published = suppress(of, K, PEOPLE).join(
        of.select("scope_code", num="numerator", den="denominator"), on="scope_code"
    )
    scopes = {
        None if r["scope_level"] == "district" else r["scope_code"]: (
            r["num"],
            r["den"],
            not r["numerator_suppressed"],
            not r["denominator_suppressed"],
        )
        for r in published.iter_rows(named=True)
    }
    return _with_remainder(scopes)


def _with_remainder(scopes: dict) -> dict:
    """The people without a known street: the district minus its streets, never published."""
    (num, den, *_), streets = scopes[None], [v for c, v in scopes.items() if c is not None]
    rest = (num - sum(v[0] for v in streets), den - sum(v[1] for v in streets))
    return scopes | {"": (*rest, False, False)}


def test_a_hidden_district_gap_is_not_given_back_by_the_sum():
    # A district whose entry-check numerator is small: its gap (37) is hidden, so the two
    # institutions' counts (20 + 17) may not both be shown.
    values = indicator_values(
        {"enrollment_check_rate": ([(1, 20), (2, 10), (0, 5), (0, 5)], (3, 40))}
    )
    backlog = _backlog(
        [("I1", "institution", 20), ("I2", "institution", 17)],
        reason="enrolled_without_entry_check",
    )
    assert _hidden(backlog, values) == {"I1", "I2"}


# --- the report and the exports ------------------------------------------------------------


def _sheet(path: Path, name: str) -> list[dict]:
    header, *rows = openpyxl.load_workbook(path, read_only=True)[name].iter_rows(values_only=True)
    return [dict(zip(header, row, strict=True)) for row in rows]


def _indicator_shown(book: Path) -> dict[tuple[str, str, str], tuple[bool, bool]]:
    """(indicator, period, scope code) -> whether the exported indicator values show its
    numerator and its denominator."""
    return {
        (r["指标代码"], r["季度"], r["范围代码"]): (
            r["分子"] != SUPPRESSED,
            r["分母"] != SUPPRESSED,
        )
        for r in _sheet(book, "指标值")
    }


def _scopes(published: Path, indicator: str, period: str, shown: dict) -> dict:
    """derivable()'s `streets` for one indicator and period: the marts' figures, what the
    exports show of them, and the people without a known street (the district's remainder)."""
    con = duckdb.connect(str(published), read_only=True)
    try:
        rows = con.execute(
            "select scope_level, scope_code, numerator, denominator from marts.indicator_values"
            " where indicator_code = ? and period = ? and scope_level in ('district', 'street')",
            [indicator, period],
        ).fetchall()
    finally:
        con.close()
    scopes = {
        None if level == "district" else code: (num, den, *shown[(indicator, period, code)])
        for level, code, num, den in rows
    }
    return _with_remainder(scopes)


def check_backlog(published: Path, truth: pl.DataFrame, out: Path) -> dict:
    """Write the report and the exports of `published` and check the backlog they show against
    `truth` (period, reason, street_code, recipient_code, recipient_name: one row per child
    or enrollment of the worklists). Returns what the report's tables show."""
    settings = settings_for(published)
    html = write_report(out / "report.html", settings).read_text(encoding="utf-8")
    write_exports(out / "export", settings)
    book = out / "export" / "评估数据.xlsx"
    counted = truth.group_by("period", "reason", "recipient_code").agg(children=pl.len())
    expected = {(p, r, c): n for p, r, c, n in counted.iter_rows()}

    # The sheet: every recipient's count where shown, hidden where 1..k-1; the CSV alike.
    sheet = {
        (r["季度"], r["原因代码"], r["接收方代码"]): r["儿童数"] for r in _sheet(book, "随访积压")
    }
    assert sheet.keys() == expected.keys()
    assert [key for key, n in expected.items() if sheet[key] not in (n, SUPPRESSED)] == []
    assert [key for key, n in expected.items() if 0 < n < K and sheet[key] != SUPPRESSED] == []
    with (out / "export" / "随访积压.csv").open(encoding="utf-8-sig", newline="") as f:
        rows = csv.DictReader(f)
        assert {(r["季度"], r["原因代码"], r["接收方代码"]): r["儿童数"] for r in rows} == {
            key: str(v) for key, v in sheet.items()
        }

    # Nothing hidden follows from the backlog and the indicator values published with it.
    shown = _indicator_shown(book)
    for (period, reason), group in truth.group_by("period", "reason"):
        scopes = _scopes(published, REASONS[reason][1], period, shown)
        pairs = group.group_by(pl.col("street_code").fill_null(""), "recipient_code").len()
        pairs = {(street, code): n for street, code, n in pairs.iter_rows()}
        for street, (num, den, *_) in scopes.items():  # the worklists are the indicators' gaps
            gap = sum(n for (s, _), n in pairs.items() if street in (None, s))
            assert gap == den - num, (period, reason, street)
        recipients = {
            c: v != SUPPRESSED for (p, r, c), v in sheet.items() if (p, r) == (period, reason)
        }
        assert derivable(scopes, pairs, recipients) == [], (period, reason)

    # The report: the same texts as the sheet, a centre without rows reads 0.
    def text(period: str, reason: str, code: str) -> str:
        return str(sheet.get((period, reason, code), 0))

    tables = _tables(html)
    as_of = max(p for p, _, _ in expected)
    codes = dict(truth.select("recipient_name", "recipient_code").unique().iter_rows())
    centres = {c for (_, r, c) in expected if r in HEALTH_REASONS} - {"unassigned"}
    header, *rows, total = tables["backlog-table"]
    assert header == ["医疗卫生机构", *(REASONS[r][0] for r in HEALTH_REASONS)]
    assert sorted(codes[row[0]] for row in rows) == sorted(centres)
    assert [row[1:] for row in rows] == [
        [text(as_of, r, codes[row[0]]) for r in HEALTH_REASONS] for row in rows
    ]
    district = [_scopes(published, REASONS[r][1], as_of, shown)[None] for r in HEALTH_REASONS]
    assert total[1:] == [str(d - n) if a and b else SUPPRESSED for n, d, a, b in district]
    for i, reason in enumerate(HEALTH_REASONS, start=1):
        header, *rows, _ = tables[f"backlog-trend-{i}"]
        assert sorted(codes[row[0]] for row in rows) == sorted(centres)
        assert [row[1:] for row in rows] == [
            [text(p, reason, codes[row[0]]) for p in header[1:]] for row in rows
        ]
    institutions = {row[1]: row[2] for row in tables.get("backlog-institutions", [[], []])[1:-1]}
    assert institutions == {
        c: text(p, r, c)
        for (p, r, c) in expected
        if (p, r) == (as_of, "enrolled_without_entry_check")
    }
    return tables


def _fixture_truth(values: pl.DataFrame) -> pl.DataFrame:
    """Worklist rows for the fixture's indicator values: one centre (one institution) per
    street holds its gap; the children without a known street go unassigned."""
    rows = []
    for reason, (_, indicator) in REASONS.items():
        kind = "institution" if reason == "enrolled_without_entry_check" else HF
        of = values.filter(pl.col("indicator_code") == indicator)
        for period, group in of.group_by("period"):
            gap = group.select(
                "scope_level",
                "scope_code",
                "scope_name",
                n=pl.col("denominator") - pl.col("numerator"),
            )
            streets = gap.filter(pl.col("scope_level") == "street")
            rest = gap.filter(pl.col("scope_level") == "district")["n"].sum() - streets["n"].sum()
            if rest < 0:  # the scaled earlier quarters do not always add up: left out
                continue
            for _, code, name, n in streets.iter_rows():
                rows += [(period[0], reason, code, f"{kind[0]}{code}", f"{name}{kind}", kind)] * n
            rows += [(period[0], reason, None, "unassigned", "未分配", "unassigned")] * rest
    return pl.DataFrame(
        rows,
        schema=TRUTH_COLUMNS,
        orient="row",
    )


def _with_backlog(published: Path, truth: pl.DataFrame) -> Path:
    """The published file with the backlog its worklist rows give (as dbt counts them)."""
    con = duckdb.connect(str(published))
    try:
        con.register("truth", truth)
        con.execute(
            "create table marts.follow_up_backlog as select period, recipient_code,"
            " recipient_name, recipient_type, reason, count(*) as children from truth"
            " group by all"
        )
    finally:
        con.close()
    return published


def test_report_and_exports_of_a_hand_made_backlog(tmp_path):
    values = indicator_values()
    truth = _fixture_truth(values)
    published = _with_backlog(write_published(tmp_path / "warehouse" / "yiyu.duckdb"), truth)
    tables = check_backlog(published, truth, tmp_path)
    # 2023Q2 filing (worked in the first test): streets 1 and 3's centres shown, 2 and 4 not.
    rows = {row[0]: row[1] for row in tables["backlog-table"][1:]}
    assert rows == {
        "新碶街道health_facility": "12",
        "大碶街道health_facility": SUPPRESSED,
        "霞浦街道health_facility": "10",
        "柴桥街道health_facility": SUPPRESSED,
        "全区（各接收方合计）": "32",
    }
    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "有未能分配到责任机构的清单行" in html and "未建档 已抑制" in html


def test_a_published_file_without_the_backlog(tmp_path):
    published = write_published(tmp_path / "warehouse" / "yiyu.duckdb")
    html = write_report(tmp_path / "r.html", settings_for(published)).read_text(encoding="utf-8")
    assert "发布库中没有随访清单积压表（marts.follow_up_backlog）。" in html
    write_exports(tmp_path / "export", settings_for(published))
    assert not (tmp_path / "export" / "随访积压.csv").exists()


@pytest.mark.slow  # a subprocess refresh of the shipped sample
def test_backlog_of_the_sample(sample_refresh, tmp_path):
    work = sample_refresh.root / "warehouse" / "work.duckdb"
    con = duckdb.connect(str(work), read_only=True)
    try:
        truth = con.sql(f"select {', '.join(TRUTH_COLUMNS)} from worklist.follow_up_rows").pl()
    finally:
        con.close()
    tables = check_backlog(sample_refresh.published, truth, tmp_path)
    cells = [cell for row in tables["backlog-table"][1:] for cell in row[1:]]
    assert SUPPRESSED in cells and any(cell.isdigit() for cell in cells)  # not vacuous
