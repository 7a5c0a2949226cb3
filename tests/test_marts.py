"""The marts against a hand-built working database (tests/fixtures/marts/warehouse.py).

The fixture is written as rows of the `ingested.*` and `identity.*` tables, then the real
dbt project is built through the real Dagster assets (`dbt build`: seeds, models, data tests),
dbt's unit tests run on the built project, and the marts are compared with the figures worked
out by hand below.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from pipelines.marts.dbt import BUILDS_DIR, dbt_command, dbt_project, profile_env
from tests.fixtures.marts.warehouse import (
    AS_OF,
    C11,
    C12,
    C21,
    PERIOD_START,
    S1,
    S2,
    fixture_rows,
    write_fixture,
)

DISTRICT = "330206"
Q4, Q1, Q2 = "2022Q4", "2023Q1", "2023Q2"
PERIOD_ENDS = {Q4: "2022-12-31", Q1: "2023-03-31", Q2: "2023-06-30"}

# (indicator, period) -> {scope: (numerator, denominator)}; counts have no denominator.
# Child indicators. Children in scope per D (age in months; S1 = C11 + C12, S2 = C21; K09 has
# no residence and counts at district only; K05 lives outside the district; K06 is out from
# 2023Q1 (died), K07 from 2023Q2 (moved out), K08 is 37 months at 2023Q1):
#   2022Q4: S1 K01(7) K04(1) K07(16) K10(4) K12(5); S2 K06(9) K08(34) K11(2); district +K09(15)
#   2023Q1: S1 K01(10) K04(4) K07(19) K10(7) K12(8) K13(2); S2 K11(5); district +K09(18)
#   2023Q2: S1 K01(12, born on the 31st: not 13) K02(0, born 31 May: not 1) K04(7) K12(11)
#           K13(5); S2 K03(0) K10(10, re-archived in C21) K11(8); district +K09(21)
# Record filing (age >= 1 month, archive dated <= D): not archived yet: K09 always, K11 until
#   2023-05-05, K13 until 2023-04-15; K02 and K03 are under one month at 2023Q2.
# Health management (check in the year to D): unchecked: K11 always, K13 at 2023Q1, K02.
# 4:2:2 (due = milestones m with age >= m + 1; done = check dates at ages >= 2 months):
#   2022Q4 off: K06 (due 3, done 2), K09 (due 4, done 1); K04 due 0 (too young) is on.
#   2023Q1 off: K04 (due 1, done 0), K09 (4, 1), K11 (1, 0); K13 due 0.
#   2023Q2 off: K04 (2, 1), K09 (5, 1), K10 (3, 2), K11 (2, 0); K01 due 3 done 3 (13 months
#   would make it due 4); K02, K03 due 0.
EXPECTED: dict[tuple[str, str], dict[str, tuple[int, int | None]]] = {
    ("record_filing_rate", Q4): {DISTRICT: (7, 9), S1: (5, 5), S2: (2, 3)},
    ("record_filing_rate", Q1): {DISTRICT: (5, 8), S1: (5, 6), S2: (0, 1)},
    ("record_filing_rate", Q2): {DISTRICT: (6, 7), S1: (4, 4), S2: (2, 2)},
    ("health_management_rate", Q4): {DISTRICT: (8, 9), S1: (5, 5), S2: (2, 3)},
    ("health_management_rate", Q1): {DISTRICT: (6, 8), S1: (5, 6), S2: (0, 1)},
    ("health_management_rate", Q2): {DISTRICT: (7, 9), S1: (4, 5), S2: (2, 3)},
    ("systematic_management_rate", Q4): {DISTRICT: (7, 9), S1: (5, 5), S2: (2, 3)},
    ("systematic_management_rate", Q1): {DISTRICT: (5, 8), S1: (5, 6), S2: (0, 1)},
    ("systematic_management_rate", Q2): {DISTRICT: (5, 9), S1: (4, 5), S2: (1, 3)},
    # Enrollments in the period, placed at the institution (I6 is district only):
    #   2022Q4: E01 I2/S1 yes, E06 I1/S1 yes (check 11 days before), E02 I4/S2 yes (check
    #           exactly 90 days before), E08 I4/S2 no (93 days)
    #   2023Q1: E09 I1/S1 yes; none in S2 (0/0: null)
    #   2023Q2: E03 I1/S1 yes, E07 I2/S1 no, E04 I3/S2 no (check 101 days before), E05 I6 yes
    ("enrollment_check_rate", Q4): {DISTRICT: (3, 4), S1: (2, 2), S2: (1, 2)},
    ("enrollment_check_rate", Q1): {DISTRICT: (1, 1), S1: (1, 1), S2: (0, 0)},
    ("enrollment_check_rate", Q2): {DISTRICT: (2, 4), S1: (1, 2), S2: (0, 1)},
    # Operating institutions (slots, affordable at D):
    #   2022Q4: I1 50 aff, I2 30 (普惠 only from 2023-02-01), I3 0 aff station, I4 40, I6 6
    #           (district only); I5 not filed yet
    #   2023Q1/Q2: I1 50 aff, I2 30 aff, I3 0 aff station, I5 10 aff station, I6 6; I4 closed
    #           on 2023-03-31 (= D: not operating)
    ("affordable_slot_share", Q4): {DISTRICT: (50, 126), S1: (50, 80), S2: (0, 40)},
    ("affordable_slot_share", Q1): {DISTRICT: (90, 96), S1: (90, 90), S2: (0, 0)},
    ("affordable_slot_share", Q2): {DISTRICT: (90, 96), S1: (90, 90), S2: (0, 0)},
    # slots / communities (3 in the district, 2 in S1, 1 in S2)
    ("slots_per_community", Q4): {DISTRICT: (126, 3), S1: (80, 2), S2: (40, 1)},
    ("slots_per_community", Q1): {DISTRICT: (96, 3), S1: (90, 2), S2: (0, 1)},
    ("slots_per_community", Q2): {DISTRICT: (96, 3), S1: (90, 2), S2: (0, 1)},
    # S1 has I1 (affordable, 50 slots); S2 only the affordable care station I3 with 0 slots.
    ("street_coverage", Q4): {DISTRICT: (1, 2), S1: (1, 1), S2: (0, 1)},
    ("street_coverage", Q1): {DISTRICT: (1, 2), S1: (1, 1), S2: (0, 1)},
    ("street_coverage", Q2): {DISTRICT: (1, 2), S1: (1, 1), S2: (0, 1)},
    # Care stations: I3 (S2, from 2022-11-15, 0 slots still counts), I5 (S1, from 2023-01-10)
    ("station_street_coverage", Q4): {DISTRICT: (1, 2), S1: (0, 1), S2: (1, 1)},
    ("station_street_coverage", Q1): {DISTRICT: (2, 2), S1: (1, 1), S2: (1, 1)},
    ("station_street_coverage", Q2): {DISTRICT: (2, 2), S1: (1, 1), S2: (1, 1)},
    # Provincial standard: I5 from 2023-03-01, I3 from 2023-05-01
    ("provincial_standard_stations", Q4): {DISTRICT: (0, None), S1: (0, None), S2: (0, None)},
    ("provincial_standard_stations", Q1): {DISTRICT: (1, None), S1: (1, None), S2: (0, None)},
    ("provincial_standard_stations", Q2): {DISTRICT: (2, None), S1: (1, None), S2: (1, None)},
    # F1 (S1) designated on 2023-02-15
    ("three_in_one_centers", Q4): {DISTRICT: (0, None), S1: (0, None), S2: (0, None)},
    ("three_in_one_centers", Q1): {DISTRICT: (1, None), S1: (1, None), S2: (0, None)},
    ("three_in_one_centers", Q2): {DISTRICT: (1, None), S1: (1, None), S2: (0, None)},
    # Staff employed at D at operating (or unregistered: district only) institutions:
    #   2022Q4: S1 P1 yes, P2 no (健康证), P3 no (育婴员 only from 2023-02-20), P5 no;
    #           S2 P4 yes (保育员, undated: from hiring), P7 yes (健康证、保健员);
    #           district also P8 yes (I9 unregistered), P9 no (I6)
    #   2023Q1/Q2: S1 P1 (at I1 and I5, one person) yes, P2 no, P3 yes; P5 left on D;
    #           S2 P7 yes (I4 closed, so P4 drops out); district also P8 yes, P9 no
    ("staff_certification_rate", Q4): {DISTRICT: (4, 8), S1: (1, 4), S2: (2, 2)},
    ("staff_certification_rate", Q1): {DISTRICT: (4, 6), S1: (2, 3), S2: (1, 1)},
    ("staff_certification_rate", Q2): {DISTRICT: (4, 6), S1: (2, 3), S2: (1, 1)},
    # Surveys in the year to D: none for 2022Q4 (V6 is exactly 365 days before: excluded);
    #   2023Q1: V1 yes, V2 no (S1), V3 yes (S2, on D); 2023Q2: + V4 yes (S1), V5 yes (district)
    ("parenting_knowledge_rate", Q4): {DISTRICT: (0, 0), S1: (0, 0), S2: (0, 0)},
    ("parenting_knowledge_rate", Q1): {DISTRICT: (2, 3), S1: (1, 2), S2: (1, 1)},
    ("parenting_knowledge_rate", Q2): {DISTRICT: (4, 5), S1: (2, 3), S2: (1, 1)},
}

# (target_code, period) -> (value, met); the three-in-one target is S1's record filing rate
# (the only served street) from 2023Q1, nothing to measure in 2022Q4.
SCORECARD = {
    ("three_in_one_record_filing", Q4): (None, None),
    ("three_in_one_record_filing", Q1): (5 / 6, False),
    ("three_in_one_record_filing", Q2): (1.0, True),
    ("health_management_95", Q4): (8 / 9, False),
    ("health_management_95", Q1): (6 / 8, False),
    ("health_management_95", Q2): (7 / 9, False),
    ("affordable_share_80", Q4): (50 / 126, False),
    ("affordable_share_80", Q1): (90 / 96, True),
    ("affordable_share_80", Q2): (90 / 96, True),
    ("slots_per_community_16", Q4): (42.0, True),
    ("slots_per_community_16", Q1): (32.0, True),
    ("slots_per_community_16", Q2): (32.0, True),
    ("street_coverage_100", Q4): (0.5, False),
    ("street_coverage_100", Q1): (0.5, False),
    ("street_coverage_100", Q2): (0.5, False),
    ("station_coverage_100", Q4): (0.5, False),
    ("station_coverage_100", Q1): (1.0, True),
    ("station_coverage_100", Q2): (1.0, True),
    ("provincial_stations_30", Q4): (0.0, False),
    ("provincial_stations_30", Q1): (1.0, False),
    ("provincial_stations_30", Q2): (2.0, False),
    ("three_in_one_center_1", Q4): (0.0, False),
    ("three_in_one_center_1", Q1): (1.0, True),
    ("three_in_one_center_1", Q2): (1.0, True),
    ("staff_certification_80", Q4): (0.5, False),
    ("staff_certification_80", Q1): (4 / 6, False),
    ("staff_certification_80", Q2): (4 / 6, False),
    ("parenting_knowledge_90", Q4): (None, None),
    ("parenting_knowledge_90", Q1): (2 / 3, False),
    ("parenting_knowledge_90", Q2): (0.8, False),
}

# Some community rows: (indicator, period, community) -> (numerator, denominator).
COMMUNITY_EXPECTED = {
    # 2022Q4 record filing: C11 K01 K04 K10 archived; C12 K07 K12; C21 K06 K08, not K11.
    ("record_filing_rate", Q4, C11): (3, 3),
    ("record_filing_rate", Q4, C12): (2, 2),
    ("record_filing_rate", Q4, C21): (2, 3),
    # 2023Q2 slots: C11 I1 50 + I5 10; C21 only I3 with 0 slots; one community each.
    ("slots_per_community", Q2, C11): (60, 1),
    ("slots_per_community", Q2, C21): (0, 1),
    # 2023Q2 surveys in the year: C11 V1 yes, V2 no; C12 V4 yes.
    ("parenting_knowledge_rate", Q2, C11): (1, 2),
    ("parenting_knowledge_rate", Q2, C12): (1, 1),
    # Coverage of a community: the institution lies in it. C12's I2 is 普惠 from 2023-02-01;
    # C21's I3 is an affordable care station with 0 slots (I4 closes on 2023-03-31).
    ("street_coverage", Q4, C11): (1, 1),
    ("street_coverage", Q4, C12): (0, 1),
    ("street_coverage", Q1, C12): (1, 1),
    ("street_coverage", Q1, C21): (0, 1),
    ("station_street_coverage", Q4, C11): (0, 1),
    ("station_street_coverage", Q1, C11): (1, 1),
    ("station_street_coverage", Q4, C21): (1, 1),
    # 2023Q1 staff in C11: P1 (at I1 and I5, once) qualified, P2 not.
    ("staff_certification_rate", Q1, C11): (1, 2),
}

COUNT_INDICATORS = {"provincial_standard_stations", "three_in_one_centers"}


def materialize_marts(
    work_dir: Path, monkeypatch: pytest.MonkeyPatch, selection: list[dg.AssetKey] | None = None
) -> dg.ExecuteInProcessResult:
    """Point settings() at work_dir and materialise the dbt assets (all, or the selection)
    through Dagster."""
    monkeypatch.setenv("YIYU_WAREHOUSE_PATH", str(work_dir / "yiyu.duckdb"))
    monkeypatch.setenv("YIYU_AS_OF", AS_OF)
    monkeypatch.setenv("YIYU_PERIOD_START", PERIOD_START)
    monkeypatch.setenv("YIYU_DISTRICT_CODE", DISTRICT)
    monkeypatch.setenv("YIYU_DISTRICT_NAME", "北仑区")
    from pipelines.defs.marts.assets import defs, marts_dbt_assets

    return dg.materialize(
        [marts_dbt_assets], resources=defs.resources, selection=selection, raise_on_error=False
    )


def run_unit_tests(work_dir: Path) -> tuple[subprocess.CompletedProcess, dict]:
    """`dbt test --select test_type:unit` on the project built in work_dir (settings() must
    point there); the process and its run_results.json."""
    target = work_dir / "unit-target"
    done = subprocess.run(
        dbt_command("test", "--select", "test_type:unit", target=target),
        capture_output=True,
        text=True,
        env={**os.environ, **profile_env()},
    )
    return done, json.loads((target / "run_results.json").read_text())


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory):
    """The fixture built through Dagster, then dbt's unit tests run on it."""
    work_dir = tmp_path_factory.mktemp("marts")
    write_fixture(work_dir / "work.duckdb")
    with pytest.MonkeyPatch.context() as monkeypatch:
        result = materialize_marts(work_dir, monkeypatch)
        run_results = BUILDS_DIR / result.run_id / "run_results.json"
        built_nodes = [r["unique_id"] for r in json.loads(run_results.read_text())["results"]]
        unit_tests = run_unit_tests(work_dir)
    assert result.success, [e.message for e in result.get_step_failure_events()]
    return work_dir, built_nodes, unit_tests


