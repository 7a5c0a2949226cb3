"""A property of the readers: random mutations of the shipped sample's real files (truncation,
line endings, inserted separators and quotes, a removed header, another encoding, shifted
columns) never end in an unhandled exception; each file is loaded, quarantined or rejected
with a reason; no CSV row is loaded whose cells do not line up with its header (Python's csv
module is the oracle); `rows_read = rows_loaded + rows_quarantined + rows_superseded` holds
for every file; and no value of 6 or more characters from an identifier, name or phone column
is written anywhere in the warehouse folder or said in a progress message.

Derandomised, with a bounded number of examples, so it runs the same in about half a minute.
"""

from __future__ import annotations

import csv
import io
import tempfile
from datetime import date
from pathlib import Path

import duckdb
import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipelines.config import REPO_ROOT
from pipelines.ingest import parse, readers
from pipelines.ingest.ingest import ingest_source
from pipelines.ingest.sources import SOURCES

SAMPLE = REPO_ROOT / "raw"
FILES = sorted(
    p
    for p in SAMPLE.rglob("*")
    if p.suffix.lower() in readers.FORMATS and p.relative_to(SAMPLE).parts[0] in SOURCES
)
KEY = b"property-test-key-0123456789abcdefghij"
LINES = 40  # of a CSV file kept before mutating: enough rows, and fast
PERSONAL_KINDS = {"identifier", "id_number", "name"}
PERSONAL_HEADERS = ("电话", "手机", "姓名")  # unknown columns holding phones and names


def _personal_columns(source: str, header: list[str]) -> list[int]:
    found, _unknown = parse.match_headers(SOURCES[source], header)
    kinds = {h: SOURCES[source].column(name).kind for name, h in found.items()}
    return [
        i
        for i, h in enumerate(header)
        if kinds.get(h) in PERSONAL_KINDS
        or (h not in kinds and any(p in h for p in PERSONAL_HEADERS))
    ]


def _original(path: Path) -> bytes:
    data = path.read_bytes()
    if path.suffix.lower() != ".csv":
        return data
    return b"".join(data.splitlines(keepends=True)[:LINES])


def _values(path: Path, data: bytes) -> tuple[set[str], set[str]]:
    """The file's personal values (6 characters or more) and its other cells."""
    frame = readers.read_raw(path, data).frame.drop("_row").cast(pl.String)
    personal_at = set(_personal_columns(path.relative_to(SAMPLE).parts[0], frame.columns))
    personal, public = set(), set()
    for i, name in enumerate(frame.columns):
        cells = {v.strip() for v in frame.get_column(name).drop_nulls()}
        (personal if i in personal_at else public).update(cells)
    return {v for v in personal if len(v) >= 6}, public


def _decode(data: bytes) -> str | None:
    """The text as the CSV reader decodes it; None when it cannot."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    for encoding in ("utf-8", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return None


@st.composite
def _mutations(draw, data: bytes) -> bytes:
    def at() -> int:
        return draw(st.integers(0, len(data)))

    for kind in draw(st.lists(st.sampled_from(_TEXT_MUTATIONS), min_size=1, max_size=3)):
        if kind == "truncate":
            data = data[: at()]
        elif kind == "separator":
            i = at()
            data = data[:i] + b"," + data[i:]
        elif kind == "quote":
            i = at()
            data = data[:i] + b'"' + data[i:]
        elif kind == "no header":
            data = data.partition(b"\n")[2]
        elif kind == "line endings":
            lines = data.replace(b"\r\n", b"\n").split(b"\n")
            ends = [draw(st.sampled_from([b"\n", b"\r\n", b"\r"])) for _ in lines[:-1]]
            data = b"".join(line + end for line, end in zip(lines, ends, strict=False))
            data += lines[-1]
        elif kind == "encoding":
            text = _decode(data)
            if text is not None:
                encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "gb18030"]))
                data = text.encode(encoding)
        elif kind == "shift":
            lines = data.split(b"\n")
            chosen = draw(st.sets(st.integers(1, max(len(lines) - 1, 1)), max_size=5))
            left = draw(st.booleans())
            for i in chosen & set(range(1, len(lines))):
                lines[i] = lines[i].partition(b",")[2] if left else b"," + lines[i]
            data = b"\n".join(lines)
        elif kind == "byte":
            i = at()
            data = data[:i] + bytes([draw(st.integers(0, 255))]) + data[i:]
    return data


_TEXT_MUTATIONS = [
    "truncate",
    "separator",
    "quote",
    "no header",
    "line endings",
    "encoding",
    "shift",
    "byte",
]


@st.composite
def _delivery(draw) -> tuple[Path, bytes]:
    path = draw(st.sampled_from(FILES))
    data = _original(path)
    if path.suffix.lower() == ".csv":
        return path, draw(_mutations(data))
    return path, data[: draw(st.integers(0, len(data)))]


def _oracle_records(text: str) -> dict[int, list[str]]:
    """Records of the text as Python's csv module reads them, by number (the first is 1)."""
    return dict(enumerate(csv.reader(io.StringIO(text, newline="")), start=1))


