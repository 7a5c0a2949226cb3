"""The quality checks in real Dagster runs over a real working DuckDB.

Each run materialises stand-in ingestion/identity assets (test input with the real keys),
every asset check of `pipelines/defs/quality/checks.py`, and a tiny downstream mart.
"""

from __future__ import annotations

import json
import shutil
from datetime import datetime

import dagster as dg
import pytest

from pipelines.config import settings
from pipelines.quality import run as quality
from pipelines.quality.history import Run
from pipelines.quality.run import run_checks, start_checks
from pipelines.quality.suites import expectations_dir
from pipelines.warehouse import work_db
from tests.test_quality_fixtures import (
    CHILDREN,
    ENROLLED,
    check_evaluation,
    clean_tables,
    history,
    probe_built,
    refresh,
    write_table,
)

ARCHIVES = ["ingested", "health_archives"]
INSTITUTIONS = ["ingested", "institutions"]
CHILD_INDEX = ["identity", "child_index"]


@pytest.fixture(autouse=True)
def warehouse(tmp_path, monkeypatch):
    monkeypatch.setenv("YIYU_WAREHOUSE_PATH", str(tmp_path / "wh" / "yiyu.duckdb"))
    return tmp_path


def without_id_numbers(tables: dict, keep: int) -> dict:
    """Archives whose ID number hash survives in only the first `keep` rows."""
    tables["health_archives"] = [
        {**r, "id_key": r["id_key"] if n < keep else None}
        for n, r in enumerate(tables["health_archives"])
    ]
    return tables


def with_zero_slots(tables: dict) -> dict:
    tables["institutions"] = [{**r, "slots": 0} for r in tables["institutions"]]
    return tables


def test_clean_data_passes_every_check_and_writes_the_run_page():
    result = refresh(clean_tables())

    assert result.success and probe_built(result)
    evaluations = result.get_asset_check_evaluations()
    assert len(evaluations) == 20  # blocking + warn for 9 sources and the cross-source checks
    assert all(e.passed for e in evaluations)
    statuses = history(result.run_id)
    assert statuses and {s[:2] for s in statuses.values()} == {(True, "ok")}
    assert (
        statuses[("health_archives", "id_key_fill_floor")][2] == "filled in 40 of 40 rows (100.00%)"
    )
    page = settings().warehouse_dir / "quality" / f"{result.run_id}.html"
    latest = settings().warehouse_dir / "quality" / "latest.html"
    assert page.read_text(encoding="utf-8") == latest.read_text(encoding="utf-8")
    assert "id_key_fill_floor" in page.read_text(encoding="utf-8")


def test_archives_missing_most_id_numbers_block_the_marts():
    # Every row is valid, but 36 of the 40 archives lost their ID number.
    result = refresh(without_id_numbers(clean_tables(), keep=4))

    assert not result.success
    assert not probe_built(result)
    blocking = check_evaluation(result, ARCHIVES, "quality_blocking")
    assert not blocking.passed and blocking.severity == dg.AssetCheckSeverity.ERROR
    assert "id_key_fill_floor on health_archives" in blocking.description
    assert "observed filled in 4 of 40 rows (10.00%)" in blocking.description
    (failure,) = blocking.metadata["failed_checks"].value
    assert failure["check"] == "id_key_fill_floor" and failure["dataset"] == "health_archives"
    assert failure["observed"] == "filled in 4 of 40 rows (10.00%)"
    warn = check_evaluation(result, ARCHIVES, "quality_warn")
    assert not warn.passed and warn.severity == dg.AssetCheckSeverity.WARN
    assert "id_key_fill_target" in warn.description
    # The other sources are fine and stay so.
    assert check_evaluation(result, ["ingested", "births"], "quality_blocking").passed
    page = (settings().warehouse_dir / "quality" / "latest.html").read_text(encoding="utf-8")
    failed_section = page.split("<h2>Failed checks</h2>")[1].split("<h2>")[0]
    assert "id_key_fill_floor" in failed_section and "id_key_fill_target" in failed_section
    assert "record_key_unique" not in failed_section


def test_a_register_whose_slots_all_became_zero_blocks_the_marts():
    result = refresh(with_zero_slots(clean_tables()))

    assert not result.success and not probe_built(result)
    blocking = check_evaluation(result, INSTITUTIONS, "quality_blocking")
    assert not blocking.passed
    assert "slots_mostly_positive on institutions" in blocking.description
    assert "observed 4 of 4 values unexpected (100.00%)" in blocking.description
    assert history(result.run_id)[("institutions", "slots_mostly_positive")][:2] == (False, "new")


