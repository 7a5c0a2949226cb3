"""The optional `catchments` register (contract section 8): read under its aliases, keyed by
(facility_code, community_code), a repeated pair superseded; an absent folder gives an empty
table with the register's columns and no freshness warning; the shipped sample carries it."""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

import duckdb

from pipelines.config import REPO_ROOT
from pipelines.ingest.freshness import freshness
from pipelines.ingest.ingest import ingest_source
from pipelines.ingest.sources import SOURCES

KEY = b"catchments-test-secret-not-for-production"
CATCHMENTS = SOURCES["catchments"]


def _write(path: Path, rows: list[list[str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as out:
        csv.writer(out).writerows(rows)


def _ingest(raw: Path, tmp: Path):
    con = duckdb.connect()
    result = ingest_source(
        CATCHMENTS, raw, con, cache_dir=tmp / "cache", key=KEY, today=date(2024, 1, 1)
    )
    return con, result


def test_aliases_key_and_a_repeated_pair(tmp_path):
    raw = tmp_path / "catchments"
    _write(
        raw / "2023-01/服务辖区.csv",
        [
            ["机构代码", "社区代码"],
            ["H011", "C001"],
            ["H011", "C002"],
            ["H012", "C002"],  # a community listed for two centres: both rows kept
            ["H011", "C001"],  # the same pair again: the later row wins
        ],
    )
    _write(raw / "2023-06/catchments.csv", [["建档机构代码", "现住址社区代码"], ["H012", "C003"]])
    _write(raw / "2023-09/en.csv", [["Facility_Code", "community_code"], ["H013", "C004"]])
    con, result = _ingest(raw, tmp_path)

    rows = con.execute(
        "SELECT facility_code, community_code, _file, _row FROM ingested.catchments ORDER BY ALL"
    ).fetchall()
    assert rows == [
        ("H011", "C001", "2023-01/服务辖区.csv", 5),
        ("H011", "C002", "2023-01/服务辖区.csv", 3),
        ("H012", "C002", "2023-01/服务辖区.csv", 4),
        ("H012", "C003", "2023-06/catchments.csv", 2),
        ("H013", "C004", "2023-09/en.csv", 2),
    ]
    audit = {
        r["file"]: (r["rows_read"], r["rows_loaded"], r["rows_superseded"], r["status"])
        for r in result.audit.iter_rows(named=True)
    }
    assert audit == {
        "2023-01/服务辖区.csv": (4, 3, 1, "loaded"),
        "2023-06/catchments.csv": (1, 1, 0, "loaded"),
        "2023-09/en.csv": (1, 1, 0, "loaded"),
    }


def test_a_file_without_the_community_column_is_rejected(tmp_path):
    raw = tmp_path / "catchments"
    _write(raw / "a.csv", [["机构代码", "社区名称"], ["H011", "某社区"]])
    con, result = _ingest(raw, tmp_path)
    (row,) = result.audit.iter_rows(named=True)
    assert row["status"] == "rejected"
    assert "community_code" in row["reject_reason"]
    assert con.execute("SELECT count(*) FROM ingested.catchments").fetchone() == (0,)


def test_an_absent_register_is_an_empty_table_and_never_stale(tmp_path):
    con, result = _ingest(tmp_path / "catchments", tmp_path)
    assert result.audit.height == 0
    columns = con.execute(
        "SELECT column_name, data_type FROM information_schema.columns"
        " WHERE table_schema = 'ingested' AND table_name = 'catchments' ORDER BY ordinal_position"
    ).fetchall()
    assert columns == [
        ("facility_code", "VARCHAR"),
        ("community_code", "VARCHAR"),
        ("_row", "BIGINT"),
        ("_file", "VARCHAR"),
    ]
    fresh = freshness(CATCHMENTS, tmp_path / "catchments")
    assert fresh.fresh and fresh.describe() == "no file delivered (an optional register)"
    # A register that is not optional still warns when nothing was delivered.
    assert not freshness(SOURCES["divisions"], tmp_path / "divisions").fresh


def test_the_sample_gives_each_community_to_its_street_s_centre(tmp_path):
    """The shipped sample: every community of the divisions register exactly once, under a
    community health centre of its own street."""
    raw = REPO_ROOT / "raw"
    con = duckdb.connect()
    for name in ("divisions", "health_facilities", "catchments"):
        ingest_source(SOURCES[name], raw / name, con, cache_dir=tmp_path / "cache", key=KEY)
    assert con.execute("SELECT count(*) FROM ingested.catchments").fetchone()[0] > 0
    misplaced = con.execute(
        """SELECT d.community_code, count(f.facility_code) AS centres
        FROM ingested.divisions d
        LEFT JOIN ingested.catchments c USING (community_code)
        LEFT JOIN ingested.health_facilities f ON f.facility_code = c.facility_code
            AND f.street_code = d.street_code AND f.facility_type = 'community_health_center'
        GROUP BY ALL HAVING centres <> 1"""
    ).fetchall()
    assert misplaced == []
    extra = con.execute(
        "SELECT count(*) FROM ingested.catchments"
        " ANTI JOIN ingested.divisions USING (community_code)"
    ).fetchone()
    assert extra == (0,)
