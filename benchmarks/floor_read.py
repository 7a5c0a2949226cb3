"""The engine floor's reading: every file of every source read, its headers matched, values
normalised, identifiers replaced by their keyed hash (HMAC-SHA-256, as the contract demands)
and the columns the figures need typed; the last row per natural key kept.
"""

from __future__ import annotations

import io
import re
import unicodedata
from pathlib import Path

import polars as pl
import polars_hash  # noqa: F401  (registers the `chash` namespace)

from pipelines.identity.resolve import ATTRIBUTE_PRIORITY
from pipelines.ingest.sources import CLOSE_REASONS, SOURCES, Source
from pipelines.ingest.values import normalise_name, parse_code, parse_sex

_UNIT = re.compile(r"\s*[(\[【][^)\]】]*[)\]】]\s*$")
DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y%m%d", "%Y年%m月%d日", "%Y.%m.%d")
TRUE_TEXT = ("是", "y", "1", "true")
SRC = {name: rank for rank, name in enumerate(ATTRIBUTE_PRIORITY, start=1)}


def _header(text: str) -> str:
    return _UNIT.sub("", unicodedata.normalize("NFKC", text).replace("\ufeff", "").strip().lower())


def _renames(source: Source, headers: list[str]) -> dict[str, str]:
    names = {}
    for col in source.columns:
        for spelling in (col.name, *col.aliases):
            names.setdefault(_header(spelling), col.name)
    return {h: names[_header(h)] for h in headers if _header(h) in names}


def read_file(path: Path) -> pl.DataFrame:
    """All columns as text, as the file names them."""
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        return pl.read_parquet(path).with_columns(pl.all().cast(pl.String))
    if suffix == ".xlsx":
        return pl.read_excel(path, engine="calamine", infer_schema_length=0)
    data = path.read_bytes()
    try:  # UTF-8 (BOM or not) is read as is; only other bytes are decoded as GB18030
        return pl.read_csv(io.BytesIO(data), infer_schema=False)
    except pl.exceptions.ComputeError:
        text = data.decode("gb18030").encode("utf-8")
        return pl.read_csv(io.BytesIO(text), infer_schema=False)


def read_source(
    raw_dir: Path, source: Source, shape: list[pl.Expr] | None = None, key: list[str] | None = None
) -> pl.DataFrame:
    """Every file of the source in lexical order, header-matched, values NFKC-normalised, then
    shaped (hashed, typed) file by file, so only the shaped columns of all files are held at
    once; the last row per natural key (`key`, among the shaped columns) is kept."""
    folder = raw_dir / source.name
    files = sorted(
        (p for p in folder.rglob("*") if p.suffix.lower() in (".csv", ".xlsx", ".parquet")),
        key=lambda p: p.relative_to(folder).as_posix(),
    )
    declared = [c.name for c in source.columns]
    frames = []
    for path in files:
        frame = read_file(path)
        renames = _renames(source, frame.columns)
        if not set(source.required) <= set(renames.values()):
            continue  # a file lacking a required column is rejected whole
        frame = frame.select(
            pl.col(h).str.normalize("NFKC").str.strip_chars().alias(n) for h, n in renames.items()
        )
        frame = frame.with_columns(
            pl.lit(None, pl.String).alias(n) for n in declared if n not in frame.columns
        )
        frames.append(frame.lazy().select(shape or declared).collect())
    frame = pl.concat(frames) if frames else pl.DataFrame()
    return frame.unique(key or list(source.key), keep="last", maintain_order=True)


def _hmac(text: pl.Expr, kind: str, key: str) -> pl.Expr:
    return (pl.lit(f"{kind}:") + text).chash.hmac_sha256(key=key).str.slice(0, 32)


def keyed(col: str, kind: str, key: str) -> pl.Expr:
    return _hmac(pl.col(col).str.to_uppercase(), kind, key).alias(f"{kind}_key")