@pytest.fixture(scope="module")
def marts(built):
    con = duckdb.connect(str(built[0] / "work.duckdb"), read_only=True)
    yield con
    con.close()


def test_dbt_unit_tests_pass_and_the_refresh_build_leaves_them_out(built):
    _, built_nodes, (done, results) = built
    assert done.returncode == 0, done.stdout[-3000:]
    ran = {r["unique_id"] for r in results["results"] if r["status"] == "pass"}
    manifest = json.loads(dbt_project.manifest_path.read_text())
    assert ran == set(manifest["unit_tests"]) and len(ran) >= 12
    # The Dagster build: every model and data test, no unit test.
    expected = {n for n, node in manifest["nodes"].items() if node["resource_type"] != "analysis"}
    assert set(built_nodes) == expected


def rows_of(con: duckdb.DuckDBPyConnection, sql: str) -> list[dict]:
    cursor = con.execute(sql)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def district_and_street_rows(con: duckdb.DuckDBPyConnection) -> list[dict]:
    return rows_of(
        con, "select * from marts.indicator_values where scope_level in ('district', 'street')"
    )


def assert_indicators_match_the_hand_calculation(rows: list[dict]) -> None:
    got = {(r["indicator_code"], r["period"], r["scope_code"]): r for r in rows}
    expected_keys = {
        (code, period, scope) for (code, period), by in EXPECTED.items() for scope in by
    }
    assert set(got) == expected_keys
    for (code, period), by_scope in EXPECTED.items():
        for scope, (numerator, denominator) in by_scope.items():
            row = got[(code, period, scope)]
            assert (row["numerator"], row["denominator"]) == (numerator, denominator), row
            if code in COUNT_INDICATORS:
                expected_value = float(numerator)
            else:
                expected_value = numerator / denominator if denominator else None
            assert row["value"] == pytest.approx(expected_value), row
            assert str(row["period_end"]) == PERIOD_ENDS[period]
            assert row["scope_level"] == ("district" if scope == DISTRICT else "street")


