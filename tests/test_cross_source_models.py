"""The cross-source quality checks on the dbt metric models (dbt_project/models/quality) in
real Dagster runs: the hand-built working database of tests/fixtures/marts/warehouse.py is
built by the real dbt assets, the cross-source checks validate the metric tables with
expectations/cross_source.json and record them, and the publish asset runs only when no
blocking expectation failed. Every figure is worked out by hand from the fixture."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import duckdb
import pytest

from tests.fixtures.marts.warehouse import (
    AS_OF,
    COLUMNS,
    PERIOD_START,
    SOURCES,
    fixture_rows,
    write_fixture,
)

pytestmark = pytest.mark.slow  # real dbt builds and a refresh

CHECKS = ["qa", "qa_cross_source__linkage_by_source"]
PUBLISHED = dg.AssetKey("published_warehouse")
# The fixture's children and their sources: K02 has a birth record only; K09 a check and an
# enrollment; every other child records in three or four sources. Enrolled: K01, K04, K06,
# K07, K08, K09, K10, K11, K12 (K09 without archive). Conflicts: K06 (sex), K10 (birth date).
METRICS = {
    "linkage_by_source": [
        ("births", 12, 11, 11 / 12),
        ("enrollments", 9, 9, 1.0),
        ("health_archives", 12, 12, 1.0),
        ("health_checks", 29, 29, 1.0),
    ],
    "enrolled_without_archive": [(9, 1, 1 / 9)],
    "attribute_conflicts": [(13, 1, 1, 1 / 13, 1 / 13)],
    "enrollments_unknown_institution": [(9, 0, 0.0)],
}


def collapsed_children() -> list[tuple]:
    """identity.children as if nothing linked across sources: each child keeps its records of
    the first source it has (births, else archives, else enrollments, else checks)."""
    names = [column.split()[0] for column in COLUMNS["identity.children"].split(", ")]
    counts = [names.index(f"{source}_records") for source in SOURCES]
    rows = []
    for row in fixture_rows("identity.children"):
        values = list(row)
        kept = next(i for i in counts if values[i])
        for i in counts:
            values[i] = values[i] if i == kept else None
        rows.append(tuple(values))
    return rows


def refresh(work_dir: Path, monkeypatch: pytest.MonkeyPatch) -> dg.ExecuteInProcessResult:
    """The dbt assets, the cross-source checks and the publish asset in one run."""
    monkeypatch.setenv("YIYU_WAREHOUSE_PATH", str(work_dir / "yiyu.duckdb"))
    monkeypatch.setenv("YIYU_AS_OF", AS_OF)
    monkeypatch.setenv("YIYU_PERIOD_START", PERIOD_START)
    from pipelines.defs.marts.assets import defs as marts_defs
    from pipelines.defs.marts.assets import marts_dbt_assets
    from pipelines.defs.publish.assets import defs as publish_defs
    from pipelines.defs.publish.assets import published_warehouse
    from pipelines.defs.quality.checks import cross_source_checks
    from pipelines.defs.quality.checks import defs as quality_defs

    resources = {**marts_defs.resources, **quality_defs.resources, **publish_defs.resources}
    return dg.materialize(
        [marts_dbt_assets, cross_source_checks, published_warehouse],
        resources=resources,
        raise_on_error=False,
    )


def write_work_db(work_dir: Path, overrides: dict[str, list[tuple]] | None = None) -> None:
    """The fixture, and the (empty) file audit the run history reads when publishing."""
    write_fixture(work_dir / "work.duckdb", overrides)
    with duckdb.connect(str(work_dir / "work.duckdb")) as con:
        con.execute("create schema if not exists audit")
        con.execute(
            "create or replace table audit.file_audit (status varchar, parsed_this_run boolean,"
            " rows_read bigint, rows_loaded bigint, rows_quarantined bigint,"
            " rows_superseded bigint)"
        )


def evaluation(result: dg.ExecuteInProcessResult, severity: str):
    (found,) = [
        e
        for e in result.get_asset_check_evaluations()
        if e.asset_key == dg.AssetKey(CHECKS) and e.check_name == f"cross_source_{severity}"
    ]
    return found


def materialized(result: dg.ExecuteInProcessResult) -> set[dg.AssetKey]:
    return {
        m.event_specific_data.materialization.asset_key
        for m in result.get_asset_materialization_events()
    }


def recorded(work_dir: Path, run_id: str) -> dict[str, tuple]:
    """check name -> (severity, passed, observed) of the run's cross-source history rows."""
    with duckdb.connect(str(work_dir / "work.duckdb"), read_only=True) as con:
        rows = con.execute(
            "select check_name, severity, passed, observed_value from quality.check_results"
            " where run_id = ? and dataset = 'cross_source'",
            [run_id],
        ).fetchall()
    return {name: tuple(rest) for name, *rest in rows}


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory):
    """A good run, then a run whose linkage collapsed, on the same warehouse folder."""
    work_dir = tmp_path_factory.mktemp("cross_source")
    with pytest.MonkeyPatch.context() as monkeypatch:
        write_work_db(work_dir)
        good = refresh(work_dir, monkeypatch)
        published = (work_dir / "yiyu.duckdb").read_bytes()
        with duckdb.connect(str(work_dir / "work.duckdb"), read_only=True) as con:
            metrics = {
                metric: con.execute(f"select * from qa.qa_cross_source__{metric}").fetchall()
                for metric in METRICS
            }
        write_work_db(work_dir, {"identity.children": collapsed_children()})
        collapsed = refresh(work_dir, monkeypatch)
    return work_dir, good, published, metrics, collapsed