def test_history_marks_resolved_new_and_persisting_problems():
    first = refresh(with_zero_slots(clean_tables()))
    second = refresh(without_id_numbers(clean_tables(), keep=4))  # slots fixed, IDs lost
    third = refresh(without_id_numbers(clean_tables(), keep=4))

    slots, ids = ("institutions", "slots_mostly_positive"), ("health_archives", "id_key_fill_floor")
    assert history(first.run_id)[slots][:2] == (False, "new")
    assert history(first.run_id)[ids][:2] == (True, "ok")
    assert history(second.run_id)[slots][:2] == (True, "resolved")
    assert history(second.run_id)[ids][:2] == (False, "new")
    assert history(third.run_id)[slots][:2] == (True, "ok")
    assert history(third.run_id)[ids][:2] == (False, "persisting")
    latest = history()
    assert latest[ids][:2] == (False, "persisting") and latest[slots][:2] == (True, "ok")
    assert len(latest) == len(history(third.run_id))  # one row per check


def test_a_threshold_changed_in_the_suite_file_changes_the_outcome(warehouse, monkeypatch):
    suites = warehouse / "expectations"
    shutil.copytree(expectations_dir(), suites)
    path = suites / "health_archives.json"
    suite = json.loads(path.read_text(encoding="utf-8"))
    (floor,) = [e for e in suite["expectations"] if e["meta"]["name"] == "id_key_fill_floor"]
    floor["kwargs"]["mostly"] = 0.05
    path.write_text(json.dumps(suite, ensure_ascii=False, indent=2), encoding="utf-8")
    monkeypatch.setenv("YIYU_EXPECTATIONS_DIR", str(suites))

    result = refresh(without_id_numbers(clean_tables(), keep=4))

    assert result.success and probe_built(result)
    assert check_evaluation(result, ARCHIVES, "quality_blocking").passed
    assert not check_evaluation(result, ARCHIVES, "quality_warn").passed  # 10% < 60% still
    with work_db(read_only=True) as con:
        (expected,) = con.execute(
            "select expected from quality.check_results"
            " where dataset = 'health_archives' and check_name = 'id_key_fill_floor'"
        ).fetchone()
    assert expected == "expect_column_values_to_not_be_null(id_key, mostly=0.05)"


def test_table_size_is_held_against_the_last_good_run():
    tables = clean_tables()
    first = refresh(tables)
    tables["parenting_surveys"].append({**tables["parenting_surveys"][0], "survey_no": "S999"})
    daily_delta = refresh(tables)  # 21 surveys after 20: an ordinary delivery
    tables["parenting_surveys"] = tables["parenting_surveys"][:8]
    shrunk = refresh(tables)  # 8 after 21: a lost file

    size = ("parenting_surveys", "row_count_vs_last_good")
    assert history(first.run_id)[size] == (True, "ok", "20")  # first run: nothing to compare
    assert history(daily_delta.run_id)[size] == (True, "ok", "21")
    assert history(shrunk.run_id)[size] == (False, "new", "8")
    blocking = check_evaluation(shrunk, ["ingested", "parenting_surveys"], "quality_blocking")
    assert "row_count_vs_last_good on parenting_surveys" in blocking.description
    assert "between 10.5 and 42 rows (0.5..2.0 x 21 rows of the last good run)" in (
        blocking.description
    )
    assert not probe_built(shrunk)


def test_cross_source_warnings_name_what_they_found():
    tables = clean_tables()
    # Children 0, 1 and 2 (all enrolled) have no archive: 3 of 20 enrolled children.
    lost = {r["record_key"] for r in tables["health_archives"][:3]}
    tables["health_archives"] = tables["health_archives"][3:]
    tables["child_records"] = [r for r in tables["child_records"] if r["record_key"] not in lost]
    # Two enrollments point at an institution missing from the register: 2 of 20.
    for row in tables["enrollments"][5:7]:
        row["institution_code"] = "I99"
    # Child 9's checks carry another birth date than its birth record: 1 of 40 children.
    for row in tables["health_checks"]:
        if row["archive_key"] == tables["health_archives"][6]["archive_key"]:
            row["birth_date"] = row["birth_date"].replace(day=2)

    result = refresh(tables)

    assert result.success and probe_built(result)  # warnings do not block
    warn = check_evaluation(result, CHILD_INDEX, "cross_source_warn")
    assert not warn.passed and warn.severity == dg.AssetCheckSeverity.WARN
    failed = {f["check"]: f["observed"] for f in warn.metadata["failed_checks"].value}
    assert failed == {
        "enrolled_children_without_archive": f"enrolled_children={ENROLLED}, without_archive=3,"
        " share=0.15",
        "enrollments_at_unregistered_institutions": f"enrollments={ENROLLED},"
        " unknown_institution=2, share=0.1",
        "conflicting_birth_dates": f"children={CHILDREN}, birth_date_conflicts=1,"
        " sex_conflicts=0, birth_date_conflict_share=0.025, sex_conflict_share=0",
    }
    assert "enrolled_children_without_archive on cross_source" in warn.description