def assert_scorecard_matches_the_hand_calculation(rows: list[dict]) -> None:
    assert len(rows) == len(SCORECARD)
    for row in rows:
        value, met = SCORECARD[row["target_code"], row["period"]]
        assert row["value"] == pytest.approx(value), row
        assert row["met"] is met, row


def test_every_indicator_at_district_and_street_matches_the_hand_calculation(marts):
    assert_indicators_match_the_hand_calculation(district_and_street_rows(marts))


def test_ratio_indicators_are_also_reported_per_community(marts):
    rows = rows_of(marts, "select * from marts.indicator_values where scope_level = 'community'")
    per_community = {r["indicator_code"] for r in rows}
    assert per_community == {code for code, _ in EXPECTED} - COUNT_INDICATORS
    assert len(rows) == len(per_community) * 3 * 3  # 3 communities, 3 periods
    got = {(r["indicator_code"], r["period"], r["scope_code"]): r for r in rows}
    for key, (numerator, denominator) in COMMUNITY_EXPECTED.items():
        assert (got[key]["numerator"], got[key]["denominator"]) == (numerator, denominator), key
        assert got[key]["value"] == pytest.approx(numerator / denominator), key


def test_names_come_from_the_seed_the_vars_and_the_divisions(marts):
    names = dict(
        marts.execute(
            "select distinct indicator_code, indicator_name_zh from marts.indicator_values"
        ).fetchall()
    )
    assert names["record_filing_rate"] == "婴幼儿健康档案建档率"
    assert names["staff_certification_rate"] == "从业人员持证率"
    scopes = dict(
        marts.execute(
            "select distinct scope_code, scope_name from marts.indicator_values"
        ).fetchall()
    )
    assert scopes == {
        DISTRICT: "北仑区",
        S1: "新碶街道",
        S2: "大碶街道",
        C11: "甲社区",
        C12: "乙社区",
        C21: "丙社区",
    }


