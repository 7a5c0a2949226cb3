"""The content-hash cache of parsed files: one entry per file content and parser version,
`<cache_dir>/<source>/<content sha256>-<parser version>/`, holding the valid rows
(`valid.parquet`), the quarantined rows, the warnings and `meta.json`; for a child-level
source with a worklist public key, its handles encrypted to that key (handles.py).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

from pipelines.ingest import parse, readers, reasons
from pipelines.ingest.handles import HANDLE_KINDS, HandleSealer, key_fingerprint
from pipelines.ingest.secret import secret_fingerprint
from pipelines.ingest.sources import Source
from pipelines.operations.failpoints import failpoint

# The modules whose code decides what an entry holds (the readers sub-package: all of it).
_CODE_FILES = (
    "cache.py",
    "parse.py",
    "reasons.py",
    "values.py",
    "idcard.py",
    "sources.py",
    "pseudonymise.py",
    "handles.py",
)

# Rows parsed at once: a multi-million-row file (a province's history export) is parsed in
# parts so that memory stays bounded.
PARSE_CHUNK_ROWS = 500_000


def parser_version(key: bytes, handles_fingerprint: str = "") -> str:
    """Changes whenever the parsing code, the key or the worklist public key the handles are
    encrypted to (its fingerprint) changes, so stale cache entries are unused."""
    digest = hashlib.sha256(secret_fingerprint(key).encode())
    digest.update(handles_fingerprint.encode())
    package = Path(__file__).parent
    files = [package / name for name in _CODE_FILES]
    files += sorted((package / "readers").glob("*.py"))
    for path in files:
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


@dataclass
class FileOutcome:
    """One file's parse, without its valid rows: those stay in the cache's Parquet file
    (`valid_path`), so a source's rows are never all in Python memory at once."""

    file: str
    content_sha256: str
    file_format: str
    encoding: str | None
    rows_read: int
    valid_path: Path
    quarantine: pl.DataFrame
    warnings: pl.DataFrame
    unknown_columns: list[str]
    reject_reason: str | None
    first_ingested_at: datetime
    parsed_this_run: bool


def _valid_writer(path: Path, schema: pa.Schema) -> pq.ParquetWriter:
    """The writer of a cache entry's valid rows. Keyed hashes (`*_key`: 32 random hex
    characters) neither dictionary-encode nor compress, so trying only costs: they are
    written plain, without statistics (the min and max of random values prune nothing);
    the other columns keep dictionary, snappy and statistics."""
    keys = [f.name for f in schema if f.name.endswith("_key")]
    others = [f.name for f in schema if f.name not in keys]
    codecs = dict.fromkeys(keys, "none") | dict.fromkeys(others, "snappy")
    return pq.ParquetWriter(
        path, schema, use_dictionary=others, compression=codecs, write_statistics=others
    )


