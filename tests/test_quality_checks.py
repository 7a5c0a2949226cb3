"""The quality checks in real Dagster runs over a real working DuckDB.

Each run materialises stand-in ingestion/identity assets (test input with the real keys),
the per-source asset checks of `pipelines/defs/quality/checks.py`, and a tiny downstream
mart. The cross-source checks sit on the dbt metric models: tests/test_cross_source_models.py.
"""

from __future__ import annotations

import json
import shutil
from datetime import datetime

import dagster as dg
import pytest

from pipelines import resources
from pipelines.config import Settings
from pipelines.ingest.sources import SOURCES
from pipelines.quality import run as quality_run
from pipelines.quality.history import Run
from pipelines.quality.run import run_checks
from pipelines.quality.suites import expectations_dir
from pipelines.resources import QualityResource, YiyuSettings
from tests.test_quality_fixtures import (
    check_evaluation,
    clean_tables,
    history,
    probe_built,
    refresh,
    work,
    write_table,
)

pytestmark = pytest.mark.slow  # each test materialises the pipeline through Dagster

ARCHIVES = ["ingested", "health_archives"]
INSTITUTIONS = ["ingested", "institutions"]


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
    assert len(evaluations) == 20  # blocking + warn for each of the 10 sources
    assert all(e.passed for e in evaluations)
    statuses = history(result.run_id)
    assert statuses and {s[:2] for s in statuses.values()} == {(True, "ok")}
    assert (
        statuses[("health_archives", "id_key_fill_floor")][2] == "filled in 40 of 40 rows (100.00%)"
    )
    page = Settings.from_env().warehouse_dir / "quality" / f"{result.run_id}.html"
    latest = Settings.from_env().warehouse_dir / "quality" / "latest.html"
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
    page = Settings.from_env().warehouse_dir / "quality" / "latest.html"
    page = page.read_text(encoding="utf-8")
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
    with work(read_only=True) as con:
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


def _outcomes(recorded) -> list[tuple]:
    return [
        (r.outcome.check_name, r.outcome.passed, r.outcome.observed_value, r.outcome.evaluated_on)
        for r in recorded
    ]


def _sex_codes(recorded) -> tuple:
    """Passed, observed value and what it was evaluated on, of the sex code-list check."""
    (outcome,) = [o for o in _outcomes(recorded) if o[0] == "sex_in_code_list"]
    return outcome[1:]


class Warnings:
    """A stand-in for the step's log: the warnings it was given."""

    def __init__(self) -> None:
        self.messages: list[str] = []

    def warning(self, message: str) -> None:
        self.messages.append(message)


def test_checks_started_by_ingestion_give_what_the_check_step_finds_itself(warehouse, monkeypatch):
    """An ingestion step starts its table's GE validation (the quality resource's
    start_validation()); the check step of the same run takes it up, with the outcomes a
    check step evaluating alone finds; a suite edited in between, or a row count that is not
    the table's, is not taken on trust."""
    settings = Settings.from_env()
    tables = clean_tables()
    tables["health_archives"][3]["sex"] = "X"  # a row-level (GE) failure
    with work() as con:
        write_table(con, "ingested.health_archives", tables["health_archives"])
    alone = run_checks("health_archives", Run("alone", datetime(2026, 1, 1)), settings)
    quality = QualityResource(settings=YiyuSettings())
    with work() as con:
        quality.start_validation(con, "health_archives", 40, Warnings())
    assert set(quality._started) == {"health_archives"}
    started = quality.run_checks("health_archives", Run("started", datetime(2026, 1, 2)))
    assert not quality._started  # taken up
    assert _outcomes(started) == _outcomes(alone)
    assert _sex_codes(started) == (
        False,
        "1 of 40 values unexpected (2.50%)",
        "full table, 40 rows",
    )

    with work() as con:
        quality.start_validation(con, "health_archives", 39, Warnings())
    miscounted = quality.run_checks("health_archives", Run("miscounted", datetime(2026, 1, 3)))
    assert _outcomes(miscounted) == _outcomes(alone)  # "of 40 rows", from the check's own count

    with work() as con:
        quality.start_validation(con, "health_archives", 40, Warnings())
    suites = warehouse / "expectations"
    shutil.copytree(expectations_dir(), suites)
    path = suites / "health_archives.json"
    suite = json.loads(path.read_text(encoding="utf-8"))
    (codes,) = [e for e in suite["expectations"] if e["meta"]["name"] == "sex_in_code_list"]
    codes["kwargs"]["value_set"].append("X")
    path.write_text(json.dumps(suite, ensure_ascii=False), encoding="utf-8")
    monkeypatch.setenv("YIYU_EXPECTATIONS_DIR", str(suites))
    edited = quality.run_checks("health_archives", Run("edited", datetime(2026, 1, 4)))
    assert _sex_codes(edited) == (
        True,
        "0 of 40 values unexpected (0.00%)",
        "full table, 40 rows",
    )


def test_a_validation_that_cannot_start_is_a_warning_and_the_check_validates_itself(
    monkeypatch,
):
    def fails(con, dataset, rows):
        raise ValueError("a value such as 张三 from the table")

    monkeypatch.setattr(resources, "start_validation", fails)
    tables = clean_tables()
    tables["health_archives"][3]["sex"] = "X"
    quality = QualityResource(settings=YiyuSettings())
    log = Warnings()
    with work() as con:
        write_table(con, "ingested.health_archives", tables["health_archives"])
        quality.start_validation(con, "health_archives", 40, log)
    assert log.messages == [
        "health_archives: row-level validation not started at ingestion (ValueError);"
        " its check step validates the table itself"
    ]
    assert not quality._started
    recorded = quality.run_checks("health_archives", Run("run", datetime(2026, 1, 1)))
    assert _sex_codes(recorded) == (
        False,
        "1 of 40 values unexpected (2.50%)",
        "full table, 40 rows",
    )


def test_one_quality_resource_serves_the_whole_run(monkeypatch):
    """With the in-process executor the resource is set up once per run: one GE worker start,
    and every source's rows fetched and validated once, at its ingestion step, the check
    step taking that validation up."""
    starts, fetched = [], []
    real_start, real_fetch = resources.start_worker, quality_run.start_sample_validation

    def start_worker():
        starts.append(1)
        real_start()

    def start_sample_validation(con, table, *args, **kwargs):
        fetched.append(table)
        return real_fetch(con, table, *args, **kwargs)

    monkeypatch.setattr(resources, "start_worker", start_worker)
    monkeypatch.setattr(quality_run, "start_sample_validation", start_sample_validation)

    result = refresh(clean_tables())

    assert result.success and probe_built(result)
    assert len(starts) == 1
    assert sorted(fetched) == sorted(f"ingested.{source}" for source in SOURCES)