def test_targets_apply_where_the_plan_sets_them(marts):
    rows = rows_of(marts, "select * from marts.indicator_values")
    targeted = {
        (r["indicator_code"], r["period"], r["scope_code"]): (r["target"], r["target_met"])
        for r in rows
        if r["target"] is not None
    }
    # 100% record filing applies in streets served by a three-in-one centre: S1 from 2023Q1.
    assert {(p, s) for (c, p, s) in targeted if c == "record_filing_rate"} == {
        (Q1, S1),
        (Q1, C11),
        (Q1, C12),
        (Q2, S1),
        (Q2, C11),
        (Q2, C12),
    }
    assert targeted["record_filing_rate", Q1, S1] == (1.0, False)
    assert targeted["record_filing_rate", Q2, S1] == (1.0, True)
    # District-wide counts carry their target on the district row only.
    assert {s for (c, _, s) in targeted if c == "provincial_standard_stations"} == {DISTRICT}
    # No target: reported only.
    assert not any(
        c in ("systematic_management_rate", "enrollment_check_rate") for c, _, _ in targeted
    )
    by_key = {(r["indicator_code"], r["period"], r["scope_code"]): r for r in rows}
    # A target with a null value is neither met nor missed.
    assert by_key["affordable_slot_share", Q1, S2]["target"] == 0.8
    assert by_key["affordable_slot_share", Q1, S2]["target_met"] is None
    assert by_key["health_management_rate", Q4, S1]["target_met"] is True
    assert by_key["health_management_rate", Q4, DISTRICT]["target_met"] is False
    assert by_key["systematic_management_rate", Q4, DISTRICT]["target_met"] is None


