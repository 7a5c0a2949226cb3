"""The street assessment (contract section 6) on hand-built streets.

The real dbt project is built on the marts fixture (tests/fixtures/marts/warehouse.py) through
the Dagster assets; marts.street_assessment and marts.street_ranking are compared with rows
worked out from the fixture's hand-counted figures (tests/fixtures/marts/expected.py) and the
plan's street-level targets written out here. dbt's unit tests of the two models (ties in the
ranking, a street without a three-in-one centre) run on the built project. The report side
(a street with a suppressed value) is in tests/test_report.py.
"""

from __future__ import annotations

import json
import os
import subprocess

import duckdb
import pytest

from pipelines.config import Settings
from pipelines.marts.dbt import dbt_command, profile_env
from tests.fixtures.marts.expected import EXPECTED, Q1, Q2, Q4
from tests.fixtures.marts.warehouse import S1, S2, write_fixture
from tests.test_marts import materialize_marts, rows_of

pytestmark = pytest.mark.slow  # every test here reads a real dbt build

# The plan's street-level targets: target_code -> (indicator, target, a ratio in %).
STREET_TARGETS = {
    "health_management_95": ("health_management_rate", 0.95, True),
    "affordable_share_80": ("affordable_slot_share", 0.8, True),
    "slots_per_community_16": ("slots_per_community", 16.0, False),
    "street_coverage_100": ("street_coverage", 1.0, True),
    "station_coverage_100": ("station_street_coverage", 1.0, True),
    "staff_certification_80": ("staff_certification_rate", 0.8, True),
    "parenting_knowledge_90": ("parenting_knowledge_rate", 0.9, True),
}
FILING = ("three_in_one_record_filing", "record_filing_rate", 1.0, True)
# The fixture's only three-in-one centre (S1) is designated during 2023Q1.
SERVED = {(S1, Q1), (S1, Q2)}
PERIODS = (Q4, Q1, Q2)


def _value(indicator: str, period: str, street: str) -> float | None:
    numerator, denominator = EXPECTED[(indicator, period)][street]
    return None if denominator == 0 else numerator / denominator


def expected_assessment() -> dict[tuple[str, str, str], dict]:
    """(street, period, target_code) -> the row the contract asks for."""
    rows = {}
    for street in (S1, S2):
        for period in PERIODS:
            targets = dict(STREET_TARGETS)
            if (street, period) in SERVED:
                targets[FILING[0]] = FILING[1:]
            for code, (indicator, target, _) in targets.items():
                value = _value(indicator, period, street)
                baseline = _value(indicator, Q4, street)
                rows[(street, period, code)] = {
                    "indicator_code": indicator,
                    "value": value,
                    "target": target,
                    "met": None if value is None else value >= target,
                    "baseline_value": baseline,
                    "change": None if value is None or baseline is None else value - baseline,
                }
    return rows


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory):
    work_dir = tmp_path_factory.mktemp("streets")
    write_fixture(work_dir / "work.duckdb")
    with pytest.MonkeyPatch.context() as monkeypatch:
        result = materialize_marts(work_dir, monkeypatch)
        assert result.success, [e.message for e in result.get_step_failure_events()]
        settings = Settings.from_env()
        target = work_dir / "unit-target"
        done = subprocess.run(
            dbt_command(
                "test",
                "--select",
                "street_assessment,test_type:unit",
                "street_ranking,test_type:unit",
                target=target,
            ),
            capture_output=True,
            text=True,
            env={**os.environ, **profile_env(settings)},
        )
    con = duckdb.connect(str(work_dir / "work.duckdb"), read_only=True)
    yield con, done, json.loads((target / "run_results.json").read_text())
    con.close()


def test_dbt_unit_tests_of_both_models_pass(built):
    _, done, results = built
    assert done.returncode == 0, done.stdout[-3000:]
    passed = {r["unique_id"].split(".")[-1] for r in results["results"] if r["status"] == "pass"}
    assert passed == {
        "street_targets_with_their_baseline_and_change",
        "ranked_by_targets_met_then_mean_change_then_street_code",
    }


def test_street_assessment_matches_the_hand_counted_figures(built):
    con = built[0]
    rows = rows_of(con, "select * from marts.street_assessment")
    got = {(r["street_code"], r["period"], r["target_code"]): r for r in rows}
    expected = expected_assessment()
    assert set(got) == set(expected)
    for key, row in expected.items():
        for column, value in row.items():
            assert got[key][column] == (value if value is None else pytest.approx(value)), (
                key,
                column,
            )


def test_met_missed_and_no_filing_target_without_a_centre(built):
    con = built[0]
    rows = rows_of(con, "select * from marts.street_assessment")
    filing = {(r["street_code"], r["period"]): r for r in rows if r["target_code"] == FILING[0]}
    # S1 files 5 of 6 in 2023Q1 (missed) and 4 of 4 in 2023Q2 (met); before its centre and on
    # S2, which no centre serves, the filing target does not apply.
    assert set(filing) == {(S1, Q1), (S1, Q2)}
    assert filing[(S1, Q1)]["met"] is False and filing[(S1, Q2)]["met"] is True
    assert filing[(S1, Q2)]["baseline_value"] == 1.0 and filing[(S1, Q2)]["change"] == 0.0
    # The district counts are never street targets.
    assert not {r["indicator_code"] for r in rows} & {
        "provincial_standard_stations",
        "three_in_one_centers",
    }
    # S2's parenting knowledge: no survey in 2022Q4 (no baseline), 1 of 1 in 2023Q2 (met).
    (parenting,) = [
        r
        for r in rows
        if (r["street_code"], r["period"], r["target_code"]) == (S2, Q2, "parenting_knowledge_90")
    ]
    assert parenting["met"] is True and parenting["baseline_value"] is None
    assert parenting["change"] is None


def test_street_ranking_counts_targets_and_breaks_ties_by_street_code(built):
    con = built[0]
    rows = rows_of(con, "select * from marts.street_ranking order by period, rank")
    expected = expected_assessment()
    ranking = {}
    for street in (S1, S2):
        for period in PERIODS:
            mine = {c: r for (s, p, c), r in expected.items() if (s, p) == (street, period)}
            ratio_changes = [
                r["change"]
                for c, r in mine.items()
                if r["change"] is not None and (STREET_TARGETS.get(c) or FILING[1:])[2]
            ]
            ranking[(street, period)] = (
                len(mine),
                sum(1 for r in mine.values() if r["met"]),
                sum(ratio_changes) / len(ratio_changes) * 100 if ratio_changes else None,
            )
    assert len(rows) == len(ranking)
    for r in rows:
        applicable, met, mean = ranking[(r["street_code"], r["period"])]
        assert (r["targets_applicable"], r["targets_met"]) == (applicable, met)
        assert r["mean_change_pp"] == pytest.approx(mean)
    order = {p: [r["street_code"] for r in rows if r["period"] == p] for p in PERIODS}
    # 2022Q4: both streets meet 3 targets with no change yet: a tie broken by street_code.
    assert ranking[(S1, Q4)][1:] == ranking[(S2, Q4)][1:] == (3, 0.0)
    assert order[Q4] == sorted([S1, S2])
    # 2023Q2: S1 meets 5 of 8 (its filing target included), S2 3 of 7.
    assert ranking[(S1, Q2)][:2] == (8, 5) and ranking[(S2, Q2)][:2] == (7, 3)
    assert order[Q2] == [S1, S2]
    assert [r["rank"] for r in rows if r["period"] == Q2] == [1, 2]
