"""The evaluation engine on a real DuckDB file: exact counts over whole tables, GE row rules on
all rows or a deterministic sample, age-conditioned ranges and the status changes."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from datetime import date, datetime, timedelta

import pytest

from pipelines.config import Settings
from pipelines.quality import sample as quality_sample
from pipelines.quality.history import Run, status_change
from pipelines.quality.run import run_checks
from pipelines.quality.sample import sample_frame
from pipelines.quality.suites import expectations_dir, load_suite
from tests.processes import assert_ends, children_of_killed_probe
from tests.test_quality_fixtures import h, work, write_table


@pytest.fixture
def warehouse(tmp_path, monkeypatch):
    monkeypatch.setenv("YIYU_WAREHOUSE_PATH", str(tmp_path / "wh" / "yiyu.duckdb"))
    return tmp_path


def check_row(n: int, born: date, age_days: int, height: float, archive: bool = True) -> dict:
    return {
        "record_key": h("ck", n),
        "archive_key": h("ar", n) if archive else None,
        "sex": "F",
        "birth_date": born,
        "facility_code": "F01",
        "check_date": born + timedelta(days=age_days),
        "height_cm": height,
        "weight_kg": 8.0,
        "hemoglobin_g_l": 120.0,
    }


def outcomes(run_id: str, dataset: str) -> dict[str, object]:
    recorded = run_checks(dataset, Run(run_id, NOW), Settings.from_env())
    return {r.outcome.check_name: r.outcome for r in recorded}


NOW = datetime(2024, 1, 1, 8, 0)


def test_counts_are_exact_over_the_table_while_row_rules_use_a_sample(warehouse, monkeypatch):
    # 3000 checks, archive_key missing from exactly 1234 of them; the suite samples 500 rows.
    suites = warehouse / "expectations"
    shutil.copytree(expectations_dir(), suites)
    suite = json.loads((suites / "health_checks.json").read_text(encoding="utf-8"))
    suite["meta"]["sample_rows"] = 500
    (suites / "health_checks.json").write_text(json.dumps(suite), encoding="utf-8")
    monkeypatch.setenv("YIYU_EXPECTATIONS_DIR", str(suites))
    rows = [check_row(n, date(2023, 1, 1), 200, 68.0, archive=n >= 1234) for n in range(3000)]
    with work() as con:
        write_table(con, "ingested.health_checks", rows)

    result = outcomes("run-1", "health_checks")

    fill = result["archive_key_fill_target"]
    assert fill.observed_value == "filled in 1766 of 3000 rows (58.87%)"
    assert fill.evaluated_on == "full table, 3000 rows"
    assert not fill.passed  # 58.87% < the suite's 80%
    assert result["record_key_unique"].observed_value == "0 of 3000 non-null rows share a value"
    assert result["row_count_nonzero"].observed_value == "3000"
    in_range = result["height_cm_physiological_range"]
    assert in_range.evaluated_on == "deterministic sample of 500 of 3000 rows"
    assert in_range.passed and in_range.observed_value == "0 of 500 values unexpected (0.00%)"


def test_the_sample_is_deterministic_and_taken_from_the_table(warehouse):
    rows = [check_row(n, date(2023, 1, 1), n % 700, 60.0 + n % 30) for n in range(2000)]
    with work() as con:
        write_table(con, "ingested.health_checks", rows)
        derived = {"age_days": "date_diff('day', birth_date, check_date)"}
        first, note = sample_frame(con, "ingested.health_checks", 300, derived)
        second, _ = sample_frame(con, "ingested.health_checks", 300, derived)
    assert note == "deterministic sample of 300 of 2000 rows"
    assert len(first) == 300 and first["record_key"].is_unique
    assert list(first["record_key"]) == list(second["record_key"])
    assert set(first["record_key"]) <= {r["record_key"] for r in rows}
    by_key = {r["record_key"]: r for r in rows}
    for key, age in zip(first["record_key"], first["age_days"], strict=True):
        assert age == (by_key[key]["check_date"] - by_key[key]["birth_date"]).days


@pytest.mark.parametrize("factor", [2, 0])  # 0: no row passes the cutoff, all are ranked
def test_the_sample_is_the_rows_with_the_smallest_row_hashes(warehouse, monkeypatch, factor):
    monkeypatch.setattr(quality_sample, "CANDIDATE_FACTOR", factor)
    table = "ingested.health_checks"
    rows = [check_row(n, date(2023, 1, 1), n % 700, 60.0 + n % 30) for n in range(2000)]
    with work() as con:
        write_table(con, table, rows)
        frame, _ = sample_frame(con, table, 300, {})
        columns = ", ".join(d[0] for d in con.execute(f"select * from {table} limit 0").description)
        hashed = con.execute(f"select record_key, hash({columns}), _file, _row from {table}")
        ranked = sorted(hashed.fetchall(), key=lambda r: r[1:])  # every row, ranked in Python
    assert list(frame["record_key"]) == [r[0] for r in ranked[:300]]


def test_age_bands_apply_only_to_children_of_that_age(warehouse):
    # Ten checks at 4 months of age, one of them 120 cm tall (plausible at 30 months, not at
    # 4); ten checks at 30 months, all 100 cm.
    young = [check_row(n, date(2023, 1, 1), 120, 120.0 if n == 0 else 62.0) for n in range(10)]
    older = [check_row(10 + n, date(2021, 1, 1), 912, 100.0) for n in range(10)]
    with work() as con:
        write_table(con, "ingested.health_checks", young + older)

    result = outcomes("run-1", "health_checks")

    band = result["height_cm_at_age_3_12m"]
    assert not band.passed
    assert band.observed_value == "1 of 10 values unexpected (10.00%)"
    assert result["height_cm_at_age_24_48m"].passed
    assert result["height_cm_at_age_24_48m"].observed_value == "0 of 10 values unexpected (0.00%)"
    assert result["height_cm_physiological_range"].passed  # 120 cm is a possible height


def with_extra_expectation(warehouse, monkeypatch, expectation: dict) -> None:
    suites = warehouse / "expectations"
    if not suites.exists():
        shutil.copytree(expectations_dir(), suites)
    path = suites / "health_checks.json"
    suite = json.loads(path.read_text(encoding="utf-8"))
    meta = {"name": "extra", "severity": "warn", "dimension": "plausibility"}
    suite["expectations"] = [e for e in suite["expectations"] if e["meta"]["name"] != "extra"]
    suite["expectations"].append({**expectation, "meta": meta})
    path.write_text(json.dumps(suite), encoding="utf-8")
    monkeypatch.setenv("YIYU_EXPECTATIONS_DIR", str(suites))


def test_row_rules_see_every_column_they_read(warehouse, monkeypatch):
    # Only the columns the rules read go to pandas: a row condition on a column that no rule
    # names, and a table-level rule (which may read any column), must still see theirs.
    rows = [check_row(n, date(2023, 1, 1), 200, 68.0) for n in range(10)]
    for row in rows[:4]:
        row["facility_code"] = "F02"
    for row in rows[:3]:
        row["weight_kg"] = 30.0
    with work() as con:
        write_table(con, "ingested.health_checks", rows)

    condition = {"type": "comparison", "column": {"name": "facility_code"}}
    with_extra_expectation(
        warehouse,
        monkeypatch,
        {
            "type": "expect_column_values_to_be_between",
            "kwargs": {
                "column": "weight_kg",
                "max_value": 20,
                "row_condition": {**condition, "operator": "==", "parameter": "F02"},
            },
        },
    )
    assert outcomes("run-1", "health_checks")["extra"].observed_value == (
        "3 of 4 values unexpected (75.00%)"
    )

    # 12 columns, the lineage columns _file and _row, and the derived age at the check.
    count = {"type": "expect_table_column_count_to_equal", "kwargs": {"value": 15}}
    with_extra_expectation(warehouse, monkeypatch, count)
    extra = outcomes("run-2", "health_checks")["extra"]
    assert extra.passed and extra.observed_value == "observed 15"


def test_duplicates_and_missing_columns_are_reported(warehouse):
    rows = [check_row(n, date(2023, 1, 1), 200, 68.0) for n in range(10)]
    rows[1]["record_key"] = rows[0]["record_key"]  # two rows share one key
    rows[4]["record_key"] = rows[2]["record_key"] = rows[3]["record_key"]  # three share another
    with work() as con:
        write_table(con, "ingested.health_checks", rows)
        con.execute("alter table ingested.health_checks drop column hemoglobin_g_l")

    result = outcomes("run-1", "health_checks")

    assert result["record_key_unique"].observed_value == "5 of 10 non-null rows share a value"
    assert not result["record_key_unique"].passed
    assert result["hemoglobin_g_l_type"].observed_value == "column missing"
    assert not result["hemoglobin_g_l_usual_range"].passed


def test_a_missing_table_fails_every_check_of_its_suite(warehouse):
    result = outcomes("run-1", "staff")
    assert result and all(not o.passed for o in result.values())
    assert {o.observed_value for o in result.values()} == {"table ingested.staff missing"}


@pytest.mark.parametrize(
    ("passed", "before", "change"),
    [
        (True, None, "ok"),
        (True, True, "ok"),
        (True, False, "resolved"),
        (False, None, "new"),
        (False, True, "new"),
        (False, False, "persisting"),
    ],
)
def test_status_change(passed, before, change):
    assert status_change(passed, before) == change


def test_a_retried_check_replaces_its_rows_of_the_run(warehouse):
    with work() as con:
        write_table(con, "ingested.parenting_surveys", [])
    first = run_checks("parenting_surveys", Run("run-1", NOW), Settings.from_env())
    again = run_checks("parenting_surveys", Run("run-1", NOW), Settings.from_env())
    with work(read_only=True) as con:
        stored = con.execute("select count(*) from quality.check_results").fetchone()[0]
    assert stored == len(first) == len(again) == len(load_suite("parenting_surveys").expectations)
    # An empty table: every fill rate passes vacuously, but the table itself is flagged.
    failing = {r.outcome.check_name for r in again if not r.outcome.passed}
    assert failing == {"row_count_nonzero"}


@pytest.mark.slow
def test_great_expectations_is_imported_by_its_worker_only():
    """Suites are parsed and frames validated in the worker process (pipelines/quality/ge.py),
    so the refresh's own process never pays GE's import: it stays out of its modules."""
    probe = """
