"""Publish only what is whole (contract section 7): the publish gate, the report rendered from
the candidate before the swap, and a run that becomes the last good refresh only when it
published. A refused, failed or short-of-space run leaves the published file and its report
byte for byte as they were; the next plain refresh runs again and publishes its record."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from pipelines.config import Settings
from pipelines.operations.work_steps import (
    IDENTITY,
    MARTS,
    mark_completed,
    mark_started,
    state_refusals,
    transactional_write,
)
from pipelines.publish import gate
from pipelines.publish.gate import (
    NotEnoughSpace,
    Withdrawal,
    candidate_refusals,
    check_disk_space,
    quarters,
    withdrawals,
)
from tests.processes import (
    copy_tree,
    marts,
    published,
    published_state,
    query,
    refresh,
    refresh_runs,
    run_id_of,
)

# Unit layer: the gate's rules on small files.


def _candidate(path: Path, periods: list[str], audit: list[tuple[int, int, int, int]]):
    con = duckdb.connect(str(path))
    con.execute("CREATE SCHEMA marts; CREATE SCHEMA audit")
    con.execute("CREATE TABLE marts.indicator_values (period VARCHAR, value DOUBLE)")
    con.execute("CREATE TABLE marts.indicators (indicator_code VARCHAR)")
    con.execute("INSERT INTO marts.indicators VALUES ('rate')")
    for period in periods:
        con.execute("INSERT INTO marts.indicator_values VALUES (?, 1.0)", [period])
    con.execute(
        "CREATE TABLE audit.file_audit (source VARCHAR, file VARCHAR, status VARCHAR,"
        " rows_read BIGINT, rows_loaded BIGINT, rows_quarantined BIGINT, rows_superseded BIGINT)"
    )
    for number, counts in enumerate(audit):
        con.execute(
            "INSERT INTO audit.file_audit VALUES ('births', ?, 'loaded', ?, ?, ?, ?)",
            [f"f{number}.csv", *counts],
        )
    return con


def test_quarters_from_the_period_start_to_the_as_of_date():
    assert quarters(date(2022, 10, 1), date(2023, 6, 30)) == ["2022Q4", "2023Q1", "2023Q2"]
    assert quarters(date(2023, 12, 1), date(2023, 6, 30)) == []


def test_a_whole_candidate_passes(tmp_path):
    con = _candidate(tmp_path / "c.duckdb", ["2022Q4", "2023Q1", "2023Q2"], [(10, 7, 2, 1)])
    assert candidate_refusals(con, date(2022, 10, 1), date(2023, 6, 30)) == []


def test_the_gate_refuses_empty_marts_missing_periods_and_broken_audit(tmp_path):
    con = _candidate(tmp_path / "c.duckdb", ["2022Q4"], [(10, 7, 2, 1), (10, 7, 2, 0)])
    refusals = candidate_refusals(con, date(2022, 10, 1), date(2023, 6, 30))
    assert refusals == [
        "periods missing from marts.indicator_values: 2023Q1, 2023Q2"
        " (YIYU_PERIOD_START 2022-10-01 to the as-of date 2023-06-30)",
        "the audit equation rows_read = rows_loaded + rows_quarantined + rows_superseded"
        " does not hold for births/f1.csv",
    ]
    con.execute("DELETE FROM marts.indicator_values")
    refusals = candidate_refusals(con, date(2023, 12, 1), date(2023, 6, 30))
    assert refusals[0] == "marts.indicator_values is empty"
    assert refusals[1].startswith("YIYU_PERIOD_START (2023-12-01) is after the as-of date")


def test_the_working_state_must_be_completed_by_this_run(tmp_path):
    con = duckdb.connect(str(tmp_path / "work.duckdb"))
    assert "not built completely by this run" in state_refusals(con, "now")[0]
    for step in ("ingested/births", IDENTITY, MARTS):
        mark_started(con, step, "before")
        mark_completed(con, step, "before")
    # Publishing alone: the marts are an earlier run's.
    assert state_refusals(con, "now") == [
        "the marts were not built completely by this run (run before wrote them last):"
        " publishing alone never publishes; run the whole refresh"
    ]
    mark_started(con, MARTS, "now")
    mark_completed(con, MARTS, "now")
    assert state_refusals(con, "now") == []
    # A killed ingestion left its step started, never completed.
    mark_started(con, "ingested/births", "killed")
    assert state_refusals(con, "now") == [
        "ingested/births was left half-written by run killed (it failed or was killed):"
        " run the whole refresh"
    ]
    # Ingested again after identity read it: identity (and so the marts) are older.
    mark_completed(con, "ingested/births", "later")
    assert state_refusals(con, "now") == [
        "ingested/births changed after identity/child_index was built from it:"
        " run the whole refresh"
    ]


def test_a_write_that_rolled_back_gets_its_mark_back(tmp_path):
    con = duckdb.connect(str(tmp_path / "work.duckdb"))
    with transactional_write(con, "ingested/births", "first"):
        pass
    before = con.execute("SELECT * FROM ops.work_steps").fetchall()
    with pytest.raises(RuntimeError), transactional_write(con, "ingested/births", "second"):
        raise RuntimeError("rolled back")
    assert con.execute("SELECT * FROM ops.work_steps").fetchall() == before


def test_withdrawals_against_the_last_good_refresh(tmp_path):
    last_good = _candidate(tmp_path / "yiyu.duckdb", [], [(10, 10, 0, 0), (40, 40, 0, 0)])
    last_good.execute(
        "INSERT INTO audit.file_audit VALUES ('staff', 's.csv', 'loaded', 5, 5, 0, 0)"
    )
    last_good.close()
    work = _candidate(tmp_path / "work.duckdb", [], [(40, 40, 0, 0)])
    work.execute("UPDATE audit.file_audit SET file = 'f1.csv'")
    lost = withdrawals(work, tmp_path / "yiyu.duckdb")
    assert lost == [
        Withdrawal("births", [("f0.csv", 10)], 2, 50, 1),
        Withdrawal("staff", [("s.csv", 5)], 1, 5, 0),
    ]
    assert lost[0].refusal() is None  # 10 of 50 rows: 20%, not more
    assert lost[1].refusal() == "staff: every file withdrawn (staff/s.csv)"
    assert Withdrawal("births", [("f0.csv", 11)], 2, 50, 1).refusal() == (
        "births: 1 files withdrawn holding 11 of 50 rows (22%, more than 20%): births/f0.csv"
    )


def test_too_little_free_space_stops_before_the_candidate(tmp_path, monkeypatch):
    settings = Settings.from_env({"YIYU_WAREHOUSE_PATH": str(tmp_path / "yiyu.duckdb")})
    (tmp_path / "yiyu.duckdb").write_bytes(b"x" * 2**20)
    monkeypatch.setattr(gate, "free_space", lambda folder: 10 * 2**20)
    with pytest.raises(NotEnoughSpace) as short:
        check_disk_space(settings)
    assert str(short.value) == (
        f"not enough free space in {tmp_path} to build the new published file: about 65 MB"
        " needed, 10 MB free; the published file stays as it is"
    )
    monkeypatch.setattr(gate, "free_space", lambda folder: 66 * 2**20)
    check_disk_space(settings)


# End to end: real refreshes of a small delivery.


@pytest.fixture
def root(tmp_path, base_refresh) -> Path:
    """A copy of the refreshed sample (its raw folder, warehouse and Dagster home) to break."""
    return copy_tree(base_refresh, tmp_path / "case")


@pytest.mark.slow
def test_a_period_start_after_the_data_fails_before_publishing_and_the_next_refresh_rebuilds(root):
    """The issue's case: the published file keeps its marts, and `nothing new` is not said."""
    raw = root / "raw"
    before = published_state(root)
    refused = refresh(root, raw, expect=1, YIYU_PERIOD_START="2031-01-01")
    assert "is after the as-of date" in refused.stderr
    assert published_state(root) == before
    # An explicit as-of date before the period start: refused before any work.
    refresh(root, raw, expect=2, YIYU_AS_OF="2023-06-30", YIYU_PERIOD_START="2023-12-01")
    assert published_state(root) == before

    again = refresh(root, raw)
    assert "nothing new" not in again.stderr
    runs = refresh_runs(published(root))
    outcome, reason = runs[run_id_of(refused)]
    assert outcome == "blocked"
    assert "YIYU_PERIOD_START (2031-01-01) is after the as-of date" in reason
    assert runs[run_id_of(again)] == ("published", None)
    assert len(runs) == 3  # the base refresh, the refused one, this one; no bad-setting row
    assert marts(published(root))["indicator_values"]


