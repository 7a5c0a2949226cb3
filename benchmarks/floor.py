"""The engine floor: the least work any correct refresh must do on the same raw files.

Plain polars, no framework, no cache, no audit: read the bytes of every file (decoding
GB18030 where needed), match the headers, keep the last row per natural key, replace every
identifier by its keyed hash (HMAC-SHA-256, as the contract demands), link the child-level
records into children as contract section 3 links them (identifiers transitively, then the
demographic triple unless the group holds two ID numbers or two certificates), place each
child at D by its latest archive, and aggregate the marts' main figures per street and
quarter: under-3 children, those with an archive by D, those with a check in the year to D,
operating and affordable slots, and passed surveys in the year to D.

It deliberately leaves out what a floor need not prove it can do (quarantine reasons, ID
check characters, the audit, publishing, the other indicators): the benchmark reports how far
the real refresh is above this bound, not that the two are the same program.

Run alone: `python -m benchmarks.floor RAW_DIR` (key from YIYU_LINK_SECRET); prints JSON with
the seconds of each phase (read, link, figures).
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

import numpy as np
import polars as pl
import polars_hash  # noqa: F401  (registers the `chash` namespace)
from scipy.sparse import coo_array, csgraph

from pipelines.identity.resolve import ATTRIBUTE_PRIORITY
from pipelines.ingest.sources import CLOSE_REASONS, SOURCES, Source
from pipelines.ingest.values import normalise_name, parse_code, parse_sex

PERIOD_START = date(2022, 10, 1)
_UNIT = re.compile(r"\s*[(\[【][^)\]】]*[)\]】]\s*$")
DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y%m%d", "%Y年%m月%d日", "%Y.%m.%d")
TRUE_TEXT = ("是", "y", "1", "true")
# The values that link records (contract section 3), each numbered as a graph node.
NODES = ("id_key", "birth_cert_key", "archive_key", "triple")
SRC = {name: rank for rank, name in enumerate(ATTRIBUTE_PRIORITY, start=1)}
# Birth dates coded as source rank * DAY_CODES + days since 1970, so one min picks the best.
DAY_CODES = 1_000_000
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


def _components(size: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The connected component of each of `size` nodes, given the edges a -- b."""
    graph = coo_array((np.ones(len(a), dtype=np.int8), (a, b)), shape=(size, size))
    return csgraph.connected_components(graph, directed=False)[1]


