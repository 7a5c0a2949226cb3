"""The engine floor: the least work any correct refresh must do on the same raw files.

Plain polars, no framework, no cache, no audit: read the bytes of every file (decoding
GB18030 where needed), match the headers, keep the last row per natural key, replace every
identifier by its keyed hash (HMAC-SHA-256, as the contract demands), link archives and
checks to births by those hashes, and aggregate the marts' main figures per street and
quarter: under-3 children, those with an archive by D, those with a check in the year to D,
operating and affordable slots, and passed surveys in the year to D.

It deliberately leaves out what a floor need not prove it can do (quarantine reasons, ID
check characters, demographic linkage, the audit, publishing): the benchmark reports how far
the real refresh is above this bound, not that the two are the same program.

Run alone: `python -m benchmarks.floor RAW_DIR` (key from YIYU_LINK_SECRET); prints JSON.
"""

from __future__ import annotations

import io
import json
import os
import re
import sys
import time
import unicodedata
from datetime import date, timedelta
from pathlib import Path

import polars as pl
import polars_hash  # noqa: F401  (registers the `chash` namespace)

from pipelines.lib.sources import SOURCES, Source

PERIOD_START = date(2022, 10, 1)
_UNIT = re.compile(r"\s*[(\[【][^)\]】]*[)\]】]\s*$")
DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y%m%d", "%Y年%m月%d日", "%Y.%m.%d")
TRUE_TEXT = ("是", "y", "1", "true")
RESULT_MARK = "floor result: "


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
        frames.append(frame.select(shape or declared))
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


