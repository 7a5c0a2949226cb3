"""Raw files -> ingested rows, quarantine and audit: hand-built files, hand-worked answers."""

from __future__ import annotations

import hashlib
import hmac
import shutil
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import duckdb
import openpyxl
import polars as pl
import pyarrow.parquet as pq
import pytest
from stdnum.cn import ric

from pipelines.ingest import cache
from pipelines.ingest.ingest import ingest_source
from pipelines.ingest.sources import SOURCES

SECRET = "test-secret-not-for-production"


def _valid_id(region: str, born: str, seq: str) -> str:
    body = region + born + seq
    return body + ric.calc_check_digit(body + "0")


def _expected_key(kind: str, value: str) -> str:
    """A second implementation of the keyed hash: Python's hmac."""
    return hmac.new(SECRET.encode(), f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()[:32]


def _write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode(encoding))
    return path


@dataclass
class Ingested:
    table: pl.DataFrame
    audit: pl.DataFrame
    quarantine: pl.DataFrame
    warnings: pl.DataFrame


def _ingest(env: Path, source: str, today: date = date(2024, 6, 30)) -> Ingested:
    """Ingest into a fresh in-memory DuckDB; the table as read back, in (file, row) order."""
    con = duckdb.connect()
    cache_dir = env / "warehouse" / "cache"
    key = SECRET.encode()
    result = ingest_source(
        SOURCES[source], env / "raw" / source, con, cache_dir=cache_dir, key=key, today=today
    )
    table = con.sql(f"FROM ingested.{source} ORDER BY _file, _row").pl()
    return Ingested(table, result.audit, result.quarantine, result.warnings)


RARE_NAME = "王㛃"  # U+36C3 (CJK Ext-A): GB18030 has it, GBK does not


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030"])
def test_csv_encodings_are_detected(yiyu_env, encoding):
    text = "出生医学证明编号,姓名,性别,出生日期\nN1,王㛃,男,2023-01-05\n"
    if encoding == "gb18030":
        with pytest.raises(UnicodeEncodeError):
            RARE_NAME.encode("gbk")
    _write(yiyu_env / "raw/births/b.csv", text, encoding)
    result = _ingest(yiyu_env, "births")
    assert result.audit["encoding"].to_list() == [encoding]
    triple = f"{RARE_NAME}|2023-01-05|M"
    assert result.table["triple_key"].to_list() == [_expected_key("tri", triple)]
    assert result.table["record_key"].to_list() == [_expected_key("bc", "N1")]


def test_xlsx_date_cells_and_parquet_load_like_csv(yiyu_env):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["调查编号", "社区代码", "调查日期", "是否知晓"])
    sheet.append(["S1", "330206001001", datetime(2023, 3, 1), "是"])
    sheet.append(["S2", "330206001001", date(2023, 3, 2), True])
    sheet.append([None, None, None, None])  # formatting-only row: not data
    (yiyu_env / "raw/parenting_surveys").mkdir(parents=True)
    book.save(yiyu_env / "raw/parenting_surveys/a.xlsx")
    pl.DataFrame(
        {
            "survey_no": ["S3"],
            "community_code": ["330206001002"],
            "survey_date": [date(2023, 3, 3)],
            "passed": [False],
        }
    ).write_parquet(yiyu_env / "raw/parenting_surveys/b.parquet")
    result = _ingest(yiyu_env, "parenting_surveys")
    got = result.table.select("survey_no", "survey_date", "passed").rows()
    assert got == [
        ("S1", date(2023, 3, 1), True),
        ("S2", date(2023, 3, 2), True),
        ("S3", date(2023, 3, 3), False),
    ]
    assert result.audit["file_format"].to_list() == ["xlsx", "parquet"]
    assert result.audit["rows_read"].to_list() == [2, 1]


def test_header_aliases_units_and_unknown_columns(yiyu_env):
    text = (
        "体检编号,档案编号,性别,出生日期,检查机构代码,体检日期,身高(cm),体重（kg）,监护人电话\n"
        "C1,A1,女,2023-01-05,F01,2023-06-01,66.5,7.2,13800138000\n"
    )
    _write(yiyu_env / "raw/health_checks/x.csv", text)
    result = _ingest(yiyu_env, "health_checks")
    row = result.table.row(0, named=True)
    assert (row["height_cm"], row["weight_kg"], row["check_date"]) == (66.5, 7.2, date(2023, 6, 1))
    assert row["archive_key"] == _expected_key("ar", "A1")
    assert result.audit["unknown_columns"].to_list() == ["监护人电话"]
    assert "13800138000" not in str(result.table.rows())