def link(records: pl.DataFrame) -> np.ndarray:
    """Each record's child (an integer; -1 for a record with nothing to link by), as contract
    section 3 links them. Values are numbered by their 64-bit hash: a collision (about one
    chance in four million among a province's 3M values of a kind) would merge two children;
    a floor may take that risk, the refresh does not."""
    n = records.height
    hashed = records.select(pl.when(pl.col(c).is_not_null()).then(pl.col(c).hash()) for c in NODES)
    # Numbered per kind (0: none), each kind after the one before it.
    ranked = hashed.select(pl.col(c).rank("dense").fill_null(0).cast(pl.Int64) for c in NODES)
    offsets = np.cumsum([0, *(ranked.max().row(0))])
    ident, cert, archive, tri = (
        np.where(r > 0, r + offset, 0)
        for r, offset in zip(ranked.to_numpy().T, offsets[:-1], strict=True)
    )
    size = int(offsets[-1]) + 1
    first = np.where(ident > 0, ident, np.where(cert > 0, cert, archive))
    has_first = first > 0
    pairs = [(first, other, has_first & (other > 0)) for other in (cert, archive, tri)]
    # Demographic groups: the components of identifier and triple edges.
    group = _components(size, *(np.concatenate([p[e][p[2]] for p in pairs]) for e in (0, 1)))
    record_group = np.where(has_first, group[first], group[tri])
    # A conflict: two ID numbers or two certificates among the group's identifier records.
    judged = pl.DataFrame({"g": record_group, "i": ident, "c": cert}).filter(pl.Series(has_first))
    distinct = [pl.col(c).filter(pl.col(c) > 0).n_unique() > 1 for c in ("i", "c")]
    conflicts = judged.group_by("g").agg(pl.any_horizontal(distinct).alias("apart"))
    conflict = np.zeros(size, dtype=bool)
    conflict[conflicts.filter("apart")["g"].to_numpy()] = True
    apart = conflict[record_group]
    # In a conflict nothing merges: the children formed by identifiers (components of the
    # identifier edges of those records only), each identifier-less record a child of its own.
    identifier_pairs = [(a[m & apart], b[m & apart]) for a, b, m in pairs[:2]]
    by_identifiers = _components(size, *map(np.concatenate, zip(*identifier_pairs, strict=True)))
    child = np.where(
        ~apart,
        record_group,
        np.where(has_first, size + by_identifiers[first], 2 * size + np.arange(n)),
    )
    return np.where(has_first | (tri > 0), child, -1)


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
    """Per street and period: under-3 children, with an archive by D, with a check in the
    year. A child lives at D where its latest archive dated <= D that names a community
    says, else where its birth record says; one whose latest archive was closed by D as
    moved out or died counts nowhere, one without a community at district scope only
    (street null)."""
    records = t["records"].filter(pl.col("child") >= 0)
    births, archives, checks = (SRC[s] for s in ("births", "health_archives", "health_checks"))
    best_birth = pl.col("src").cast(pl.Int64) * DAY_CODES + pl.col("birth_date").cast(pl.Int64)
    children = records.group_by("child").agg(
        (best_birth.min() % DAY_CODES).cast(pl.Int32).cast(pl.Date).alias("birth_date"),
        pl.col("community_code").filter(pl.col("src") == births).min().alias("birth_community"),
        pl.col("archive_date").min(),
    )
    dated = ["archive_date", "archive_key"]
    child_archives = (
        records.filter(pl.col("src") == archives)
        .select("child", *dated, "community_code", "closed_on", "close_reason")
        .sort("child", *dated)
    )
    child_checks = records.filter(pl.col("src") == checks).select("child", "check_date")
    streets = t["divisions"].lazy()
    parts = []
    for period, d in quarters.select("period", "d").iter_rows():
        # Group order follows the rows', sorted by date: the last is the latest.
        latest = (
            child_archives.lazy()
            .filter(pl.col("archive_date") <= d)
            .group_by("child")
            .agg(
                pl.col("closed_on", "close_reason").last(),
                pl.col("community_code").drop_nulls().last(),
            )
        )
        in_year = child_checks.filter(
            (pl.col("check_date") <= d) & (pl.col("check_date") > d - timedelta(days=365))
        )["child"]
        placed = (
            children.lazy()
            .filter(
                (pl.col("birth_date") <= d) & (_age_months(pl.col("birth_date"), pl.lit(d)) < 36)
            )
            .join(latest, on="child", how="left")
            .filter(
                ~(pl.col("closed_on") <= d).fill_null(False)
                | ~pl.col("close_reason").is_in(["moved_out", "died"]).fill_null(False)
            )
            .with_columns(pl.coalesce("community_code", "birth_community").alias("community_code"))
            .join(streets, on="community_code", how="left")
            .filter(pl.col("community_code").is_null() | pl.col("street_code").is_not_null())
        )
        parts.append(
            placed.group_by("street_code")
            .agg(
                pl.lit(period).alias("period"),
                pl.len().alias("under3"),
                (pl.col("archive_date") <= d).sum().alias("under3_archived"),
                pl.col("child").is_in(in_year.implode()).sum().alias("under3_checked"),
            )
            .collect()
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


def figures(raw_dir: Path, key: str) -> tuple[pl.DataFrame, dict[str, float]]:
    """The marts' main figures per period and street (street null: outside the divisions, or
    children without a community), and the seconds of each phase."""
    clock = time.perf_counter()
    seconds = {}

    def lap(phase: str) -> None:
        nonlocal clock
        seconds[phase] = time.perf_counter() - clock
        clock = time.perf_counter()

    t = load(raw_dir, key)
    lap("read")
    t["records"] = t["records"].with_columns(child=pl.Series(link(t["records"])))
    lap("link")
    # Dates after today are errors (quarantined by the refresh), not the latest event.
    checks = t["records"]["check_date"]
    as_of = checks.filter(checks <= date.today()).max()
    quarters = periods(as_of)
    on = ["period", "street_code"]
    result = (
        child_figures(t, quarters)
        .join(slot_figures(t, quarters), on=on, how="full", coalesce=True)
        .join(survey_figures(t, quarters), on=on, how="full", coalesce=True)
        .sort(on, nulls_last=True)
    )
    lap("figures")
    return result, seconds


def district_latest(result: pl.DataFrame) -> dict[str, object]:
    """District totals of the latest period (every street, and what has none)."""
    latest = result.filter(pl.col("period") == result["period"].max())
    totals = latest.drop("period", "street_code").sum().row(0, named=True)
    return {"period": result["period"].max(), **totals}


def main() -> None:
    raw_dir = Path(sys.argv[1])
    started = time.perf_counter()
    result, phases = figures(raw_dir, os.environ["YIYU_LINK_SECRET"])
    summary = {
        "seconds": time.perf_counter() - started,
        "phases": phases,
        "rows": result.height,
        "district": district_latest(result),
    }
    print(RESULT_MARK + json.dumps(summary), flush=True)


if __name__ == "__main__":
    main()
