"""Every line of a delivered file is accounted for (contract section 7): real files in a tmp
landing folder, ingested by `ingest_source` into a real DuckDB; the expected counts are worked
out by hand from the lines written."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb
import openpyxl
import polars as pl
import pytest

from pipelines.config import REPO_ROOT
from pipelines.ingest import readers
from pipelines.ingest.ingest import ingest_source
from pipelines.ingest.sources import SOURCES

KEY = b"accounting-test-key-0123456789abcdef"
SURVEY_HEADER = "survey_no,community_code,survey_date,passed"
SURVEYS = [f"Q{i},C1,2023-05-0{i},是" for i in range(1, 6)]  # five good rows


@dataclass
class Ingested:
    table: pl.DataFrame
    audit: dict[str, dict]
    quarantine: pl.DataFrame


def _ingest(raw: Path, source: str, tmp: Path) -> Ingested:
    con = duckdb.connect()
    today = date(2024, 6, 30)
    result = ingest_source(
        SOURCES[source], raw / source, con, cache_dir=tmp / "cache", key=KEY, today=today
    )
    table = con.sql(f"FROM ingested.{source} ORDER BY _file, _row").pl()
    audit = {r["file"]: r for r in result.audit.iter_rows(named=True)}
    for row in audit.values():  # the equation holds for every file, whatever happened to it
        counted = row["rows_loaded"] + row["rows_quarantined"] + row["rows_superseded"]
        assert row["rows_read"] == counted, row
    return Ingested(table, audit, result.quarantine)


def _write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("ending", ["\n", "\r\n", "\r"], ids=["LF", "CRLF", "CR"])
def test_every_line_ending_reads_every_row(tmp_path, ending):
    text = ending.join([SURVEY_HEADER, *SURVEYS]) + ending
    _write(tmp_path / "raw/parenting_surveys/s.csv", text.encode())
    got = _ingest(tmp_path / "raw", "parenting_surveys", tmp_path)
    assert got.table["survey_no"].to_list() == ["Q1", "Q2", "Q3", "Q4", "Q5"]
    assert got.table["_row"].to_list() == [2, 3, 4, 5, 6]
    assert got.audit["s.csv"]["rows_read"] == 5


def test_mixed_line_endings_in_one_file(tmp_path):
    lines = [SURVEY_HEADER, *SURVEYS]
    text = lines[0] + "\r\n" + lines[1] + "\r" + lines[2] + "\n" + "\r\n".join(lines[3:]) + "\r"
    _write(tmp_path / "raw/parenting_surveys/s.csv", text.encode())
    got = _ingest(tmp_path / "raw", "parenting_surveys", tmp_path)
    assert got.table["survey_no"].to_list() == ["Q1", "Q2", "Q3", "Q4", "Q5"]


def test_rows_of_empty_cells_are_no_rows(tmp_path):
    """Blank lines and lines of separators only, before, between and after the rows."""
    lines = ["", SURVEY_HEADER, SURVEYS[0], "", ",,,", SURVEYS[1], ",,,,,,", '"","",,', ""]
    _write(tmp_path / "raw/parenting_surveys/s.csv", "\n".join(lines).encode())
    got = _ingest(tmp_path / "raw", "parenting_surveys", tmp_path)
    assert got.table.select("_row", "survey_no").rows() == [(3, "Q1"), (6, "Q2")]
    assert (got.audit["s.csv"]["rows_read"], got.quarantine.height) == (2, 0)


def test_a_ragged_row_is_quarantined_and_the_rest_loads(tmp_path):
    """Today's case: one ragged line used to reject the whole file with rows_read = 0."""
    rows = [
        SURVEYS[0],
        "Q2,C1,2023-05-02",  # a cell short: its values would shift
        "Q3,C1,2023-05-03,是,",  # an empty cell past the header: not counted
        "Q4,C1,2023-05-04,是,x",  # a value past the header
        "Q5,C1,,2023-05-05,是",  # a separator too many inside: values shifted
        'Q6,"C1,C2",2023-05-06,是',  # a quoted separator is text
        SURVEYS[4],
    ]
    _write(
        tmp_path / "raw/parenting_surveys/s.csv",
        "\n".join([SURVEY_HEADER, *rows]).encode() + b"\n",
    )
    got = _ingest(tmp_path / "raw", "parenting_surveys", tmp_path)
    assert got.table["survey_no"].to_list() == ["Q1", "Q3", "Q6", "Q5"]
    assert got.table.filter(pl.col("survey_no") == "Q6")["community_code"].item() == "C1,C2"
    bad = got.quarantine.sort("row_number").select("row_number", "reason_code", "detail").rows()
    assert bad == [
        (3, "malformed_row", "3 cells where the header has 4"),
        (5, "malformed_row", "5 cells where the header has 4"),
        (6, "malformed_row", "5 cells where the header has 4"),
    ]
    audit = got.audit["s.csv"]
    assert (audit["status"], audit["rows_read"], audit["rows_loaded"]) == ("loaded", 7, 4)