def test_collapsed_linkage_blocks_the_marts():
    tables = clean_tables()
    # Every record became a child of its own: nothing links across sources any more.
    tables["child_records"] = [
        {**r, "child_key": r["record_key"], "link_method": "none"} for r in tables["child_records"]
    ]

    result = refresh(tables)

    assert not probe_built(result)
    blocking = check_evaluation(result, CHILD_INDEX, "cross_source_blocking")
    assert not blocking.passed
    (failure,) = blocking.metadata["failed_checks"].value
    assert failure["check"] == "linkage_rate_floor"
    assert failure["observed"] == (
        f"births: records={CHILDREN}, linked_records=0, linked_share=0;"
        f" enrollments: records={ENROLLED}, linked_records=0, linked_share=0;"
        f" health_archives: records={CHILDREN}, linked_records=0, linked_share=0;"
        f" health_checks: records={2 * CHILDREN}, linked_records=0, linked_share=0"
    )


def _outcomes(recorded) -> list[tuple]:
    return [
        (r.outcome.check_name, r.outcome.passed, r.outcome.observed_value, r.outcome.evaluated_on)
        for r in recorded
    ]


def _sex_codes(recorded) -> tuple:
    """Passed, observed value and what it was evaluated on, of the sex code-list check."""
    (outcome,) = [o for o in _outcomes(recorded) if o[0] == "sex_in_code_list"]
    return outcome[1:]


def test_checks_started_by_ingestion_give_what_the_check_step_finds_itself(warehouse, monkeypatch):
    """An ingestion step starts its table's GE validation (start_checks); the check step of the
    same run takes it up, with the outcomes a check step evaluating alone finds; a suite
    edited in between, or a row count that is not the table's, is not taken on trust."""
    tables = clean_tables()
    tables["health_archives"][3]["sex"] = "X"  # a row-level (GE) failure
    with work_db() as con:
        write_table(con, "ingested.health_archives", tables["health_archives"])
    alone = run_checks("health_archives", Run("alone", datetime(2026, 1, 1)))
    with work_db() as con:
        start_checks(con, "health_archives", "started", 40)
    assert ("started", "health_archives") in quality._started
    started = run_checks("health_archives", Run("started", datetime(2026, 1, 2)))
    assert not quality._started  # taken up
    assert _outcomes(started) == _outcomes(alone)
    assert _sex_codes(started) == (
        False,
        "1 of 40 values unexpected (2.50%)",
        "full table, 40 rows",
    )

    with work_db() as con:
        start_checks(con, "health_archives", "miscounted", 39)
    miscounted = run_checks("health_archives", Run("miscounted", datetime(2026, 1, 3)))
    assert _outcomes(miscounted) == _outcomes(alone)  # "of 40 rows", from the check's own count

    with work_db() as con:
        start_checks(con, "health_archives", "edited", 40)
    suites = warehouse / "expectations"
    shutil.copytree(expectations_dir(), suites)
    path = suites / "health_archives.json"
    suite = json.loads(path.read_text(encoding="utf-8"))
    (codes,) = [e for e in suite["expectations"] if e["meta"]["name"] == "sex_in_code_list"]
    codes["kwargs"]["value_set"].append("X")
    path.write_text(json.dumps(suite, ensure_ascii=False), encoding="utf-8")
    monkeypatch.setenv("YIYU_EXPECTATIONS_DIR", str(suites))
    edited = run_checks("health_archives", Run("edited", datetime(2026, 1, 4)))
    assert _sex_codes(edited) == (
        True,
        "0 of 40 values unexpected (0.00%)",
        "full table, 40 rows",
    )