def test_scorecard_one_row_per_target_and_period_met_as_worked_out(marts):
    rows = rows_of(marts, "select * from marts.evaluation_scorecard")
    assert_scorecard_matches_the_hand_calculation(rows)
    assert {r["comparator"] for r in rows} == {">="}
    targets = {r["target_code"]: r["target"] for r in rows}
    assert targets["slots_per_community_16"] == 16.0
    assert targets["three_in_one_record_filing"] == 1.0


def test_linkage_quality_publishes_the_identity_metrics(marts):
    rows = marts.execute("select * from marts.linkage_quality order by source").fetchall()
    assert rows == [
        ("births", 12, 0, 12, 0, 0, 0, 0, 0),
        ("enrollments", 9, 4, 3, 0, 1, 1, 0, 1),
        ("health_archives", 12, 2, 10, 0, 0, 0, 0, 0),
        ("health_checks", 27, 5, 3, 18, 1, 0, 0, 0),
    ]


def test_marts_hold_aggregates_only_with_the_contract_columns(marts):
    columns = {}
    for table, column in marts.execute(
        "select table_name, column_name from information_schema.columns "
        "where table_schema = 'marts' order by table_name, ordinal_position"
    ).fetchall():
        columns.setdefault(table, []).append(column)
    assert columns == {
        "indicator_values": [
            "indicator_code",
            "indicator_name_zh",
            "scope_level",
            "scope_code",
            "scope_name",
            "period",
            "period_end",
            "numerator",
            "denominator",
            "value",
            "target",
            "target_met",
        ],
        "evaluation_scorecard": [
            "target_code",
            "target_zh",
            "indicator_code",
            "period",
            "comparator",
            "target",
            "value",
            "met",
        ],
        "linkage_quality": [
            "source",
            "records",
            "linked_by_id_number",
            "linked_by_birth_cert",
            "linked_by_archive_no",
            "linked_by_demographics",
            "ambiguous",
            "unlinked",
            "conflicts",
        ],
    }


