"""The synthetic raw delivery (`yiyu sample`), checked by reading its files back with a
small independent reader (csv/openpyxl/pyarrow, python-stdnum), not with the generator
or the ingestion code."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import unicodedata
from datetime import date, datetime
from pathlib import Path

import openpyxl
import pyarrow.parquet as pq
import pytest
from stdnum.cn import ric

from pipelines.ingest.sources import RANGES, SOURCES
from pipelines.sample import write_sample
from pipelines.sample.generate import CHUNK

N, SEED = 400, 5
TODAY = date(2026, 11, 29)
CHILD_SOURCES = ("births", "health_archives", "health_checks", "enrollments")
DATE_FORMS = (
    r"(\d{4})-(\d{1,2})-(\d{1,2})",
    r"(\d{4})/(\d{1,2})/(\d{1,2})",
    r"(\d{4})(\d{2})(\d{2})",
    r"(\d{4})年(\d{1,2})月(\d{1,2})日",
    r"(\d{4})\.(\d{1,2})\.(\d{1,2})",
)


@pytest.fixture(scope="module", params=[CHUNK, 150], ids=["one_chunk", "three_chunks"])
def chunk_size(request) -> int:
    """Big runs append chunk after chunk to the same files: check that path too."""
    return request.param


@pytest.fixture(scope="module")
def sample(tmp_path_factory, chunk_size) -> Path:
    out = tmp_path_factory.mktemp("sample")
    write_sample(children=N, seed=SEED, out=out, chunk_size=chunk_size)
    return out


@pytest.fixture(scope="module")
def manifest(sample) -> dict:
    return json.loads((sample / "MANIFEST.json").read_text(encoding="utf-8"))


# -- an independent reader -------------------------------------------------------------


def norm(value) -> str:
    return unicodedata.normalize("NFKC", str(value)).strip() if value is not None else ""


def header_key(header: str) -> str:
    return re.sub(r"\(.*\)$", "", norm(header)).strip().casefold()


def column_of(source: str, header: str) -> str | None:
    for col in SOURCES[source].columns:
        if header_key(header) in {col.name.casefold(), *(a.casefold() for a in col.aliases)}:
            return col.name
    return None


def decode(raw: bytes) -> tuple[str, str]:
    if raw.startswith(b"\xef\xbb\xbf"):
        return raw[3:].decode("utf-8"), "utf-8-sig"
    try:
        return raw.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        return raw.decode("gb18030"), "gb18030"


def read_rows(path: Path) -> tuple[list[str], list[list]]:
    if path.suffix == ".csv":
        text, _ = decode(path.read_bytes())
        rows = list(csv.reader(io.StringIO(text, newline="")))
        return rows[0], rows[1:]
    if path.suffix == ".xlsx":
        sheet = openpyxl.load_workbook(path, read_only=True).worksheets[0]
        rows = [list(r) for r in sheet.iter_rows(values_only=True)]
        return [str(h) for h in rows[0]], rows[1:]
    table = pq.read_table(path)
    return table.column_names, [list(r.values()) for r in table.to_pylist()]


def records(sample: Path, source: str):
    """(path under the source folder, mapped header names, rows as dicts), lexical order."""
    root = sample / source
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        headers, rows = read_rows(path)
        names = [column_of(source, h) for h in headers]
        yield (
            path.relative_to(root).as_posix(),
            names,
            [{n: v for n, v in zip(names, row, strict=True) if n} for row in rows],
        )


def as_date(value) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = norm(value)
    for form in DATE_FORMS:
        m = re.fullmatch(form, text)
        if m:
            try:
                return date(*map(int, m.groups()))
            except ValueError:
                return None
    return None


def id18(value) -> str:
    """An ID as text, 15-digit numbers widened to 18 with stdnum's check digit."""
    text = norm(value).upper()
    if re.fullmatch(r"\d{15}", text):
        body = text[:6] + "19" + text[6:]
        return body + ric.calc_check_digit(body + "?")
    return text


def file_entry(manifest: dict, source: str, path: str) -> dict:
    return manifest["sources"][source]["files"][path]


# -- tests ---------------------------------------------------------------------------


