"""A full refresh of the shipped sample writes no name, phone number or clear identifier anywhere:
not in any string column of any table, not in any file it wrote (substrings count)."""

from __future__ import annotations

import csv
import io
import re
import subprocess
import sys
import unicodedata
from pathlib import Path

import duckdb
import openpyxl
import pyarrow.parquet as pq
import pytest

from pipelines.config import REPO_ROOT
from pipelines.ingest.sources import ALIASES, SOURCES

PERSONAL = {"child_name", "id_number", "birth_cert_no", "archive_no", "check_no", "enrollment_no"}
PERSON_SOURCES = {name for name, s in SOURCES.items() if s.person_level}
_HAS_CJK = re.compile(r"[\u3400-\u9fff]")


def _norm(text: str) -> str:
    return unicodedata.normalize("NFKC", text).strip().lower()


def _label_to_column() -> dict[str, str]:
    labels = {}
    for name in PERSONAL:
        for label in (name, *ALIASES.get(name, ())):
            labels[_norm(label)] = name
    return labels


def _header(text: str) -> str:
    """A header without its unit in brackets."""
    return re.sub(r"\s*\(.*\)$", "", _norm(text))


def _known_column(header: str, source: str) -> bool:
    key = _header(header)
    for col in SOURCES[source].columns:
        if key in {_norm(x) for x in (col.name, *ALIASES.get(col.name, ()))}:
            return True
    return False


