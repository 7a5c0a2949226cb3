"""The marts against a hand-built working database (tests/fixtures/marts/warehouse.py).

The fixture is written as rows of the `ingested.*` and `identity.*` tables, then the real
dbt project is built through the real Dagster assets (`dbt build`: seeds, models, data tests),
dbt's unit tests run on the built project, and the marts are compared with the figures worked
out by hand (tests/fixtures/marts/expected.py).
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from pipelines.config import Settings
from pipelines.marts.dbt import BUILDS_DIR, dbt_command, dbt_project, profile_env
from tests.fixtures.marts.expected import (
    COMMUNITY_EXPECTED,
    COUNT_INDICATORS,
    DISTRICT,
    EXPECTED,
    INDICATORS,
    MART_COLUMNS,
    PERIOD_ENDS,
    Q1,
    Q2,
    Q4,
    SCORECARD,
)
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

pytestmark = pytest.mark.slow  # every test here reads a real dbt build

SEEDS = Path(__file__).resolve().parents[1] / "dbt_project" / "seeds"


def materialize_marts(
    work_dir: Path, monkeypatch: pytest.MonkeyPatch, selection: list[dg.AssetKey] | None = None
) -> dg.ExecuteInProcessResult:
    """Point the environment at work_dir and materialise the dbt assets (all, or the
    selection) through Dagster."""
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
    """`dbt test --select test_type:unit` on the project built in work_dir (the environment
    must point there); the process and its run_results.json."""
    target = work_dir / "unit-target"
    settings = Settings.from_env()
    done = subprocess.run(
        dbt_command("test", "--select", "test_type:unit", target=target),
        capture_output=True,
        text=True,
        env={**os.environ, **profile_env(settings)},
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


def test_names_come_from_the_seed_the_settings_and_the_divisions(marts):
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


def test_linkage_quality_counts_the_classes_and_conflicts_of_the_child_index(marts):
    rows = marts.execute("select * from marts.linkage_quality order by source").fetchall()
    # (records, by ID number, certificate, archive number, demographics, ambiguous, unlinked,
    # conflicts) from the fixture's link methods: births all by certificate but K02's birth
    # alone; archives A01 and A04 by ID number; checks by their archive but K09's by the
    # triple; enrollments E01, E02, E06 by ID number, E03 by certificate, E07 ambiguous.
    # Conflicts: the records of K06 (birth, archive, 2 checks, E08) and K10 (birth, 2
    # archives, 2 checks, E04).
    assert rows == [
        ("births", 12, 0, 11, 0, 0, 0, 1, 2),
        ("enrollments", 9, 3, 1, 0, 4, 1, 0, 2),
        ("health_archives", 12, 2, 10, 0, 0, 0, 0, 3),
        ("health_checks", 29, 0, 0, 28, 1, 0, 0, 4),
    ]


def test_indicators_mart_holds_one_definition_per_indicator(marts):
    rows = {r["indicator_code"]: r for r in rows_of(marts, "select * from marts.indicators")}
    assert set(rows) == {code for code, _ in EXPECTED}
    assert sorted(rows, key=lambda c: rows[c]["plan_order"])[:3] == [
        "record_filing_rate",
        "health_management_rate",
        "systematic_management_rate",
    ]
    for code, (unit, people, sources, sources_zh, target, numerator) in INDICATORS.items():
        row = rows[code]
        assert (row["unit"], row["counts_people"], row["sources"]) == (unit, people, sources)
        assert (row["sources_zh"], row["target"], row["numerator_zh"]) == (
            sources_zh,
            target,
            numerator,
        )
        assert row["comparator"] == (None if target is None else ">=")
    assert rows["three_in_one_centers"]["denominator_zh"] == "—（计数）"
    assert rows["three_in_one_centers"]["denominator_definition"] is None
    assert rows["three_in_one_centers"]["scope_levels"] == "district,street"
    assert rows["parenting_knowledge_rate"]["scope_levels"] == "district,street,community"
    assert rows["health_management_rate"]["target_zh"] == "≥95%"
    assert rows["health_management_rate"]["plan_target_zh"] == "婴幼儿健康管理率达95%以上"
    assert rows["enrollment_check_rate"]["target_zh"] == "无（仅报告）"
    assert rows["enrollment_check_rate"]["plan_target_zh"] is None
    # The names in indicator_values are the same definitions'.
    named = dict(
        marts.execute(
            "select distinct indicator_code, indicator_name_zh from marts.indicator_values"
        ).fetchall()
    )
    assert named == {code: row["name_zh"] for code, row in rows.items()}


def seed_rows(name: str) -> list[dict[str, str]]:
    with (SEEDS / f"{name}.csv").open(encoding="utf-8", newline="") as rows:
        return list(csv.DictReader(rows))


def test_seeds_name_the_sources_ingestion_declares():
    from pipelines.ingest.sources import SOURCES

    labels = {row["source"]: row["label_zh"] for row in seed_rows("source_systems")}
    assert labels == {source.name: source.label_zh for source in SOURCES.values()}
    for row in seed_rows("indicator_definitions"):
        assert set(row["sources"].split(",")) <= set(SOURCES), row["code"]


def test_marts_hold_aggregates_only_with_the_contract_columns(marts):
    columns = {}
    for table, column in marts.execute(
        "select table_name, column_name from information_schema.columns "
        "where table_schema = 'marts' order by table_name, ordinal_position"
    ).fetchall():
        columns.setdefault(table, []).append(column)
    assert columns == MART_COLUMNS


# A copy of a table's first row under another first column keeps the model's key and breaks
# its grain test: `unique` (dbt's own) on the divisions' community_code, `unique_combination`
# (ours) on the staff's member, institution and date.
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
