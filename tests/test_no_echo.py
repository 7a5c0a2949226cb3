"""No personal value is ever echoed (contract section 7): audit, quarantine and warning texts,
the cache's metadata and the progress messages name the file, row, column and reason and
describe a value; of the registers without personal rows, only a value outside a code list is
quoted, cut to 32 characters. Real files, `ingest_source`, a real DuckDB."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path

import duckdb
import polars as pl
import pytest

from pipelines.config import REPO_ROOT
from pipelines.ingest.ingest import ingest_source
from pipelines.ingest.sources import SOURCES

KEY = b"no-echo-test-key-0123456789abcdefgh"
BIRTH_HEADER = "出生医学证明编号,身份证号,姓名,性别,出生日期,社区代码,母亲姓名,联系电话"
CERT, CHILD_ID, NAME, MOTHER, PHONE = (
    "Q330206778899",
    "330206202301050012",
    "欧阳娜娜",
    "欧阳春花",
    "13857412345",
)
PERSONAL = (CERT, CHILD_ID, NAME, MOTHER, PHONE)


def _ingest(tmp: Path, source: str, progress: list[str]) -> dict[str, pl.DataFrame]:
    con = duckdb.connect()
    result = ingest_source(
        SOURCES[source],
        tmp / "raw" / source,
        con,
        cache_dir=tmp / "cache",
        key=KEY,
        today=date(2024, 6, 30),
        progress=progress.append,
    )
    return {"audit": result.audit, "quarantine": result.quarantine, "warnings": result.warnings}


def _texts(tables: dict[str, pl.DataFrame], cache: Path, progress: list[str]) -> list[str]:
    """Every text ingestion wrote or said: its tables, every file of its cache but the valid
    rows (keyed hashes and typed values), its progress messages."""
    texts = [str(v) for t in tables.values() for row in t.rows() for v in row if v is not None]
    for path in cache.rglob("*"):
        if path.suffix == ".parquet" and path.name != "valid.parquet":
            frame = pl.read_parquet(path)
            texts += [str(v) for row in frame.rows() for v in row if v is not None]
        elif path.is_file() and path.suffix != ".parquet":
            texts.append(path.read_text())
    return [*texts, *progress]


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def _echoed(texts: list[str], values: tuple[str, ...]) -> set[str]:
    return {v for v in values for t in texts if v in t}


def test_a_births_file_without_its_header_row_quotes_nothing(tmp_path):
    """The issue's case: the first row's name, phone number and certificate number became
    `unknown_columns` (and the cache's metadata)."""
    rows = [
        f"{CERT},{CHILD_ID},{NAME},女,2023-01-05,330206001001,{MOTHER},{PHONE}",
        "Q330206778900,,欧阳朵朵,男,2023-02-01,330206001001,欧阳夏花,13857412399",
    ]
    _write(tmp_path / "raw/births/b.csv", "\n".join(rows) + "\n")
    progress: list[str] = []
    tables = _ingest(tmp_path, "births", progress)
    audit = tables["audit"].row(0, named=True)
    assert (audit["status"], audit["unknown_columns"]) == ("rejected", "")
    assert audit["reject_reason"].startswith("no recognisable header")
    assert (audit["rows_read"], audit["rows_quarantined"]) == (1, 1)
    assert not _echoed(_texts(tables, tmp_path / "cache", progress), PERSONAL)


def test_shifted_columns_are_described_not_quoted(tmp_path):
    """The issue's case: a column shifted by one put ID numbers into `detail`."""
    rows = [
        # birth date and ID number swapped: the ID lands in birth_date
        f"{CERT},2023-01-05,{NAME},女,{CHILD_ID},330206001001,{MOTHER},{PHONE}",
        # every value a column to the left, the last cell empty
        f"{CHILD_ID},{NAME},女,2023-01-05,330206001001,{MOTHER},{PHONE},",
    ]
    _write(tmp_path / "raw/births/b.csv", BIRTH_HEADER + "\n" + "\n".join(rows) + "\n")
    progress: list[str] = []
    tables = _ingest(tmp_path, "births", progress)
    details = tables["quarantine"].sort("row_number").select("row_number", "detail").rows()
    assert details == [
        (2, "birth_date: not a date, 18 characters"),
        (3, "sex: not in the code list, 10 characters"),
    ]
    assert tables["audit"]["unknown_columns"].to_list() == ["母亲姓名, 联系电话"]
    assert not _echoed(_texts(tables, tmp_path / "cache", progress), PERSONAL)


def test_every_message_of_a_person_level_source_describes_its_value(tmp_path):
    header = "入托编号,姓名,性别,出生日期,机构代码,班级类型,入托日期,月保教费\n"
    rows = [
        "E1,张三,男,2022-01-05,I1,学前班甲乙丙,2023-09-01,800",  # not in the code list
        "E2,李四,2,2022-01-05,I1,托班,2023-09-01,八百元整",  # not a number
        "E3,王五,男,2022-01-05,I1,托班,2023-02-30,800",  # not a date
        "E4,赵六,未说明的性别,2022-01-05,I1,托班,2023-09-01,800",  # not in the code list
    ]
    _write(tmp_path / "raw/enrollments/e.csv", header + "\n".join(rows) + "\n")
    progress: list[str] = []
    tables = _ingest(tmp_path, "enrollments", progress)
    details = tables["quarantine"].sort("row_number").select("row_number", "detail").rows()
    assert details == [
        (2, "class_type: not in the code list, 6 characters"),
        (3, "monthly_fee_yuan: not a number, 4 characters"),
        (4, "enroll_date: not a date, 10 characters"),
        (5, "sex: not in the code list, 6 characters"),
    ]
    values = ("学前班甲乙丙", "八百元整", "2023-02-30", "未说明的性别")
    assert not _echoed(_texts(tables, tmp_path / "cache", progress), values)


def test_parenting_surveys_are_about_persons_too(tmp_path):
    header = "调查编号,社区代码,调查日期,是否知晓\n"
    _write(tmp_path / "raw/parenting_surveys/s.csv", header + "S1,C1,2023-05-01,不太清楚\n")
    tables = _ingest(tmp_path, "parenting_surveys", [])
    assert tables["quarantine"]["detail"].to_list() == ["passed: not a yes/no value, 4 characters"]


def test_a_register_quotes_only_a_value_outside_a_code_list_cut_to_32(tmp_path):
    header = (
        "institution_code,institution_name,institution_type,street_code,community_code,"
        "slots,is_affordable,filed_on\n"
    )
    odd_type = "一个很长很长的机构类型名称" * 4  # 52 characters
    rows = [
        f"I1,甲,{odd_type},S1,C1,20,是,2022-01-01",
        "I2,乙,托育机构,S1,C1,二十个,是,2022-01-01",
        "I3,丙,托育机构,S1,C1,20,也许,2022-01-01",
        "I4,丁,托育机构,S1,C1,-5,是,2022-01-01",
    ]
    _write(tmp_path / "raw/institutions/i.csv", header + "\n".join(rows) + "\n")
    tables = _ingest(tmp_path, "institutions", [])
    details = tables["quarantine"].sort("row_number")["detail"].to_list()
    assert details == [
        f"institution_type: cannot read '{odd_type[:32]}'",
        "slots: not a whole number, 3 characters",
        "is_affordable: not a yes/no value, 2 characters",
        "slots: below 0",
    ]


def test_a_reject_reason_never_quotes_the_file(tmp_path):
    """polars' messages quote the cell they could not read; a reason names the error only."""
    _write(tmp_path / "raw/births/b.csv", f'{BIRTH_HEADER}\n"{CERT}"x,,{NAME},女\n')
    (tmp_path / "raw/births/c.parquet").write_bytes(f"PAR1{CERT}{NAME}".encode())
    (tmp_path / "raw/births/d.xlsx").write_bytes(f"PK{CERT}{NAME}".encode())
    progress: list[str] = []
    tables = _ingest(tmp_path, "births", progress)
    assert tables["audit"]["status"].to_list() == ["loaded", "rejected", "rejected"]
    assert not _echoed(_texts(tables, tmp_path / "cache", progress), PERSONAL)


@pytest.mark.slow
def test_a_refresh_publishes_no_value_of_a_headerless_or_shifted_file(tmp_path):
    """A real `yiyu refresh` of the shipped sample plus a births file without its header row
    and one with shifted columns: it succeeds, and no value of theirs is in the published
    file or anywhere in the warehouse folder."""
    raw = tmp_path / "raw"
    shutil.copytree(REPO_ROOT / "raw", raw)
    rows = f"{CERT},{CHILD_ID},{NAME},女,2023-01-05,330206001001,{MOTHER},{PHONE}\n"
    _write(raw / "births/2024/headerless.csv", rows)
    shifted = f"{CERT},2023-01-05,{NAME},女,{CHILD_ID},330206001001,{MOTHER},{PHONE}\n"
    _write(raw / "births/2024/shifted.csv", BIRTH_HEADER + "\n" + shifted)
    warehouse = tmp_path / "warehouse"
    env = dict(
        os.environ,
        YIYU_RAW_DIR=str(raw),
        YIYU_WAREHOUSE_PATH=str(warehouse / "yiyu.duckdb"),
        YIYU_LINK_SECRET=KEY.decode(),
        DAGSTER_HOME=str(tmp_path / "dagster_home"),
    )
    (tmp_path / "dagster_home").mkdir()
    yiyu = str(Path(sys.executable).with_name("yiyu"))
    run = subprocess.run([yiyu, "refresh"], env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-3000:]
    assert not _echoed([run.stdout, run.stderr], PERSONAL)
    con = duckdb.connect(str(warehouse / "yiyu.duckdb"), read_only=True)
    audit = con.sql(
        "SELECT file, status, unknown_columns, reject_reason FROM audit.file_audit"
        " WHERE source = 'births' AND file LIKE '2024/%' ORDER BY file"
    ).fetchall()
    details = con.sql(
        "SELECT detail FROM audit.quarantine WHERE file = '2024/shifted.csv'"
    ).fetchall()
    con.close()
    assert [(f, s, u) for f, s, u, _ in audit] == [
        ("2024/headerless.csv", "rejected", ""),
        ("2024/shifted.csv", "loaded", "母亲姓名, 联系电话"),
    ]
    assert details == [("birth_date: not a date, 18 characters",)]
    for path in warehouse.rglob("*"):
        assert not _echoed(_file_texts(path), PERSONAL), path


def _file_texts(path: Path) -> list[str]:
    """The text of a file of the warehouse folder: a database's text columns, a Parquet
    file's cells (but the valid rows: keyed hashes and typed values), any other file whole."""
    if not path.is_file() or path.name == "valid.parquet" or path.suffix == ".wal":
        return []
    if path.suffix == ".parquet":
        return [str(v) for row in pl.read_parquet(path).rows() for v in row if v is not None]
    if path.suffix != ".duckdb":
        return [path.read_bytes().decode("utf-8", errors="ignore")]
    db = duckdb.connect(str(path), read_only=True)
    try:
        columns = db.sql(
            "SELECT schema_name, table_name, column_name FROM duckdb_columns()"
            " WHERE data_type = 'VARCHAR' AND database_name = current_database()"
        ).fetchall()
        return [
            str(v)
            for s, t, c in columns
            for (v,) in db.sql(f'SELECT DISTINCT "{c}" FROM "{s}"."{t}"').fetchall()
            if v is not None
        ]
    finally:
        db.close()