def _rows(path: Path) -> list[list[str]]:
    """An independent reader (stdlib csv, openpyxl, pyarrow): header first."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        data = path.read_bytes()
        for encoding in ("utf-8-sig", "gb18030"):
            try:
                text = data.decode(encoding)
                break
            except UnicodeDecodeError:
                continue
        return [row for row in csv.reader(io.StringIO(text))]
    if suffix == ".xlsx":
        book = openpyxl.load_workbook(path, read_only=True)
        rows = [["" if v is None else str(v) for v in r] for r in book.worksheets[0].values]
        book.close()
        return rows
    if suffix == ".parquet":
        table = pq.read_table(path)
        columns = [[("" if v is None else str(v)) for v in c.to_pylist()] for c in table.columns]
        return [table.column_names, *map(list, zip(*columns, strict=True))]
    return []


def personal_values(raw: Path) -> set[str]:
    """Names, phones and identifiers of the raw files (as delivered and normalised)."""
    labels = _label_to_column()
    found: set[str] = set()
    for source in PERSON_SOURCES:
        for path in (raw / source).rglob("*"):
            rows = _rows(path) if path.is_file() else []
            if not rows:
                continue
            header = rows[0]
            wanted = [
                i
                for i, h in enumerate(header)
                if _header(h) in labels or not _known_column(h, source)
            ]
            for row in rows[1:]:
                for i in wanted:
                    value = _norm(row[i]) if i < len(row) else ""
                    value = value.replace(" ", "")
                    if _HAS_CJK.search(value) and len(value) >= 2:
                        found.add(value)  # a name
                    elif len(set(value)) == 1:
                        continue  # a placeholder such as 000000000000000000 identifies nobody
                    elif len(re.sub(r"\W", "", value)) >= 6 and not re.fullmatch(
                        r"\d{4}-\d{2}-\d{2}( 00:00:00)?|[\d.]+e\+?\d+", value
                    ):
                        found.add(value.upper())
                        if re.fullmatch(r"\d{17}[\dX]", value.upper()):
                            found.add(value.upper()[:17])  # an ID with its check char cut off
    return found


def public_strings(raw: Path) -> set[str]:
    """Pieces of the non-personal text of the raw files (streets, institutions): not leaks."""
    out = set()
    for source in set(SOURCES) - PERSON_SOURCES:
        for path in (raw / source).rglob("*"):
            for row in _rows(path) if path.is_file() else []:
                for value in row:
                    text = _norm(value)
                    out.update(text[i : i + n] for n in (2, 3, 4) for i in range(len(text) - n + 1))
    return out


def _strings_of_database(path: Path) -> list[str]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        columns = con.execute(
            "SELECT schema_name, table_name, column_name FROM duckdb_columns() "
            "WHERE data_type = 'VARCHAR' AND database_name = current_database()"
        ).fetchall()
        values: list[str] = []
        for schema, table, column in columns:
            values += [
                r[0]
                for r in con.execute(
                    f'SELECT DISTINCT "{column}" FROM "{schema}"."{table}" '
                    f'WHERE "{column}" IS NOT NULL'
                ).fetchall()
            ]
        return values
    finally:
        con.close()


def _strings_of_file(path: Path) -> list[str]:
    if path.suffix == ".parquet":
        table = pq.read_table(path)
        return [str(v) for c in table.columns for v in c.to_pylist() if v is not None]
    return [path.read_bytes().decode("utf-8", errors="ignore")]


_TOKEN = re.compile(r"[0-9A-Z]+|[\u3400-\u9fff·]+")


def _leaks(strings: list[str], secrets: set[str], public: set[str]) -> set[str]:
    """Secrets found inside any run of letters/digits or of Chinese characters."""
    lengths = sorted({len(s) for s in secrets})
    tokens = {t for text in strings for t in _TOKEN.findall(_norm(text).upper())}
    hits = set()
    for token in tokens:
        for size in lengths:
            if size > len(token):
                break
            for start in range(len(token) - size + 1):
                piece = token[start : start + size]
                if piece in secrets and piece.lower() not in public:
                    hits.add(piece)
    return hits


@pytest.fixture(scope="module")
def refreshed(sample_refresh) -> Path:
    return sample_refresh.root


def test_the_scan_finds_what_it_looks_for():
    raw = REPO_ROOT / "raw"
    secrets = personal_values(raw)
    assert len(secrets) > 1000  # the sample has thousands of children
    assert any(_HAS_CJK.search(s) for s in secrets)
    assert any(re.fullmatch(r"1\d{10}", s) for s in secrets)  # guardians' phone numbers
    sample = sorted(s for s in secrets if re.fullmatch(r"\d{17}[\dX]", s))[0]
    assert _leaks([f"CODE-{sample}-1"], secrets, set()) >= {sample}


@pytest.mark.slow  # a subprocess refresh of the shipped sample
def test_refresh_writes_no_personal_data(refreshed):
    raw = REPO_ROOT / "raw"
    secrets = personal_values(raw)
    public = public_strings(raw)
    generated_secret = (refreshed / "secret").read_text().strip()
    written = [p for p in refreshed.rglob("*") if p.is_file() and p.name != "secret"]
    written += [p for p in (REPO_ROOT / "dbt_project" / "target").rglob("*") if p.is_file()]
    assert any(p.suffix == ".duckdb" for p in written)
    assert any(p.name == "handles.bin" for p in written)  # the encrypted handles are scanned too
    for path in written:
        if path.suffix in {".wal", ".tmp"}:
            continue
        try:
            read = _strings_of_database if path.suffix == ".duckdb" else _strings_of_file
            strings = read(path)
        except FileNotFoundError:  # dbt_project/target: another process's build removed it
            continue
        assert not _leaks(strings, secrets, public), f"personal data in {path}"
        assert all(generated_secret not in s for s in strings), f"the link secret in {path}"


def _strings_of_workbook(path: Path) -> list[str]:
    book = openpyxl.load_workbook(path, read_only=True)
    try:
        return [str(v) for sheet in book.worksheets for row in sheet.values for v in row if v]
    finally:
        book.close()


@pytest.mark.slow  # a subprocess refresh of the shipped sample, then `yiyu worklists`
def test_handles_are_in_the_worklist_files_and_nowhere_else(sample_refresh, tmp_path):
    raw = REPO_ROOT / "raw"
    secrets = personal_values(raw)
    public = public_strings(raw)
    out = tmp_path / "worklists"
    yiyu = str(Path(sys.executable).with_name("yiyu"))
    done = subprocess.run(
        [yiyu, "worklists", "--out", str(out)], env=sample_refresh.env, capture_output=True
    )
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    assert not _leaks([done.stdout.decode(), done.stderr.decode()], secrets, public)

    found = set()
    for path in out.glob("*.xlsx"):
        found |= _leaks(_strings_of_workbook(path), secrets, public)
    assert found  # the handles a recipient looks children up by
    # Identifiers only: never a name (Chinese characters) or a guardian's phone number.
    assert not {s for s in found if _HAS_CJK.search(s) or re.fullmatch(r"1\d{10}", s)}
    # Nowhere else: the warehouse folder (the export log included) holds none of them.
    for path in sample_refresh.root.rglob("*"):
        if not path.is_file() or path.suffix in {".wal", ".tmp"} or path.name == "secret":
            continue
        read = _strings_of_database if path.suffix == ".duckdb" else _strings_of_file
        assert not _leaks(read(path), secrets, public), f"personal data in {path}"