import sys
import pandas as pd
from pipelines.quality.ge import Rule, stop_worker, validate
from pipelines.quality.suites import load_suite

load_suite("parenting_surveys")  # parsed by GE in the worker
kind, kwargs, meta = "expect_column_values_to_not_be_null", {"column": "x"}, {"name": "x"}
rule = Rule(kind, kwargs, meta, "column", {"type": kind, "kwargs": kwargs, "meta": meta})
(result,) = validate(pd.DataFrame({"x": [1.0, None, 3.0, None, 5.0]}), "probe", [rule])
stop_worker()
print(result.success, result.observed, "great_expectations" in sys.modules, sep="|")
"""
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    # 2 of the 5 values are null: GE counts them as unexpected, out of all 5 rows
    assert done.stdout.strip().split("|") == [
        "False",
        "2 of 5 values unexpected (40.00%)",
        "False",
    ]


@pytest.mark.slow
def test_the_worker_ends_when_the_refresh_is_killed():
    """A refresh killed before it stops the worker must not leave it running."""
    probe = """
import os, signal
import psutil
from pipelines.quality.ge import start_worker
from pipelines.quality.suites import load_suite

start_worker()
load_suite("births")
workers = [p for p in psutil.Process().children() if "spawn_main" in " ".join(p.cmdline())]
print(*[p.pid for p in workers], flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""
    (worker,) = children_of_killed_probe(probe)
    assert_ends(worker)