def test_ragged_rows_of_a_file_with_quotes_that_polars_reads_otherwise(tmp_path):
    """A quote inside an unquoted cell is a character; the rows still line up or not."""
    rows = ['Q1,C"1,2023-05-01,是', 'Q2,C1,2023-05-02,"是"', 'Q3,"C1"x,2023-05-03', SURVEYS[3]]
    _write(
        tmp_path / "raw/parenting_surveys/s.csv",
        "\n".join([SURVEY_HEADER, *rows]).encode(),
    )
    got = _ingest(tmp_path / "raw", "parenting_surveys", tmp_path)
    assert got.table.select("survey_no", "community_code").rows() == [
        ("Q1", 'C"1'),
        ("Q2", "C1"),
        ("Q4", "C1"),
    ]
    assert got.quarantine.select("row_number", "reason_code").rows() == [(4, "malformed_row")]


def test_a_header_with_empty_cells_at_its_end(tmp_path):
    """Excel writes a separator for each formatted column: the header's width is that of its
    last named column."""
    rows = ["Q1,C1,2023-05-01,是", "Q2,C1,2023-05-02,是,,", "Q3,C1,2023-05-03,是,,x", "Q4,C1"]
    _write(
        tmp_path / "raw/parenting_surveys/s.csv",
        "\n".join([SURVEY_HEADER + ",,", *rows]).encode(),
    )
    got = _ingest(tmp_path / "raw", "parenting_surveys", tmp_path)
    assert got.table["survey_no"].to_list() == ["Q1", "Q2"]
    assert got.quarantine.select("row_number", "detail").rows() == [
        (4, "6 cells where the header has 4"),
        (5, "2 cells where the header has 4"),
    ]


def test_a_value_beyond_the_xlsx_header_quarantines_its_row(tmp_path):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["调查编号", "社区代码", "调查日期", "是否知晓"])
    sheet.append(["S1", "C1", "2023-03-01", "是"])
    sheet.append(["S2", "C1", "2023-03-02", "是", None, "多出的值"])  # row 3: a value in F
    sheet.append([None, None, None, None, None, None])  # formatting only: no row
    sheet.append(["S4", "C1", "2023-03-04", "否"])
    (tmp_path / "raw/parenting_surveys").mkdir(parents=True)
    book.save(tmp_path / "raw/parenting_surveys/a.xlsx")
    got = _ingest(tmp_path / "raw", "parenting_surveys", tmp_path)
    assert got.table["survey_no"].to_list() == ["S1", "S4"]
    assert got.quarantine.select("row_number", "reason_code", "detail").rows() == [
        (3, "malformed_row", "a value beyond the header's last column (D)")
    ]
    assert got.audit["a.xlsx"]["rows_read"] == 3
    assert got.audit["a.xlsx"]["unknown_columns"] == ""


def test_a_file_that_cannot_be_read_counts_its_lines(tmp_path):
    """Not UTF-8, not GB18030: rejected, its non-blank lines after the first read and
    quarantined, so the equation holds for it too."""
    undecodable = b"\x81\x30\x81\x30\xff"  # a byte GB18030 never has
    lines = [SURVEY_HEADER.encode(), *(s.encode() for s in SURVEYS[:3]), b"", undecodable]
    _write(tmp_path / "raw/parenting_surveys/bad.csv", b"\n".join(lines) + b"\n")
    _write(tmp_path / "raw/parenting_surveys/broken.parquet", b"PAR1 not parquet")
    got = _ingest(tmp_path / "raw", "parenting_surveys", tmp_path)
    bad = got.audit["bad.csv"]
    assert (bad["status"], bad["rows_read"], bad["rows_quarantined"]) == ("rejected", 4, 4)
    assert bad["reject_reason"].startswith("unreadable file: not UTF-8 and not GB18030")
    rows = got.quarantine.filter(pl.col("file") == "bad.csv")
    assert rows.select("row_number", "reason_code").rows() == [
        (2, "unreadable_file"),
        (3, "unreadable_file"),
        (4, "unreadable_file"),
        (6, "unreadable_file"),
    ]
    broken = got.audit["broken.parquet"]
    assert (broken["status"], broken["rows_read"]) == ("rejected", 0)
    assert broken["reject_reason"] == "unreadable file: not a readable Parquet file (ComputeError)"