def tree_digest(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_same_seed_gives_identical_bytes_and_another_seed_differs(sample, chunk_size, tmp_path):
    write_sample(children=N, seed=SEED, out=tmp_path / "again", chunk_size=chunk_size)
    write_sample(children=N, seed=SEED + 1, out=tmp_path / "other", chunk_size=chunk_size)
    first = tree_digest(sample)
    assert tree_digest(tmp_path / "again") == first
    other = tree_digest(tmp_path / "other")
    assert set(other) == set(first)
    changed = [p for p in first if other[p] != first[p]]
    assert "MANIFEST.json" in changed
    assert "births/2021/births_2021Q1.csv" in changed


def test_the_committed_sample_is_this_generator_s_output(tmp_path):
    """raw/ is reproducible: regenerating it gives the same bytes (README aside)."""
    raw = Path(__file__).resolve().parents[1] / "raw"
    write_sample(children=3000, seed=20231231, out=tmp_path)
    committed = {p: d for p, d in tree_digest(raw).items() if p != "README.md"}
    assert tree_digest(tmp_path) == committed


def test_refuses_to_overwrite_a_landing_folder_it_did_not_write(tmp_path):
    real = tmp_path / "births" / "2023" / "from_the_hospital.csv"
    real.parent.mkdir(parents=True)
    real.write_text("出生医学证明编号\n", encoding="utf-8")
    with pytest.raises(FileExistsError):
        write_sample(children=5, seed=1, out=tmp_path)
    assert real.exists()


def test_every_source_has_several_files_in_every_format(sample, manifest):
    formats = set()
    for source in SOURCES:
        files = [p for p in (sample / source).rglob("*") if p.is_file()]
        assert len(files) >= 2, source
        assert {p.relative_to(sample / source).as_posix() for p in files} == set(
            manifest["sources"][source]["files"]
        )
        formats |= {p.suffix for p in files}
    assert formats == {".csv", ".xlsx", ".parquet"}


def test_manifest_rows_equal_the_rows_in_each_file(sample, manifest):
    for source in SOURCES:
        for path, _names, rows in records(sample, source):
            entry = file_entry(manifest, source, path)
            assert entry["rows"] == len(rows), (source, path)
            quarantined = sum(entry["quarantined"].values())
            assert entry["loaded"] == len(rows) - quarantined - entry["superseded"]


def test_csv_encodings_include_bom_and_gb18030_with_characters_gbk_lacks(sample):
    encodings, gbk_gaps = set(), set()
    for path in sample.rglob("*.csv"):
        raw = path.read_bytes()
        text, encoding = decode(raw)
        encodings.add(encoding)
        assert "\ufeff" not in text, path
        if encoding == "gb18030":
            with pytest.raises(UnicodeDecodeError):
                raw.decode("utf-8")
            for ch in set(text):
                try:
                    ch.encode("gbk")
                except UnicodeEncodeError:
                    gbk_gaps.add(ch)
    assert encodings == {"utf-8", "utf-8-sig", "gb18030"}
    assert gbk_gaps, "no GB18030 file holds a character outside GBK"


def test_xlsx_dates_are_real_date_cells(sample):
    book = openpyxl.load_workbook(next((sample / "births").rglob("*.xlsx")))
    sheet = book.worksheets[0]
    headers = [c.value for c in sheet[1]]
    col = next(i for i, h in enumerate(headers) if column_of("births", h) == "birth_date")
    cells = [row[col] for row in sheet.iter_rows(min_row=2) if row[col].value is not None]
    assert cells
    assert all(c.is_date and isinstance(c.value, datetime) for c in cells)


def test_every_date_boolean_and_sex_form_appears(sample):
    texts = {"date": set(), "bool": set(), "sex": set()}
    for source in SOURCES:
        kinds = {c.name: c.kind for c in SOURCES[source].columns}
        for _path, _names, rows in records(sample, source):
            for row in rows:
                for name, value in row.items():
                    if kinds[name] in texts and isinstance(value, str) and norm(value):
                        texts[kinds[name]].add(norm(value))
    forms = {next((f for f in DATE_FORMS if re.fullmatch(f, t)), None) for t in texts["date"]}
    assert set(DATE_FORMS) <= forms
    assert {"是", "否", "Y", "N", "1", "0", "true", "false"} <= texts["bool"]
    assert {"男", "女", "1", "2", "M", "F"} <= texts["sex"]


def test_invalid_ids_are_exactly_the_injected_ones_and_the_rest_pass_stdnum(sample, manifest):
    """Every ID cell passes GB 11643 validation (python-stdnum) except the injected invalid
    check characters, all-zero placeholders and Excel-mangled numbers."""
    for source in (*CHILD_SOURCES, "staff"):
        invalid = valid = 0
        for path, _names, rows in records(sample, source):
            if file_entry(manifest, source, path)["rejected"]:
                continue
            for row in rows:
                text = id18(row.get("id_number"))
                if text in ("", "无"):
                    continue
                if ric.is_valid(text):
                    valid += 1
                else:
                    invalid += 1
        warned = manifest["sources"][source]["totals"]["warnings"]
        zeros = sum(
            1
            for _p, _n, rows in records(sample, source)
            for row in rows
            if norm(row.get("id_number")) == "0" * 18
        )
        expected = warned.get("id_invalid_check", 0) + warned.get("id_excel_number", 0) + zeros
        assert invalid == expected, source
        assert valid > 0, source


def test_superseded_counts_match_keys_repeated_in_later_files(sample, manifest):
    """Recount re-deliveries: a row whose natural key appears again in a lexically later
    file (or later in its file) is superseded; rejected files do not take part."""
    for source in (
        "births",
        "health_archives",
        "health_checks",
        "enrollments",
        "institutions",
        "staff",
        "parenting_surveys",
        "divisions",
    ):
        seen: list[tuple[str, tuple]] = []
        for path, _names, rows in records(sample, source):
            if file_entry(manifest, source, path)["rejected"]:
                continue
            seen += [(path, natural_key(source, row)) for row in rows]
        last = {key: i for i, (_path, key) in enumerate(seen) if all(key)}
        superseded: dict[str, int] = {}
        for i, (path, key) in enumerate(seen):
            superseded[path] = superseded.get(path, 0) + (all(key) and last[key] > i)
        for path, count in superseded.items():
            assert file_entry(manifest, source, path)["superseded"] == count, (source, path)
        assert sum(superseded.values()) > 0 or source == "parenting_surveys", source


def natural_key(source: str, row: dict) -> tuple:
    if source == "staff":
        return (
            id18(row.get("id_number")),
            norm(row.get("institution_code")),
            as_date(row.get("hired_on")),
        )
    return tuple(norm(row.get(k)).upper() for k in SOURCES[source].key)


def test_the_rejected_file_lacks_a_required_column_and_is_resent(sample, manifest):
    rejected = [
        (source, path, entry)
        for source, found in manifest["sources"].items()
        for path, entry in found["files"].items()
        if entry["rejected"]
    ]
    assert len(rejected) == 1
    source, path, entry = rejected[0]
    files = {p: (names, rows) for p, names, rows in records(sample, source)}
    names, rows = files[path]
    missing = set(SOURCES[source].required) - set(names)
    assert missing == {entry["missing_column"]}
    assert entry["quarantined"]["missing_required_column"] == len(rows) > 0
    for other, (other_names, _rows) in files.items():
        if other != path:
            assert set(SOURCES[source].required) <= set(other_names), other
    resent_keys = {norm(r["check_no"]) for r in files[path.replace(".csv", "_重发.csv")][1]}
    assert {norm(r["check_no"]) for r in rows} <= resent_keys


BOOL_TEXTS = {"是", "否", "y", "n", "1", "0", "true", "false"}
SEX_TEXTS = {"男", "女", "1", "2", "m", "f"}
IDENTIFIERS = ("archive_no", "birth_cert_no")


def defects(source: str, row: dict) -> set[str]:
    """The quarantine reasons of one row, judged from its cells by the contract's rules."""
    found, spec = set(), SOURCES[source]
    for col in spec.columns:
        if col.name not in row:
            continue
        value, text = row[col.name], norm(row[col.name])
        if not text:
            if col.required:
                found.add("missing_required_value")
            continue
        if not parses(col.kind, value):
            found.add("unparseable_value")
        elif col.codes and text not in {
            c for code, labels in col.codes.items() for c in (code, *labels)
        }:
            found.add("invalid_code")
        elif col.kind == "date" and as_date(value) > TODAY:
            found.add("date_in_future")
        elif col.name in RANGES and not within(RANGES[col.name], as_number(value)):
            found.add("out_of_range")
    birth = as_date(row.get("birth_date"))
    if birth and any(
        (as_date(row.get(c)) or date.max) < birth for c in spec.date_columns_after_birth
    ):
        found.add("date_before_birth")
    if spec.child_level and not found and not linkable(row, birth):
        found.add("unlinkable")
    return found


def parses(kind: str, value) -> bool:
    if kind == "date":
        return as_date(value) is not None
    if kind in ("float", "int"):
        return as_number(value) is not None
    if kind == "bool":
        return isinstance(value, bool) or norm(value).casefold() in BOOL_TEXTS
    if kind == "sex":
        return norm(value).casefold() in SEX_TEXTS
    return True


def within(bounds, value: float) -> bool:
    low, high = bounds
    return low <= value and (high is None or value <= high)


def linkable(row: dict, birth: date | None) -> bool:
    """An identifier (a valid ID of this birth date, a certificate or archive number) or
    a complete triple."""
    text = id18(row.get("id_number"))
    valid_id = ric.is_valid(text) and birth is not None and ric.get_birth_date(text) == birth
    has_identifier = valid_id or any(norm(row.get(k)) for k in IDENTIFIERS)
    return has_identifier or bool(norm(row.get("child_name")) and birth and row.get("sex"))


def test_every_quarantine_reason_recounts_from_the_cells_with_one_defect_per_row(sample, manifest):
    """Judging every row of every loaded file by the contract's rules finds exactly the
    manifest's injected bad rows, and no row with two defects."""
    for source in SOURCES:
        counts = dict.fromkeys(manifest["reason_codes"], 0)
        for path, _names, rows in records(sample, source):
            if file_entry(manifest, source, path)["rejected"]:
                counts["missing_required_column"] += len(rows)
                continue
            for number, row in enumerate(rows, start=2):
                found = defects(source, row)
                assert len(found) <= 1, (source, path, number, found)
                for reason in found:
                    counts[reason] += 1
        assert counts == manifest["sources"][source]["totals"]["quarantined"], source


def as_number(value) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    try:
        return float(norm(value)) if norm(value) else None
    except ValueError:
        return None


def test_reference_and_sex_warnings_recount_from_the_cells(sample, manifest):
    """Loaded rows naming a community or facility the registers lack, or a sex against
    their own valid ID, are exactly the injected warnings."""
    known = {
        "community_code": codes(sample, "divisions", "community_code"),
        "facility_code": codes(sample, "health_facilities", "facility_code"),
        "institution_code": codes(sample, "institutions", "institution_code"),
    }
    warning_of = {
        "community_code": "outside_district",
        "facility_code": "unknown_facility",
        "institution_code": "unknown_institution",
    }
    for source in (*CHILD_SOURCES, "parenting_surveys"):
        counts: dict[str, int] = {}
        for path, _names, rows in records(sample, source):
            if file_entry(manifest, source, path)["rejected"]:
                continue
            for row in rows:
                if defects(source, row):
                    continue
                for column, code in warning_of.items():
                    value = norm(row.get(column))
                    if value and value not in known[column]:
                        code = "unknown_community" if source == "parenting_surveys" else code
                        counts[code] = counts.get(code, 0) + 1
                text = id18(row.get("id_number"))
                if ric.is_valid(text) and ric.get_birth_date(text) == as_date(row["birth_date"]):
                    male = int(text[16]) % 2 == 1
                    if (norm(row["sex"]).casefold() in ("男", "1", "m")) != male:
                        counts["sex_mismatch"] = counts.get("sex_mismatch", 0) + 1
        warned = manifest["sources"][source]["totals"]["warnings"]
        expected = {
            k: v
            for k, v in warned.items()
            if k in (*warning_of.values(), "unknown_community", "sex_mismatch")
        }
        assert counts == expected, source


def codes(sample: Path, source: str, column: str) -> set[str]:
    return {norm(r[column]) for _p, _n, rows in records(sample, source) for r in rows}


def test_every_reason_code_is_injected(manifest):
    reasons = {
        reason
        for found in manifest["sources"].values()
        for reason, n in found["totals"]["quarantined"].items()
        if n
    }
    assert reasons == set(manifest["reason_codes"])


def test_guardian_names_and_phones_ride_along_as_unknown_columns(sample):
    headers = set()
    for source in CHILD_SOURCES:
        for path in (sample / source).rglob("*"):
            if path.is_file():
                headers |= {norm(h) for h in read_rows(path)[0] if not column_of(source, h)}
    assert {"母亲姓名", "联系电话"} <= headers