@pytest.mark.slow
def test_publishing_alone_never_publishes_a_half_built_state(root, monkeypatch):
    for name, value in {
        "YIYU_RAW_DIR": root / "raw",
        "YIYU_WAREHOUSE_PATH": published(root),
        "YIYU_LINK_SECRET": "operations-test-secret-not-for-production",
        "DAGSTER_HOME": root / "dagster_home",
    }.items():
        monkeypatch.setenv(name, str(value))
    before = published_state(root)
    from pipelines.definitions import defs

    result = defs.resolve_job_def("refresh").execute_in_process(
        instance=dg.DagsterInstance.ephemeral(),
        asset_selection=[dg.AssetKey("published_warehouse")],
        raise_on_error=False,
    )
    assert not result.success
    (failure,) = result.get_step_failure_events()
    assert "not built completely by this run" in str(failure.step_failure_data.error.cause)
    assert published_state(root) == before


@pytest.mark.slow
def test_too_little_disk_space_stops_the_run_naming_the_space_and_the_folder(root):
    before = published_state(root)
    result = refresh(root, root / "raw", expect=1, YIYU_FAILPOINT="disk_full")
    assert f"not enough free space in {root / 'warehouse'}" in result.stderr
    assert "MB needed, 0 MB free" in result.stderr
    assert published_state(root) == before
    assert not list((root / "warehouse").glob(".publish-*"))  # no candidate left