def _parse_into(
    folder: Path,
    source: Source,
    path: Path,
    data: bytes,
    key: bytes,
    sealer: HandleSealer | None = None,
) -> None:
    """Parse one file into its cache entry, PARSE_CHUNK_ROWS rows at a time so the parse's
    working memory does not grow with the file; with `sealer`, each part's handles encrypted.
    Written to a temporary folder and renamed, so a killed run never leaves half an entry."""
    tmp = folder.with_name(f"{folder.name}.tmp{os.getpid()}-{threading.get_ident()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    empty_valid = pl.DataFrame(schema=parse.output_schema(source))
    meta = {"file_format": readers.FORMATS[path.suffix.lower()], "encoding": None}
    quarantine = [pl.DataFrame(schema=reasons.QUARANTINE_SCHEMA)]
    warnings = [pl.DataFrame(schema=reasons.WARNING_SCHEMA)]
    rows_read, unknown, reject = 0, [], None
    with _valid_writer(tmp / "valid.parquet", empty_valid.to_arrow().schema) as valid_out:
        try:
            raw = readers.read_raw(path, data)
        except readers.UnreadableFile as exc:
            reject = f"unreadable file: {exc}"
            unread = readers.unread_rows(path, data)
            quarantine.append(reasons.unread_rows(unread, reject))
            rows_read = unread.len()
        else:
            meta.update(file_format=raw.file_format, encoding=raw.encoding)
            quarantine.append(reasons.malformed_rows(raw.malformed))
            rows_read = raw.malformed.height
            for start in range(0, max(raw.frame.height, 1), PARSE_CHUNK_ROWS):
                part = parse.parse_frame(source, raw.frame.slice(start, PARSE_CHUNK_ROWS), key)
                valid_out.write_table(pl.concat([empty_valid, part.valid]).to_arrow())
                if sealer is not None and part.handles is not None:
                    sealer.add(part.handles)
                quarantine.append(part.quarantine)
                warnings.append(part.warnings)
                rows_read += part.rows_read
                unknown, reject = part.unknown_columns, part.reject_reason
    pl.concat(quarantine).write_parquet(tmp / "quarantine.parquet")
    pl.concat(warnings).write_parquet(tmp / "warnings.parquet")
    meta |= {
        "rows_read": rows_read,
        "unknown_columns": unknown,
        "reject_reason": reject,
        "first_ingested_at": datetime.now(UTC).replace(tzinfo=None).isoformat(),
    }
    if sealer is not None:
        sealer.write(tmp)
    (tmp / "meta.json").write_text(json.dumps(meta, ensure_ascii=False))
    shutil.rmtree(folder, ignore_errors=True)
    tmp.rename(folder)


class CacheFiller:
    """Parses the files of one source into the cache, from several threads at once: polars,
    pyarrow and calamine work outside the GIL, so a second file parses while the first one's
    Python runs. Files of equal content share one entry, parsed once under its own lock.
    With `public_key`, a child-level source's handles are encrypted to it in each entry."""

    def __init__(
        self, source: Source, cache_dir: Path, key: bytes, public_key: RSAPublicKey | None = None
    ):
        self.source, self.key = source, key
        self.folder = cache_dir / source.name
        self.public_key = public_key if source.name in HANDLE_KINDS else None
        sealed_to = key_fingerprint(self.public_key) if self.public_key is not None else ""
        self.version = parser_version(key, sealed_to)
        self.created: set[str] = set()  # entries parsed this run
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def entry(self, content_sha: str) -> Path:
        return self.folder / f"{content_sha}-{self.version}"

    def fill(self, path: Path) -> str:
        """The content hash of `path`, its cache entry made when missing."""
        data = path.read_bytes()
        content_sha = hashlib.sha256(data).hexdigest()
        with self._guard:
            lock = self._locks.setdefault(content_sha, threading.Lock())
        with lock:
            folder = self.entry(content_sha)
            if not (folder / "meta.json").exists():
                sealer = None if self.public_key is None else HandleSealer(self.public_key)
                _parse_into(folder, self.source, path, data, self.key, sealer)
                failpoint("parsing")
                self.created.add(content_sha)
        return content_sha

    def outcome(self, rel: str, content_sha: str, parsed_this_run: bool) -> FileOutcome:
        folder = self.entry(content_sha)
        meta = json.loads((folder / "meta.json").read_text())
        return FileOutcome(
            file=rel,
            content_sha256=content_sha,
            file_format=meta["file_format"],
            encoding=meta["encoding"],
            rows_read=meta["rows_read"],
            valid_path=folder / "valid.parquet",
            quarantine=pl.read_parquet(folder / "quarantine.parquet"),
            warnings=pl.read_parquet(folder / "warnings.parquet"),
            unknown_columns=meta["unknown_columns"],
            reject_reason=meta["reject_reason"],
            first_ingested_at=datetime.fromisoformat(meta["first_ingested_at"]),
            parsed_this_run=parsed_this_run,
        )

    def prune(self, used: set[str]) -> None:
        """Entries of files no longer delivered (or of older code) are never read again: the
        view `ingested.<source>` reads the entries named in `used`."""
        if self.folder.is_dir():
            for entry in self.folder.iterdir():
                if entry.name not in used:
                    shutil.rmtree(entry, ignore_errors=True)