def test_metric_models_hold_the_hand_worked_figures(runs):
    _, _, _, metrics, _ = runs
    for metric, expected in METRICS.items():
        got = sorted(metrics[metric])
        assert len(got) == len(expected), metric
        for row, want in zip(got, expected, strict=True):
            assert row == pytest.approx(want), metric


def test_warnings_are_recorded_and_the_good_run_publishes(runs):
    work_dir, good, _, _, _ = runs
    assert good.success, [str(e.step_failure_data.error) for e in good.get_step_failure_events()]
    assert evaluation(good, "blocking").passed
    warn = evaluation(good, "warn")
    assert not warn.passed and warn.severity == dg.AssetCheckSeverity.WARN
    history = recorded(work_dir, good.run_id)
    assert set(history) == {
        "linkage_rate_floor",
        "linkage_rate_target",
        "enrolled_children_without_archive",
        "conflicting_birth_dates",
        "conflicting_sex",
        "enrollments_at_unregistered_institutions",
    }
    assert history["linkage_rate_floor"] == (
        "blocking",
        True,
        "births: records=12, linked_records=11, linked_share=0.9167;"
        " enrollments: records=9, linked_records=9, linked_share=1;"
        " health_archives: records=12, linked_records=12, linked_share=1;"
        " health_checks: records=29, linked_records=29, linked_share=1",
    )
    # 1 of 9 enrolled children without archive (> 10%); 1 of 13 children per conflict (> 2%).
    assert history["enrolled_children_without_archive"] == (
        "warn",
        False,
        "enrolled_children=9, without_archive=1, share=0.1111",
    )
    assert history["conflicting_sex"][:2] == ("warn", False)
    assert history["conflicting_sex"][2] == (
        "children=13, birth_date_conflicts=1, sex_conflicts=1,"
        " birth_date_conflict_share=0.07692, sex_conflict_share=0.07692"
    )
    assert history["enrollments_at_unregistered_institutions"] == (
        "warn",
        True,
        "enrollments=9, unknown_institution=0, share=0",
    )
    failed = {f["check"] for f in warn.metadata["failed_checks"].value}
    assert failed == {
        "enrolled_children_without_archive",
        "conflicting_birth_dates",
        "conflicting_sex",
    }
    assert PUBLISHED in materialized(good)
    with duckdb.connect(str(work_dir / "yiyu.duckdb"), read_only=True) as con:
        published = con.execute("select source, records from marts.linkage_quality").fetchall()
    assert dict(published) == {
        "births": 12,
        "health_archives": 12,
        "health_checks": 29,
        "enrollments": 9,
    }
    assert set(SOURCES) == dict(published).keys()


def test_collapsed_linkage_fails_the_blocking_check_and_publishes_nothing(runs):
    work_dir, _, published_before, _, collapsed = runs
    blocking = evaluation(collapsed, "blocking")
    assert not blocking.passed and blocking.severity == dg.AssetCheckSeverity.ERROR
    (failure,) = blocking.metadata["failed_checks"].value
    assert failure["check"] == "linkage_rate_floor"
    # Every child keeps its first source only: the 12 children with a birth record, and K09
    # with its enrollment.
    observed = (
        "births: records=12, linked_records=0, linked_share=0;"
        " enrollments: records=1, linked_records=0, linked_share=0"
    )
    assert failure["observed"] == observed
    assert recorded(work_dir, collapsed.run_id)["linkage_rate_floor"] == (
        "blocking",
        False,
        observed,
    )
    # The check step fails the run; publishing waits for it and does not run.
    assert not collapsed.success
    assert [e.step_key for e in collapsed.get_step_failure_events()] == ["quality_cross_source"]
    built = materialized(collapsed)
    assert dg.AssetKey(["marts", "indicator_values"]) in built  # dbt ran before the checks
    assert PUBLISHED not in built
    assert (work_dir / "yiyu.duckdb").read_bytes() == published_before