def _aligned(records: dict[int, list[str]], number: int) -> bool:
    header_at = next(n for n, r in records.items() if r)
    header = records[header_at]
    width = len(header)
    while width and not header[width - 1]:
        width -= 1
    row = records[number]
    return len(row) >= width and not any(row[width:])


def _written_texts(warehouse: Path) -> list[str]:
    """Every text the warehouse folder holds: its DuckDB tables' text columns (not the keyed
    hashes), the cache's Parquet cells and its other files."""
    texts: list[str] = []
    for path in warehouse.rglob("*"):
        if not path.is_file() or path.suffix == ".wal":
            continue
        if path.suffix == ".duckdb":
            con = duckdb.connect(str(path), read_only=True)
            columns = con.sql(
                "SELECT schema_name, table_name, column_name FROM duckdb_columns()"
                " WHERE data_type = 'VARCHAR' AND NOT column_name LIKE '%\\_key' ESCAPE '\\'"
                " AND database_name = current_database()"
            ).fetchall()
            for schema, table, column in columns:
                query = f'SELECT DISTINCT "{column}" FROM "{schema}"."{table}"'
                texts += [v for (v,) in con.sql(query).fetchall() if v is not None]
            con.close()
        elif path.suffix == ".parquet":
            frame = pl.read_parquet(path).select(pl.exclude("^.*_key$"))
            texts += [str(v) for row in frame.rows() for v in row if v is not None]
        else:
            texts.append(path.read_bytes().decode("utf-8", errors="replace"))
    return texts


@settings(
    derandomize=True,
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(_delivery())
def test_mutated_sample_files_are_read_safely(delivery):
    path, data = delivery
    source = path.relative_to(SAMPLE).parts[0]
    personal, public = _values(path, _original(path))
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        target = root / "raw" / source / path.name
        target.parent.mkdir(parents=True)
        target.write_bytes(data)
        warehouse = root / "warehouse"
        warehouse.mkdir()
        progress: list[str] = []
        con = duckdb.connect(str(warehouse / "work.duckdb"))
        result = ingest_source(
            SOURCES[source],
            target.parent,
            con,
            cache_dir=warehouse / "cache",
            key=KEY,
            today=date(2024, 6, 30),
            progress=progress.append,
        )
        con.close()
        audit = result.audit.row(0, named=True)
        assert audit["status"] in ("loaded", "rejected")
        assert audit["status"] == "loaded" or audit["reject_reason"]
        counted = audit["rows_loaded"] + audit["rows_quarantined"] + audit["rows_superseded"]
        assert audit["rows_read"] == counted
        (valid,) = (warehouse / "cache" / source).glob("*/valid.parquet")
        loaded = pl.read_parquet(valid)["_row"].to_list()
        text = _decode(data) if path.suffix.lower() == ".csv" else None
        if text is not None and loaded:
            records = _oracle_records(text)
            assert all(_aligned(records, n) for n in loaded), "a row loaded out of line"
        if text is None and path.suffix.lower() == ".csv":
            assert audit["status"] == "rejected"
        cells = _oracle_cells(text)
        pieces = {c for c in cells if len(c) >= 6 and any(c in v for v in personal)}
        pieces = {p for p in pieces if not any(p in v for v in public)}
        forbidden = personal | pieces
        written = [*_written_texts(warehouse), *progress]
        echoed = {v for v in forbidden for t in written if v in t}
        assert not echoed, f"personal values written: {len(echoed)}"


def _oracle_cells(text: str | None) -> set[str]:
    if text is None:
        return set()
    return {c.strip() for row in csv.reader(io.StringIO(text, newline="")) for c in row}
