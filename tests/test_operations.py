"""Nightly-operation guarantees on real refresh processes: kills, concurrent readers,
incremental ingestion equal to a full rebuild, idempotency, run accountability and spill
files (contract section 7)."""

from __future__ import annotations

import getpass
import socket
import subprocess
import time
from pathlib import Path

import duckdb
import pytest

from pipelines.config import Settings
from pipelines.warehouse import OutOfMemory, work_db
from tests.processes import (
    YIYU,
    copy_tree,
    kill_at,
    late_delivery,
    marts,
    published,
    query,
    refresh,
    refresh_runs,
    run_id_of,
    yiyu_env,
)


def _parsed_files(path: Path) -> list[str]:
    return [
        f"{s}/{f}"
        for s, f in query(
            path, "SELECT source, file FROM audit.file_audit WHERE parsed_this_run ORDER BY ALL"
        )
    ]


@pytest.mark.slow
def test_second_refresh_parses_nothing_and_a_new_file_equals_a_full_rebuild(tmp_path, sample_raw):
    raw = copy_tree(sample_raw, tmp_path / "raw")
    incremental = tmp_path / "incremental"
    refresh(incremental, raw)
    first = marts(published(incremental))
    assert first["indicator_values"], "the sample must produce indicator values"

    same_day = refresh(incremental, raw)  # nothing changed: skipped before loading Dagster
    assert "nothing new since refresh" in same_day.stderr
    assert marts(published(incremental)) == first

    refresh(incremental, raw, "--force")  # through the whole job all the same
    assert _parsed_files(published(incremental)) == []  # identical content: nothing parsed again
    assert marts(published(incremental)) == first  # idempotent

    late_delivery(raw, incremental / "warehouse" / "work.duckdb")
    refresh(incremental, raw)
    assert _parsed_files(published(incremental)) == ["institutions/zzz_late_delivery.csv"]
    after = marts(published(incremental))
    assert after != first

    rebuild = tmp_path / "rebuild"
    refresh(rebuild, raw)
    assert marts(published(rebuild)) == after


@pytest.mark.slow
def test_refresh_killed_at_each_named_point_leaves_published_marts_unchanged(
    tmp_path, base_refresh
):
    root = copy_tree(base_refresh, tmp_path / "case")
    raw = root / "raw"
    before = marts(published(root))
    late_delivery(raw, root / "warehouse" / "work.duckdb")  # a killed run would change marts
    spill = root / "warehouse" / "spill"
    # In pipeline order ("parsing" first: the new file is parsed once, then cached); each
    # kill leaves the working state of a half-done run behind for the next one.
    points = ("parsing", "identity", "dbt", "publishing")
    for point in points:
        kill_at(point, root, raw)
        assert marts(published(root)) == before, f"published marts changed by a kill at {point}"
    spill.mkdir(exist_ok=True)
    (spill / "duckdb_temp_storage-0.tmp").write_bytes(b"left by a killed run")

    done = refresh(root, raw)  # the next refresh completes normally and publishes
    assert marts(published(root)) != before
    assert not spill.exists() or not any(spill.iterdir())  # spill files of the kill: gone
    runs = refresh_runs(published(root))
    killed = [run for run, (outcome, _) in runs.items() if outcome == "killed"]
    assert len(killed) == len(points)  # each killed run, recorded by the next start
    assert all("ended without finishing" in runs[run][1] for run in killed)
    assert runs[run_id_of(done)] == ("published", None)
    # No partial history: check results only of runs that finished.
    checked = {r[0] for r in query(published(root), "SELECT run_id FROM quality.check_results")}
    assert not checked & set(killed)


@pytest.mark.slow
def test_reader_holds_the_published_file_open_during_a_refresh(tmp_path, base_refresh):
    root = copy_tree(base_refresh, tmp_path / "case")
    raw = root / "raw"
    reader = duckdb.connect(str(published(root)), read_only=True)
    count = "SELECT count(*), sum(numerator) FROM marts.indicator_values"
    seen_before = reader.execute(count).fetchone()

    late_delivery(raw, root / "warehouse" / "work.duckdb")
    log = (tmp_path / "refresh.log").open("w")  # a pipe nobody reads would fill and block
    process = subprocess.Popen(
        [YIYU, "refresh"], env=yiyu_env(root, raw), stdout=log, stderr=subprocess.STDOUT
    )
    while process.poll() is None:
        assert reader.execute(count).fetchone() == seen_before
        time.sleep(0.1)
    log.close()
    assert process.returncode == 0, (tmp_path / "refresh.log").read_text()[-3000:]
    assert reader.execute(count).fetchone() == seen_before  # still the file it opened
    reader.close()
    assert query(published(root), count)[0] != seen_before


@pytest.mark.slow
def test_each_run_is_accountable_with_zoned_timestamps(base_refresh):
    path = published(base_refresh)
    rows = query(
        path,
        "SELECT trigger, os_user, host, code_version, outcome, started_at <= ended_at"
        " AND ended_at <= published_at + INTERVAL 1 SECOND FROM meta.refresh_runs",
    )
    assert rows == [("cli", getpass.getuser(), socket.gethostname(), rows[0][3], "published", True)]
    assert rows[0][3]  # git describe, or the package version and the code digest
    types = dict(
        query(
            path,
            "SELECT column_name, data_type FROM duckdb_columns()"
            " WHERE schema_name = 'meta' AND table_name = 'refresh_runs'",
        )
    )
    assert {types[c] for c in ("started_at", "ended_at", "published_at")} == {
        "TIMESTAMP WITH TIME ZONE"
    }


def test_running_out_of_duckdb_memory_names_the_setting(tmp_path):
    settings = Settings.from_env(
        {
            "YIYU_WAREHOUSE_PATH": str(tmp_path / "yiyu.duckdb"),
            "YIYU_DUCKDB_MEMORY_LIMIT": "8MB",
        }
    )
    with pytest.raises(OutOfMemory) as exhausted, work_db(settings) as con:
        # list() keeps every value in memory: it cannot spill.
        con.execute("SELECT list(repeat('x', 100) || i) FROM range(2000000) t(i)").fetchall()
    message = str(exhausted.value)
    assert "YIYU_DUCKDB_MEMORY_LIMIT=8MB" in message and "\n" not in message