def test_a_file_without_its_header_row_is_rejected_whole(tmp_path):
    _write(tmp_path / "raw/parenting_surveys/s.csv", "\n".join(SURVEYS).encode())
    got = _ingest(tmp_path / "raw", "parenting_surveys", tmp_path)
    audit = got.audit["s.csv"]
    assert (audit["status"], audit["rows_read"], audit["rows_quarantined"]) == ("rejected", 4, 4)
    assert audit["reject_reason"].startswith("no recognisable header")
    assert audit["unknown_columns"] == ""  # the first row's cells are data, never noted
    assert set(got.quarantine["reason_code"]) == {"no_recognisable_header"}


def test_discovery_skips_temporary_files_and_links_out_of_the_landing_folder(tmp_path):
    raw, outside = tmp_path / "raw", tmp_path / "elsewhere"
    source = raw / "parenting_surveys"
    good = "\n".join([SURVEY_HEADER, SURVEYS[0]]).encode()
    for name in ["a.csv", "sub/b.csv", "~$a.xlsx", "c.csv.part", "d.tmp", "e.CSV.TMP", ".f.csv"]:
        _write(source / name, good)
    _write(outside / "secret.csv", good)
    _write(outside / "folder/x.csv", good)
    _write(raw / "births/2023/b.csv", good)
    os.symlink(outside / "secret.csv", source / "linked.csv")
    os.symlink(outside / "folder", source / "linked_folder")
    os.symlink(raw / "births/2023", source / "inside")  # inside the landing folder: read
    os.symlink(outside, raw / "staff")  # a source folder itself linked out
    os.symlink(source / "sub", source / "alias")  # a folder also reached without a link
    found = [p.relative_to(source).as_posix() for p in readers.discover(source)]
    assert found == ["a.csv", "inside/b.csv", "sub/b.csv"]
    assert readers.discover(raw / "staff") == []
    assert readers.outside_links(raw) == sorted(
        [source / "linked.csv", source / "linked_folder", raw / "staff"]
    )


def test_sub_folders_that_are_no_source_are_named(tmp_path):
    raw = tmp_path / "raw"
    for name in ["births", "birth", "enrolments", ".git", "parenting_surveys"]:
        (raw / name).mkdir(parents=True)
    _write(raw / "README.md", b"not a folder")
    assert readers.unknown_source_folders(raw) == ["birth", "enrolments"]


@pytest.mark.slow
def test_a_refresh_reads_a_cr_only_file_and_keeps_a_ragged_file(tmp_path):
    """The issue's cases through a real `yiyu refresh` of the shipped sample: a CR-only CSV
    loaded 0 rows and a CSV with one ragged line was dropped with rows_read = 0, and neither
    failed the refresh. Now both are read row by row and the published audit says so."""
    raw = tmp_path / "raw"
    shutil.copytree(REPO_ROOT / "raw", raw)
    surveys = [f"ZQ{i},330206001001,2023-05-0{i},是" for i in range(1, 6)]
    _write(raw / "parenting_surveys/2024/cr.csv", "\r".join([SURVEY_HEADER, *surveys]).encode())
    ragged = [*surveys[:2], "ZQ9,330206001001,2023-05-09", *surveys[2:]]
    ragged = [line.replace("ZQ", "ZR") for line in ragged]
    _write(raw / "parenting_surveys/2024/ragged.csv", "\n".join([SURVEY_HEADER, *ragged]).encode())
    env = dict(
        os.environ,
        YIYU_RAW_DIR=str(raw),
        YIYU_WAREHOUSE_PATH=str(tmp_path / "warehouse" / "yiyu.duckdb"),
        YIYU_LINK_SECRET=KEY.decode(),
        DAGSTER_HOME=str(tmp_path / "dagster_home"),
    )
    (tmp_path / "dagster_home").mkdir()
    yiyu = str(Path(sys.executable).with_name("yiyu"))
    run = subprocess.run([yiyu, "refresh"], env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-3000:]
    con = duckdb.connect(str(tmp_path / "warehouse" / "yiyu.duckdb"), read_only=True)
    audit = con.sql(
        "SELECT file, status, rows_read, rows_loaded, rows_quarantined FROM audit.file_audit"
        " WHERE source = 'parenting_surveys' AND file LIKE '2024/%' ORDER BY file"
    ).fetchall()
    quarantine = con.sql(
        "SELECT row_number, reason_code FROM audit.quarantine"
        " WHERE source = 'parenting_surveys' AND file LIKE '2024/%'"
    ).fetchall()
    con.close()
    assert audit == [
        ("2024/cr.csv", "loaded", 5, 5, 0),
        ("2024/ragged.csv", "loaded", 6, 5, 1),
    ]
    assert quarantine == [(4, "malformed_row")]