# A copy of a table's first row under another first column keeps the model's key and breaks
# its grain test: `unique` (dbt's own test, run as duplicate_keys()) on the divisions'
# community_code, `unique_combination` (ours) on the staff's member, institution and date.
GRAIN_BREAKS = {
    "unique": ("divisions", S2, "unique_stg_ingested__divisions_community_code"),
    "unique_combination": (
        "staff",
        "R0",
        "unique_combination_stg_ingested__staff_staff_key__institution_code__hired_on",
    ),
}


@pytest.mark.parametrize("test_kind", sorted(GRAIN_BREAKS))
def test_a_failing_dbt_test_fails_the_materialisation_and_names_the_test(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, test_kind: str
):
    source, first_value, test_name = GRAIN_BREAKS[test_kind]
    rows = fixture_rows(f"ingested.{source}")
    write_fixture(
        tmp_path / "work.duckdb",
        overrides={f"ingested.{source}": [*rows, (first_value, *rows[0][1:])]},
    )
    # Only the staging model and its tests: the failure shows up without the rest.
    staging = dg.AssetKey(["staging", f"stg_ingested__{source}"])
    result = materialize_marts(tmp_path, monkeypatch, selection=[staging])
    assert not result.success
    messages = " ".join(str(e.step_failure_data.error) for e in result.get_step_failure_events())
    assert test_name in messages


def test_prepared_manifest_maps_dbt_onto_the_pipeline_assets():
    from pipelines.defs.marts.assets import marts_dbt_assets
    from pipelines.ingest.sources import SOURCES
    from pipelines.marts.dbt import prepare_manifest

    manifest = prepare_manifest()
    assert manifest.exists()
    keys = {key.to_user_string() for key in marts_dbt_assets.keys}
    assert {"marts/indicator_values", "marts/evaluation_scorecard", "marts/linkage_quality"} <= keys
    upstream = {
        dep.asset_key.to_user_string()
        for spec in marts_dbt_assets.specs
        for dep in spec.deps
        if dep.asset_key.to_user_string() not in keys
    }
    assert upstream == {f"ingested/{s}" for s in SOURCES} | {"identity/child_index"}
    assert set(marts_dbt_assets.group_names_by_key.values()) == {"marts"}