def shapes(key: str) -> dict[str, tuple[list[pl.Expr], list[str]]]:
    """Per source: the columns the figures need (identifiers hashed, values typed) and the
    natural key among them."""
    cert, ident = keyed("birth_cert_no", "birth_cert", key), own_id(key)
    return {
        "births": ([cert, ident, day("birth_date"), pl.col("community_code")], ["birth_cert_key"]),
        "health_archives": (
            [keyed("archive_no", "archive", key), cert, ident, day("archive_date")],
            ["archive_key"],
        ),
        "health_checks": (
            [
                keyed("check_no", "check", key),
                keyed("archive_no", "archive", key),
                ident,
                cert,
                day("check_date"),
            ],
            ["check_key"],
        ),
        "enrollments": (
            [
                keyed("enrollment_no", "enrollment", key),
                ident,
                cert,
                day("enroll_date"),
                pl.col("institution_code"),
            ],
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
    """Every source read, hashed and typed; only the columns the figures need stay."""
    t = {
        name: read_source(raw_dir, SOURCES[name], shape, natural)
        for name, (shape, natural) in shapes(key).items()
    }
    return dict(
        births=t["births"],
        archives=t["health_archives"],
        checks=t["health_checks"],
        enrollments=t["enrollments"],
        staff=t["staff"].drop("hired_on"),
        institutions=t["institutions"],
        surveys=t["parenting_surveys"].drop("survey_no"),
        divisions=t["divisions"],
    )


def periods(as_of: date) -> pl.DataFrame:
    """Quarter ends from PERIOD_START to the quarter of `as_of`; the last one is `as_of`."""
    starts = pl.date_range(PERIOD_START, as_of, "3mo", eager=True)
    ends = starts.dt.offset_by("2mo").dt.month_end()
    ends = ends.filter(ends < as_of).append(pl.Series([as_of]))
    return pl.DataFrame({"d": ends}).with_columns(
        (
            pl.col("d").dt.year().cast(pl.String) + "Q" + pl.col("d").dt.quarter().cast(pl.String)
        ).alias("period")
    )


def _age_months(birth: pl.Expr, d: pl.Expr) -> pl.Expr:
    months = (d.dt.year() - birth.dt.year()) * 12 + d.dt.month() - birth.dt.month()
    return months - (d.dt.day() < birth.dt.day()).cast(pl.Int32)


def child_figures(t: dict[str, pl.DataFrame], quarters: pl.DataFrame) -> pl.DataFrame:
    """Per street and period: under-3 children, with an archive by D, with a check in the year."""
    # Lazy, so that each join carries only the columns used after it.
    births = t["births"].lazy().join(t["divisions"].lazy(), on="community_code", how="left")
    # A child's archives: by birth certificate, else by ID number.
    by_cert = births.join(t["archives"].lazy().drop("id_key"), on="birth_cert_key")
    by_id = births.filter(pl.col("id_key").is_not_null()).join(
        t["archives"].lazy().drop("birth_cert_key"), on="id_key"
    )
    link = ["birth_cert_key", "archive_key", "archive_date"]
    archives = pl.concat([by_cert.select(link), by_id.select(link)]).unique(link[:2]).collect()
    first_archive = archives.group_by("birth_cert_key").agg(pl.col("archive_date").min())
    # A check belongs to the child of its archive, else of its own birth certificate.
    checks = (
        t["checks"]
        .lazy()
        .join(archives.lazy().select("archive_key", "birth_cert_key"), on="archive_key", how="left")
        .select(
            pl.coalesce("birth_cert_key_right", "birth_cert_key").alias("birth_cert_key"),
            "check_date",
        )
        .collect()
    )
    children = births.join(first_archive.lazy(), on="birth_cert_key", how="left").collect()
    # One quarter at a time: memory stays at one copy of the children, at any scale.
    parts = []
    for period, d in quarters.select("period", "d").iter_rows():
        under3 = children.filter(
            (pl.col("birth_date") <= d) & (_age_months(pl.col("birth_date"), pl.lit(d)) < 36)
        )
        in_year = checks.filter(
            (pl.col("check_date") <= d) & (pl.col("check_date") > d - timedelta(days=365))
        )["birth_cert_key"]
        parts.append(
            under3.group_by("street_code").agg(
                pl.lit(period).alias("period"),
                pl.len().alias("under3"),
                (pl.col("archive_date") <= d).sum().alias("under3_archived"),
                pl.col("birth_cert_key").is_in(in_year.implode()).sum().alias("under3_checked"),
            )
        )
    return pl.concat(parts).select("period", pl.exclude("period"))


def slot_figures(t: dict[str, pl.DataFrame], quarters: pl.DataFrame) -> pl.DataFrame:
    inst = t["institutions"].join(quarters, how="cross")
    operating = (pl.col("filed_on") <= pl.col("d")) & (
        pl.col("closed_on").is_null() | (pl.col("closed_on") > pl.col("d"))
    )
    affordable = pl.col("is_affordable") & (
        pl.col("affordable_since").is_null() | (pl.col("affordable_since") <= pl.col("d"))
    )
    return (
        inst.filter(operating)
        .group_by("period", "street_code")
        .agg(
            pl.col("slots").sum().alias("slots"),
            pl.col("slots").filter(affordable).sum().alias("affordable_slots"),
        )
    )


def survey_figures(t: dict[str, pl.DataFrame], quarters: pl.DataFrame) -> pl.DataFrame:
    year = (pl.col("survey_date") <= pl.col("d")) & (
        pl.col("survey_date") > pl.col("d") - pl.duration(days=365)
    )
    return (
        t["surveys"]
        .join(t["divisions"], on="community_code", how="left")
        .join(quarters, how="cross")
        .filter(year)
        .group_by("period", "street_code")
        .agg(pl.len().alias("surveys"), pl.col("passed").sum().alias("surveys_passed"))
    )


def figures(raw_dir: Path, key: str) -> pl.DataFrame:
    """The marts' main figures per period and street (street null: outside the divisions)."""
    t = load(raw_dir, key)
    # Dates after today are errors (quarantined by the refresh), not the latest event.
    checks = t["checks"]["check_date"]
    as_of = checks.filter(checks <= date.today()).max()
    quarters = periods(as_of)
    on = ["period", "street_code"]
    return (
        child_figures(t, quarters)
        .join(slot_figures(t, quarters), on=on, how="full", coalesce=True)
        .join(survey_figures(t, quarters), on=on, how="full", coalesce=True)
        .sort(on, nulls_last=True)
    )


def district_latest(result: pl.DataFrame) -> dict[str, object]:
    """District totals of the latest period (streets of the divisions only)."""
    latest = result.filter(
        (pl.col("period") == result["period"].max()) & pl.col("street_code").is_not_null()
    )
    totals = latest.drop("period", "street_code").sum().row(0, named=True)
    return {"period": result["period"].max(), **totals}


def main() -> None:
    raw_dir = Path(sys.argv[1])
    started = time.perf_counter()
    result = figures(raw_dir, os.environ["YIYU_LINK_SECRET"])
    seconds = time.perf_counter() - started
    summary = {"seconds": seconds, "rows": result.height, "district": district_latest(result)}
    print(RESULT_MARK + json.dumps(summary), flush=True)


if __name__ == "__main__":
    main()