CHECK_HEADER = "check_no,archive_no,child_name,sex,birth_date,facility_code,check_date,height_cm\n"


def test_every_row_reason_code_with_its_row_and_column(yiyu_env):
    rows = [
        "C01,A1,张三,男,2023-01-05,F01,2023-06-01,66",  # row 2: fine
        "C02,A1,张三,男,,F01,2023-06-01,66",  # row 3: birth date missing
        "C03,A1,张三,男,2023-01-05,F01,2023-06-31,66",  # row 4: no 31 June
        "C04,A1,张三,X,2023-01-05,F01,2023-06-01,66",  # row 5: sex outside the code list
        "C05,A1,张三,男,2023-01-05,F01,2022-12-01,66",  # row 6: checked before birth
        "C06,A1,张三,男,2023-01-05,F01,2025-01-01,66",  # row 7: after "today" (2024-06-30)
        "C07,A1,张三,男,2023-01-05,F01,2023-06-01,200",  # row 8: 200 cm
        "C08,,,男,2023-01-05,F01,2023-06-01,66",  # row 9: nothing to link by
        "C09,A1,张三,男,2023-01-05,F01,2023-06-01,abc",  # row 10: height not a number
    ]
    _write(yiyu_env / "raw/health_checks/d.csv", CHECK_HEADER + "\n".join(rows) + "\n")
    result = _ingest(yiyu_env, "health_checks")
    got = (
        result.quarantine.sort("row_number")
        .select("row_number", "column_name", "reason_code")
        .rows()
    )
    assert got == [
        (3, "birth_date", "missing_required_value"),
        (4, "check_date", "unparseable_value"),
        (5, "sex", "invalid_code"),
        (6, "check_date", "date_before_birth"),
        (7, "check_date", "date_in_future"),
        (8, "height_cm", "out_of_range"),
        (9, "record", "unlinkable"),
        (10, "height_cm", "unparseable_value"),
    ]
    assert result.table["_row"].to_list() == [2]
    audit = result.audit.row(0, named=True)
    assert (audit["rows_read"], audit["rows_loaded"], audit["rows_quarantined"]) == (9, 1, 8)
    # A value is described, never quoted (contract section 7).
    details = dict(result.quarantine.select("row_number", "detail").rows())
    assert [details[r] for r in (3, 4, 5, 8, 10)] == [
        "birth_date: required value is empty",
        "check_date: not a date, 10 characters",
        "sex: not in the code list, 1 character",
        "height_cm: outside 30.0..150.0",
        "height_cm: not a number, 3 characters",
    ]


def test_a_file_parsed_in_parts_gives_what_it_gives_whole(yiyu_env, monkeypatch):
    """Large files are parsed PARSE_CHUNK_ROWS rows at a time; parts of 2 rows, with rows
    quarantined, warned about and superseded across part boundaries, change nothing."""
    own = _valid_id("330206", "20230105", "002")
    rows = [
        f"C01,A1,张三,男,2023-01-05,F01,2023-06-01,66,{own}",
        "C02,A1,张三,男,,F01,2023-06-01,66,",  # quarantined
        "C03,A1,张三,男,2023-01-05,F01,2023-06-01,67,110101199001011234",  # ID warning
        "C01,A1,张三,男,2023-01-05,F01,2023-06-01,68,",  # supersedes row 2
        "C05,A1,张三,男,2023-01-05,F01,2025-01-01,66,",  # after today
    ]
    text = CHECK_HEADER.rstrip("\n") + ",身份证号\n" + "\n".join(rows) + "\n"
    _write(yiyu_env / "raw/health_checks/d.csv", text)
    whole = _ingest(yiyu_env, "health_checks")
    monkeypatch.setattr(cache, "PARSE_CHUNK_ROWS", 2)
    shutil.rmtree(yiyu_env / "warehouse", ignore_errors=True)  # no cached parse
    parts = _ingest(yiyu_env, "health_checks")
    assert parts.audit["parsed_this_run"].to_list() == [True]
    assert parts.table.equals(whole.table)
    assert parts.table.select("_row", "height_cm").rows() == [(4, 67.0), (5, 68.0)]
    for name in ("quarantine", "warnings"):
        order = ["row_number", "column_name"]
        assert getattr(parts, name).sort(order).equals(getattr(whole, name).sort(order)), name
    assert whole.warnings.sort("row_number").select("row_number", "warning_code").rows() == [
        (2, "id_sex_mismatch"),  # the ID's sequence 002 is a woman's
        (4, "invalid_id_number"),
    ]
    assert whole.quarantine.sort("row_number").select("row_number", "reason_code").rows() == [
        (3, "missing_required_value"),
        (6, "date_in_future"),
    ]
    keep = pl.exclude("first_ingested_at")
    assert parts.audit.select(keep).equals(whole.audit.select(keep))