def _withdraw(root: Path, source: str, low: float, high: float) -> dict[str, int]:
    """Move away files of `source` holding between `low` and `high` of its loaded rows (the
    smallest first): file -> rows."""
    files = query(
        published(root),
        "SELECT file, rows_loaded FROM audit.file_audit WHERE source = ? ORDER BY rows_loaded",
        [source],
    )
    total = sum(rows for _, rows in files)
    taken: dict[str, int] = {}
    for file, rows in files:
        if sum(taken.values()) + rows <= high * total:
            taken[file] = rows
    assert sum(taken.values()) > low * total, "the sample's files do not allow this share"
    for file in taken:
        (root / "raw" / source / file).rename(root / f"away-{len(taken)}-{file.replace('/', '_')}")
    return taken


@pytest.mark.slow
def test_the_withdrawal_guard_stops_a_source_losing_more_than_a_fifth_of_its_rows(root):
    raw = root / "raw"
    before = published_state(root)
    taken = _withdraw(root, "births", 0.25, 0.45)  # within the volume check's tolerance

    stopped = refresh(root, raw, expect=1)
    for file, rows in taken.items():
        assert (
            f"births/{file} is no longer in the landing folder (withdrawn): its {rows} rows"
            in stopped.stderr
        )
    assert f"births: {len(taken)} files withdrawn holding {sum(taken.values())} of" in (
        stopped.stderr
    )
    assert "`yiyu refresh --accept-withdrawals` publishes without them" in stopped.stderr
    assert published_state(root) == before

    accepted = refresh(root, raw, "--accept-withdrawals")
    assert "nothing new" not in accepted.stderr
    audit = query(
        published(root),
        "SELECT file, rows_loaded, withdrawn_on IS NOT NULL FROM audit.file_audit"
        " WHERE source = 'births' AND status = 'withdrawn'",
    )
    assert sorted(audit) == sorted((file, 0, True) for file in taken)


@pytest.mark.slow
def test_an_unmounted_source_folder_never_empties_the_marts(tmp_path, root):
    raw = root / "raw"
    before = published_state(root)
    held = dict(
        query(
            published(root), "SELECT file, rows_loaded FROM audit.file_audit WHERE source = 'staff'"
        )
    )
    shutil.move(raw / "staff", tmp_path / "staff-unmounted")
    (raw / "staff").mkdir()  # the mount point is there, its files are not

    stopped = refresh(root, raw, expect=1)
    for file, rows in held.items():
        assert f"staff/{file} is no longer in the landing folder (withdrawn): its {rows} rows" in (
            stopped.stderr
        )
    assert published_state(root) == before  # stopped by the volume check or the guard


@pytest.mark.slow
def test_a_small_withdrawal_is_named_and_published_with_the_landing_warnings(tmp_path, root):
    raw = root / "raw"
    file, rows = query(
        published(root),
        "SELECT file, rows_loaded FROM audit.file_audit WHERE source = 'births'"
        " ORDER BY rows_loaded LIMIT 1",
    )[0]
    (raw / "births" / file).unlink()
    (raw / "birth").mkdir()  # a misspelled source folder
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "x.csv").write_text("a\n1\n")
    (raw / "enrollments" / "linked.csv").symlink_to(outside / "x.csv")

    result = refresh(root, raw)
    assert f"births/{file} is no longer in the landing folder (withdrawn): its {rows} rows" in (
        result.stderr
    )
    assert "WARNING: birth/ in YIYU_RAW_DIR is no source folder" in result.stderr
    assert "WARNING: enrollments/linked.csv links outside YIYU_RAW_DIR: skipped" in result.stderr
    assert query(
        published(root),
        "SELECT count(*) FROM audit.file_audit WHERE file = ?"
        " AND status IS DISTINCT FROM 'withdrawn'",
        [file],
    ) == [(0,)]