def own_id(key: str) -> pl.Expr:
    """Hash of an ID number that can be the record's own: 18 characters with the record's
    birth date embedded. Placeholders and a mother's ID on a newborn's record would link
    unrelated children (and multiply every join after)."""
    text = pl.col("id_number").str.to_uppercase()
    embedded = text.str.slice(6, 8).str.strptime(pl.Date, "%Y%m%d", strict=False)
    own = text.str.contains(r"^\d{17}[\dX]$") & (embedded == day("birth_date"))
    return _hmac(pl.when(own).then(text), "id", key).alias("id_key")


def day(col: str) -> pl.Expr:
    text = pl.col(col).str.replace(r"[ T]\d{1,2}:\d{2}(:\d{2})?(\.\d+)?$", "")
    return pl.coalesce(text.str.strptime(pl.Date, f, strict=False) for f in DATE_FORMATS).alias(col)


def _flag(col: str) -> pl.Expr:
    return pl.col(col).str.to_lowercase().is_in(TRUE_TEXT).alias(col)


def triple() -> pl.Expr:
    """The demographic triple: normalised name, birth date, sex (null when one is missing)."""
    parts = [normalise_name(pl.col("child_name")), day("birth_date"), parse_sex(pl.col("sex"))]
    return pl.concat_str(parts, separator="|").alias("triple")


def shapes(key: str) -> dict[str, tuple[list[pl.Expr], list[str]]]:
    """Per source: the columns the figures need (identifiers hashed, values typed) and the
    natural key among them."""
    cert, ident, archive = (
        keyed("birth_cert_no", "birth_cert", key),
        own_id(key),
        keyed("archive_no", "archive", key),
    )
    person = [ident, cert, day("birth_date"), triple()]
    return {
        "births": ([*person, pl.col("community_code")], ["birth_cert_key"]),
        "health_archives": (
            [
                *person,
                archive,
                day("archive_date"),
                pl.col("community_code"),
                day("closed_on"),
                parse_code(pl.col("close_reason"), CLOSE_REASONS).alias("close_reason"),
            ],
            ["archive_key"],
        ),
        "health_checks": (
            [*person, keyed("check_no", "check", key), archive, day("check_date")],
            ["check_key"],
        ),
        "enrollments": (
            [*person, keyed("enrollment_no", "enrollment", key), day("enroll_date")],
            ["enrollment_key"],
        ),
        "staff": (
            [keyed("id_number", "staff", key), pl.col("institution_code"), pl.col("hired_on")],
            ["staff_key", "institution_code", "hired_on"],
        ),
        "institutions": (
            [
                pl.col("institution_code", "street_code"),
                pl.col("slots").cast(pl.Int64, strict=False),
                _flag("is_affordable"),
                day("affordable_since"),
                day("filed_on"),
                day("closed_on"),
            ],
            ["institution_code"],
        ),
        "parenting_surveys": (
            [pl.col("survey_no", "community_code"), day("survey_date"), _flag("passed")],
            ["survey_no"],
        ),
        "divisions": ([pl.col("community_code", "street_code")], ["community_code"]),
        "health_facilities": ([pl.col("facility_code")], ["facility_code"]),
    }


def load(raw_dir: Path, key: str) -> dict[str, pl.DataFrame]:
    """Every source read, hashed and typed; only the columns the figures need stay. The
    child-level sources are one frame of records (`src`: the source's rank)."""
    t = {
        name: read_source(raw_dir, SOURCES[name], shape, natural)
        for name, (shape, natural) in shapes(key).items()
    }
    records = pl.concat(
        [t[name].with_columns(src=pl.lit(rank, pl.UInt8)) for name, rank in SRC.items()],
        how="diagonal",
    )
    return dict(
        records=records,
        staff=t["staff"].drop("hired_on"),
        institutions=t["institutions"],
        surveys=t["parenting_surveys"].drop("survey_no"),
        divisions=t["divisions"],
    )