def test_file_missing_a_required_column_is_rejected_and_others_load(yiyu_env):
    _write(
        yiyu_env / "raw/health_checks/a_good.csv",
        CHECK_HEADER + "C1,A1,张三,男,2023-01-05,F01,2023-06-01,66\n",
    )
    _write(
        yiyu_env / "raw/health_checks/b_bad.csv",
        "check_no,archive_no,sex,birth_date,facility_code\nC2,A1,男,2023-01-05,F01\nC3,A1,男,2023-01-05,F01\n",
    )
    _write(yiyu_env / "raw/health_checks/c_broken.xlsx", "not a workbook")
    result = _ingest(yiyu_env, "health_checks")
    audit = {r["file"]: r for r in result.audit.iter_rows(named=True)}
    assert audit["a_good.csv"]["rows_loaded"] == 1
    bad = audit["b_bad.csv"]
    assert (bad["status"], bad["rows_read"], bad["rows_quarantined"]) == ("rejected", 2, 2)
    assert "check_date" in bad["reject_reason"]
    assert audit["c_broken.xlsx"]["status"] == "rejected"
    assert "XLSX" in audit["c_broken.xlsx"]["reject_reason"]
    reasons = result.quarantine.filter(pl.col("file") == "b_bad.csv")["reason_code"].unique()
    assert reasons.to_list() == ["missing_required_column"]


def test_supersession_across_deliveries_and_the_audit_equation(yiyu_env):
    header = (
        "institution_code,institution_name,institution_type,street_code,community_code,"
        "slots,is_affordable,filed_on\n"
    )
    _write(
        yiyu_env / "raw/institutions/2023/01.csv",
        header
        + "I1,甲,托育机构,S1,C1,20,否,2022-01-01\n"
        + "I2,乙,托育机构,S1,C1,30,是,2022-01-01\n"
        + "I3,丙,托育机构,S1,C1,40,是,2022-01-01\n",
    )
    _write(
        yiyu_env / "raw/institutions/2023/02.csv",
        header
        + "I1,甲,托育机构,S1,C1,25,是,2022-01-01\n"  # replaces I1 of 01.csv
        + "I2,乙,托育机构,S1,C1,-5,是,2022-01-01\n"  # invalid: must not replace I2
        + "I1,甲,托育机构,S1,C1,26,是,2022-01-01\n",  # later row of the same file wins
    )
    result = _ingest(yiyu_env, "institutions")
    slots = dict(result.table.select("institution_code", "slots").rows())
    assert slots == {"I1": 26, "I2": 30, "I3": 40}
    audit = {r["file"]: r for r in result.audit.iter_rows(named=True)}
    first, second = audit["2023/01.csv"], audit["2023/02.csv"]
    assert (first["rows_loaded"], first["rows_superseded"], first["rows_quarantined"]) == (2, 1, 0)
    assert (second["rows_loaded"], second["rows_superseded"], second["rows_quarantined"]) == (
        1,
        1,
        1,
    )
    for row in audit.values():
        assert (
            row["rows_read"]
            == row["rows_loaded"] + row["rows_quarantined"] + row["rows_superseded"]
        )


def test_files_of_equal_content_are_parsed_once_and_the_later_one_wins(yiyu_env):
    header = "survey_no,community_code,survey_date,passed\n"
    body = header + "".join(f"Q{i},C1,2023-05-0{i % 9 + 1},是\n" for i in range(40))
    names = ["2023/05.csv", "2023/05_重发.csv", "2023/06.csv", "2023/06_重发.csv"]
    for name in names:  # two pairs of equal files: the threads parse two at a time
        _write(yiyu_env / "raw/parenting_surveys" / name, body)
    result = _ingest(yiyu_env, "parenting_surveys")
    audit = {r["file"]: r for r in result.audit.iter_rows(named=True)}
    # One cache entry for all four; the first file in order counts as the one parsed.
    assert [audit[n]["parsed_this_run"] for n in sorted(names)] == [True, False, False, False]
    assert len({r["content_sha256"] for r in audit.values()}) == 1
    # The last file in order wins every survey; the others' rows are superseded.
    assert [audit[n]["rows_loaded"] for n in sorted(names)] == [0, 0, 0, 40]
    assert [audit[n]["rows_superseded"] for n in sorted(names)] == [40, 40, 40, 0]
    assert set(result.table["_file"]) == {sorted(names)[-1]}
    entries = yiyu_env / "warehouse" / "cache" / "parenting_surveys"
    version = cache.parser_version(SECRET.encode())
    assert [p.name.endswith(version) for p in entries.iterdir()] == [True]


