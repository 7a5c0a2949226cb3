"""Nightly-operation guarantees on real refresh processes: kills, concurrent readers,
incremental ingestion equal to a full rebuild, idempotency."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

YIYU = str(Path(sys.executable).with_name("yiyu"))
SECRET = "operations-test-secret-not-for-production"


def _env(root: Path, raw: Path, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        YIYU_RAW_DIR=str(raw),
        YIYU_WAREHOUSE_PATH=str(root / "warehouse" / "yiyu.duckdb"),
        YIYU_LINK_SECRET=SECRET,
        DAGSTER_HOME=str(root / "dagster_home"),
        **extra,
    )
    (root / "dagster_home").mkdir(parents=True, exist_ok=True)
    return env


def _refresh(root: Path, raw: Path, *args: str) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [YIYU, "refresh", *args], env=_env(root, raw), capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr[-4000:]
    return result


def _marts(published: Path) -> dict[str, list[tuple]]:
    con = duckdb.connect(str(published), read_only=True)
    try:
        names = [
            r[0]
            for r in con.execute(
                "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'marts' ORDER BY 1"
            ).fetchall()
        ]
        return {n: con.execute(f"SELECT * FROM marts.{n} ORDER BY ALL").fetchall() for n in names}
    finally:
        con.close()


def _parsed_files(published: Path) -> list[str]:
    con = duckdb.connect(str(published), read_only=True)
    try:
        return [
            f"{s}/{f}"
            for s, f in con.execute(
                "SELECT source, file FROM audit.file_audit WHERE parsed_this_run ORDER BY ALL"
            ).fetchall()
        ]
    finally:
        con.close()


@pytest.fixture(scope="module")
def sample_raw(tmp_path_factory) -> Path:
    raw = tmp_path_factory.mktemp("sample") / "raw"
    subprocess.run(
        [YIYU, "sample", "--children", "400", "--seed", "5", "--out", str(raw)], check=True
    )
    return raw


def _late_delivery(raw: Path, root: Path) -> None:
    """A new register file: one more affordable nursery (changes the slot indicators)."""
    con = duckdb.connect(str(root / "warehouse" / "work.duckdb"), read_only=True)
    street, community = con.execute(
        "SELECT street_code, community_code FROM ingested.divisions ORDER BY ALL LIMIT 1"
    ).fetchone()
    con.close()
    path = raw / "institutions" / "zzz_late_delivery.csv"
    path.write_text(
        "institution_code,institution_name,institution_type,street_code,community_code,"
        "slots,is_affordable,affordable_since,filed_on\n"
        f"91330206LATE0001X,晚到托育园,nursery,{street},{community},120,是,2022-01-01,2022-01-01\n",
        encoding="utf-8",
    )


def test_second_refresh_parses_nothing_and_a_new_file_equals_a_full_rebuild(tmp_path, sample_raw):
    raw = tmp_path / "raw"
    shutil.copytree(sample_raw, raw)
    incremental = tmp_path / "incremental"
    published = incremental / "warehouse" / "yiyu.duckdb"

    _refresh(incremental, raw)
    first = _marts(published)
    assert first["indicator_values"], "the sample must produce indicator values"

    same_day = _refresh(incremental, raw)  # nothing changed: skipped before loading Dagster
    assert "nothing new since refresh" in same_day.stderr
    assert _marts(published) == first

    _refresh(incremental, raw, "--force")  # through the whole job all the same
    assert _parsed_files(published) == []  # identical content: nothing parsed again
    assert _marts(published) == first  # idempotent

    _late_delivery(raw, incremental)
    _refresh(incremental, raw)
    assert _parsed_files(published) == ["institutions/zzz_late_delivery.csv"]
    after = _marts(published)
    assert after != first

    rebuild = tmp_path / "rebuild"
    _refresh(rebuild, raw)
    assert _marts(rebuild / "warehouse" / "yiyu.duckdb") == after


def _kill_at(point: str, root: Path, raw: Path) -> None:
    marker = root / f"reached-{point}"
    process = subprocess.Popen(
        [YIYU, "refresh"],
        env=_env(root, raw, YIYU_FAILPOINT=point, YIYU_FAILPOINT_MARKER=str(marker)),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 300
    while not marker.exists():
        assert process.poll() is None, f"refresh ended before reaching {point}"
        assert time.monotonic() < deadline, f"refresh never reached {point}"
        time.sleep(0.2)
    os.killpg(process.pid, signal.SIGKILL)  # the whole group: dbt's subprocess too
    process.wait()


def test_refresh_killed_at_each_named_point_leaves_published_marts_unchanged(tmp_path, sample_raw):
    raw = tmp_path / "raw"
    shutil.copytree(sample_raw, raw)
    published = tmp_path / "warehouse" / "yiyu.duckdb"
    _refresh(tmp_path, raw)
    before = _marts(published)

    _late_delivery(raw, tmp_path)  # a killed run would change the marts if it got through
    # In pipeline order ("parsing" first: the new file is parsed once, then cached); each
    # kill leaves the working state of a half-done run behind for the next one.
    for point in ("parsing", "identity", "dbt", "publishing"):
        _kill_at(point, tmp_path, raw)
        assert _marts(published) == before, f"published marts changed by a kill at {point}"

    _refresh(tmp_path, raw)  # the next refresh completes normally and publishes
    assert _marts(published) != before


def test_reader_holds_the_published_file_open_during_a_refresh(tmp_path, sample_raw):
    raw = tmp_path / "raw"
    shutil.copytree(sample_raw, raw)
    published = tmp_path / "warehouse" / "yiyu.duckdb"
    _refresh(tmp_path, raw)
    reader = duckdb.connect(str(published), read_only=True)
    query = "SELECT count(*), sum(numerator) FROM marts.indicator_values"
    seen_before = reader.execute(query).fetchone()

    _late_delivery(raw, tmp_path)
    log = (tmp_path / "refresh.log").open("w")  # a pipe nobody reads would fill and block
    process = subprocess.Popen(
        [YIYU, "refresh"], env=_env(tmp_path, raw), stdout=log, stderr=subprocess.STDOUT
    )
    while process.poll() is None:
        assert reader.execute(query).fetchone() == seen_before
        time.sleep(0.1)
    log.close()
    assert process.returncode == 0, (tmp_path / "refresh.log").read_text()[-3000:]
    assert reader.execute(query).fetchone() == seen_before  # still the file it opened
    reader.close()
    fresh = duckdb.connect(str(published), read_only=True)
    assert fresh.execute(query).fetchone() != seen_before
    fresh.close()