def test_mothers_id_and_bad_check_character_are_dropped_with_warnings(yiyu_env):
    own = _valid_id("330206", "20230105", "002")  # 17th digit 2: a girl
    mother = _valid_id("330206", "19950310", "024")
    bad_check = own[:-1] + next(c for c in "0123456789X" if c != own[-1])
    legacy_body = "330206950310024"  # 15 digits, born 1995-03-10
    text = (
        "出生医学证明编号,身份证号,姓名,性别,出生日期\n"
        f"N1,{own.lower()},甲,女,2023-01-05\n"
        f"N2,{mother},乙,女,2023-01-05\n"
        f"N3,{bad_check},丙,女,2023-01-05\n"
        f"N4,{own},丁,男,2023-01-05\n"
        f"N5,{legacy_body},戊,女,1995-03-10\n"
        "N6,无,己,女,2023-01-05\n"
    )
    _write(yiyu_env / "raw/births/b.csv", text)
    result = _ingest(yiyu_env, "births")
    ids = dict(result.table.select("_row", "id_key").rows())
    legacy18 = "33020619950310024" + ric.calc_check_digit("33020619950310024" + "0")
    assert ids == {
        2: _expected_key("id", own),
        3: None,
        4: None,
        5: _expected_key("id", own),
        6: _expected_key("id", legacy18),
        7: None,
    }
    warnings = result.warnings.sort("row_number").select("row_number", "warning_code").rows()
    assert warnings == [
        (3, "id_birth_date_mismatch"),
        (4, "invalid_id_number"),
        (5, "id_sex_mismatch"),
        (7, "invalid_id_number"),
    ]


def test_staff_15_and_18_digit_numbers_are_one_person(yiyu_env):
    legacy = "330206850101123"
    full = "33020619850101123" + ric.calc_check_digit("33020619850101123" + "0")
    text = (
        "身份证号,机构代码,岗位,入职日期,资格证书\n"
        f"{legacy},I1,保育员,2022-01-01,保育师\n"
        f"{full},I2,教师,2023-01-01,教师资格证\n"
        "123,I2,教师,2023-01-01,\n"
    )
    _write(yiyu_env / "raw/staff/s.csv", text)
    result = _ingest(yiyu_env, "staff")
    assert result.table["staff_key"].to_list() == [_expected_key("id", full)] * 2
    assert result.table["role"].to_list() == ["caregiver", "teacher"]
    assert result.quarantine.select("row_number", "column_name").rows() == [(4, "id_number")]


def test_no_clear_identifier_is_written(yiyu_env):
    own = _valid_id("330206", "20230105", "002")
    text = f"出生医学证明编号,身份证号,姓名,性别,出生日期\nN777001,{own},欧阳娜娜,女,2023-01-05\n"
    _write(yiyu_env / "raw/births/b.csv", text)
    result = _ingest(yiyu_env, "births")
    con = duckdb.connect()
    con.register("t", result.table.to_arrow())
    dump = str(con.sql("SELECT * FROM t").fetchall())
    for clear in (own, own[:17], "N777001", "777001", "欧阳娜娜"):
        assert clear not in dump


def test_cached_keys_are_stored_plain_and_the_other_columns_encoded(yiyu_env):
    own = _valid_id("330206", "20230105", "002")
    rows = "".join(f"N77700{i},{own},欧阳娜娜,女,2023-01-05\n" for i in range(5))
    _write(yiyu_env / "raw/births/b.csv", "出生医学证明编号,身份证号,姓名,性别,出生日期\n" + rows)
    result = _ingest(yiyu_env, "births")
    assert result.table.height == 5
    (valid,) = (yiyu_env / "warehouse" / "cache" / "births").glob("*/valid.parquet")
    chunks = pq.ParquetFile(valid).metadata.row_group(0)
    stored = {
        chunks.column(i).path_in_schema: (chunks.column(i).compression, chunks.column(i).encodings)
        for i in range(chunks.num_columns)
    }
    assert {c for c in stored if c.endswith("_key")} == {
        "record_key",
        "id_key",
        "birth_cert_key",
        "triple_key",
    }
    for column, (codec, encodings) in stored.items():
        if column.endswith("_key"):
            assert codec == "UNCOMPRESSED" and "RLE_DICTIONARY" not in encodings, column
        else:
            assert codec == "SNAPPY" and "RLE_DICTIONARY" in encodings, column
