"""One raw file of one source -> typed, validated, pseudonymised rows, quarantine and warnings.

Pure polars, no per-row Python. Checks that depend on the calendar (a date after today) are
not made here, so a parsed file can be cached by its content (see `ingest.py`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

from pipelines.ingest import values
from pipelines.ingest.handles import handle_columns, handle_table
from pipelines.ingest.idcard import id_birth_date, id_sex, with_id18
from pipelines.ingest.pseudonymise import keyed_hash
from pipelines.ingest.reasons import (
    INVALID_STAFF_ID,
    NO_HEADER,
    UNLINKABLE,
    no_warnings,
    noted_header,
    problem,
    warnings,
)
from pipelines.ingest.sources import ALIASES, Column, Source

_PERSONAL_KINDS = {"name", "identifier", "id_number"}
# Rows whose distinct values decide how a column is read (`_read`).
_DISTINCT_SAMPLE = 10_000
# Parquet columns already of the type a column reads as: taken as they are, not written as
# text and read back (history files are large and typed).
_TYPED_INPUT = {"date": pl.Date, "float": pl.Float64}


@dataclass
class ParsedFile:
    rows_read: int
    valid: pl.DataFrame
    quarantine: pl.DataFrame
    warnings: pl.DataFrame
    unknown_columns: list[str] = field(default_factory=list)
    reject_reason: str | None = None
    # The clear identifiers of the valid rows, for encryption only (handles.py).
    handles: pl.DataFrame | None = None


def output_schema(source: Source) -> dict[str, pl.DataType]:
    """Columns of `ingested.<source>` (docs/architecture.md), without `_file`."""
    typed = {
        "date": pl.Date,
        "bool": pl.Boolean,
        "int": pl.Int64,
        "float": pl.Float64,
    }
    schema: dict[str, pl.DataType] = {}
    if source.person_level:
        schema["record_key"] = pl.String
    if source.child_level:
        names = {c.name for c in source.columns}
        schema["id_key"] = pl.String
        schema["birth_cert_key"] = pl.String
        if "archive_no" in names:
            schema["archive_key"] = pl.String
        schema["triple_key"] = pl.String
    if source.name == "staff":
        schema["staff_key"] = pl.String
    for col in source.columns:
        if col.kind not in _PERSONAL_KINDS:
            schema[col.name] = typed.get(col.kind, pl.String)
    schema["_row"] = pl.Int64
    return schema


def match_headers(source: Source, headers: list[str]) -> tuple[dict[str, str], list[str]]:
    """Column name -> file header, and the headers that match nothing (or a column twice)."""
    wanted = {}
    for col in source.columns:
        for label in (col.name, *ALIASES.get(col.name, ())):
            wanted.setdefault(values.header_key(label), col.name)
    found: dict[str, str] = {}
    unknown: list[str] = []
    for header in headers:
        name = wanted.get(values.header_key(header))
        if name is None or name in found:
            unknown.append(noted_header(header))
        else:
            found[name] = header
    return found, unknown


def _typed(col: Column, text: pl.Expr) -> pl.Expr:
    match col.kind:
        case "date":
            return values.parse_date(text)
        case "bool":
            return values.parse_bool(text)
        case "sex":
            return values.parse_sex(text)
        case "int":
            return values.parse_int(text)
        case "float":
            return values.parse_float(text)
        case "enum":
            return values.parse_code(text, col.codes or {})
        case "name":
            return values.normalise_name(text)
        case "identifier" | "id_number":
            return values.normalise_identifier(text)
        case _:
            return text


def _input(col: Column, raw: pl.DataFrame, header: str | None) -> pl.Expr:
    """A column of the file as `_read` takes it: text, or a Parquet column of the type it reads
    as (`_TYPED_INPUT`); any other type as text."""
    if header is None:
        return pl.lit(None, pl.String).alias(col.name)
    value = pl.col(header)
    if raw.schema[header] not in (pl.String, _TYPED_INPUT.get(col.kind)):
        value = value.cast(pl.String)
    return value.alias(col.name)


def _read(col: Column, raw: pl.Series) -> tuple[pl.Expr, pl.Expr]:
    """Expressions of a column's cleaned text (`_t_<name>`, over the raw frame) and typed
    value (`<name>`, over the cleaned one). Exports repeat most values (dates, sexes, codes,
    sizes): when at most half the values of the part are distinct, each distinct value is
    read once and looked up (reading a date costs far more than a lookup). The values of the
    first rows tell, so that a column of distinct values (numbers, names, ID numbers however
    sparse) is not hashed in vain."""
    text = f"_t_{col.name}"
    if raw.dtype == _TYPED_INPUT.get(col.kind):
        return pl.col(raw.name).alias(text), pl.col(text).alias(col.name)
    head = raw.head(_DISTINCT_SAMPLE).drop_nulls()
    if 2 * head.n_unique() > head.len():
        return values.clean(pl.col(raw.name)).alias(text), _typed(col, pl.col(text)).alias(col.name)
    distinct = raw.drop_nulls().unique()
    read = (
        distinct.to_frame("raw")
        .with_columns(text=values.clean(pl.col("raw")))
        .with_columns(typed=_typed(col, pl.col("text")))
    )
    # Raw values that clean alike (" 男", "男") give one text.
    typed = read.drop_nulls("text").unique("text")
    return (
        pl.col(raw.name).replace_strict(distinct, read["text"], default=None).alias(text),
        pl.col(text).replace_strict(typed["text"], typed["typed"], default=None).alias(col.name),
    )


def _child_identity(source: Source, frame: pl.DataFrame, key: bytes) -> pl.DataFrame:
    """Valid IDs, warnings for dropped ones, the unlinkable rule and the keyed hashes."""
    raw_id = pl.col("id_number")
    frame = with_id18(frame, "id_number", "_valid_id")
    valid = pl.col("_valid_id")
    own = valid.is_not_null() & (id_birth_date(valid) == pl.col("birth_date")).fill_null(False)
    frame = frame.with_columns(
        _id18=pl.when(own).then(valid),
        _w_id=pl.when(raw_id.is_not_null() & valid.is_null())
        .then(pl.lit("invalid_id_number"))
        .when(valid.is_not_null() & ~own)
        .then(pl.lit("id_birth_date_mismatch")),
    ).with_columns(
        _w_sex=pl.when(id_sex(pl.col("_id18")) != pl.col("sex")).then(pl.lit("id_sex_mismatch")),
    )
    has_triple = pl.all_horizontal(
        pl.col(c).is_not_null() for c in ("child_name", "birth_date", "sex")
    )
    linkable = (
        pl.col("_id18").is_not_null()
        | pl.col("birth_cert_no").is_not_null()
        | pl.col("archive_no").is_not_null()
        | has_triple
    )
    triple = pl.concat_str(
        [pl.col("child_name"), pl.col("birth_date").cast(pl.String), pl.col("sex")], separator="|"
    )
    record_natural = {"births": "birth_cert_no", "health_archives": "archive_no"}
    frame = frame.with_columns(
        _e_link=pl.when(~linkable).then(pl.lit("unlinkable")),
        id_key=keyed_hash(pl.col("_id18"), "id", key),
        birth_cert_key=keyed_hash(pl.col("birth_cert_no"), "bc", key),
        archive_key=keyed_hash(pl.col("archive_no"), "ar", key),
        triple_key=keyed_hash(pl.when(has_triple).then(triple), "tri", key),
    )
    key_column = record_natural.get(source.name)
    if key_column == "birth_cert_no":
        return frame.with_columns(record_key=pl.col("birth_cert_key"))
    if key_column == "archive_no":
        return frame.with_columns(record_key=pl.col("archive_key"))
    natural = source.key[0]
    return frame.with_columns(record_key=keyed_hash(pl.col(natural), natural[:2], key))


def _staff_identity(frame: pl.DataFrame, key: bytes) -> pl.DataFrame:
    """A staff member is their ID number (15 and 18 digits are one person)."""
    frame = with_id18(frame, "id_number", "_valid_id")
    valid = pl.col("_valid_id")
    natural = pl.concat_str(
        [valid, pl.col("institution_code"), pl.col("hired_on").cast(pl.String)], separator="|"
    )
    return frame.with_columns(
        _e_id=pl.when(pl.col("id_number").is_not_null() & valid.is_null()).then(
            pl.lit("unparseable_value")
        ),
        staff_key=keyed_hash(valid, "id", key),
        record_key=keyed_hash(natural, "st", key),
    )


def parse_frame(source: Source, raw: pl.DataFrame, key: bytes) -> ParsedFile:
    """Validate and pseudonymise (under the link secret `key`) a raw all-text frame (with
    `_row`) of one file."""
    headers = [h for h in raw.columns if h != "_row"]
    found, unknown = match_headers(source, headers)
    if not found:  # the first row is no header (a data row, say): none of its cells is noted
        return _rejected(source, raw, ("no_recognisable_header", "record", NO_HEADER), [])
    missing = [c for c in source.required if c not in found]
    if missing:
        reason = "file lacks required column(s): " + ", ".join(
            f"{c} ({'/'.join(ALIASES.get(c, ()))})" for c in missing
        )
        why = ("missing_required_column", ", ".join(missing), reason)
        return _rejected(source, raw, why, unknown)

    texts = raw.select(pl.col("_row"), *(_input(c, raw, found.get(c.name)) for c in source.columns))
    cleaned, typed = zip(*(_read(c, texts[c.name]) for c in source.columns), strict=True)
    # Lazy from here to the checks, so polars computes each shared subexpression once.
    frame = texts.select("_row", *cleaned).with_columns(typed).lazy()

    checks: list[tuple[pl.Expr, pl.Expr, str]] = []
    for col in source.columns:
        reason, message = problem(source, col, pl.col(f"_t_{col.name}"), pl.col(col.name))
        checks.append((reason, message, col.name))
        if col.name in source.date_columns_after_birth:
            checks.append(
                (
                    pl.when(pl.col(col.name) < pl.col("birth_date")).then(
                        pl.lit("date_before_birth")
                    ),
                    pl.lit(f"{col.name}: before the birth date"),
                    col.name,
                )
            )

    if source.child_level:
        for absent in ("birth_cert_no", "archive_no", "id_number", "child_name"):
            if absent not in frame.collect_schema().names():
                frame = frame.with_columns(pl.lit(None, pl.String).alias(absent))
        frame = _child_identity(source, frame, key)
        checks.append((pl.col("_e_link"), pl.lit(UNLINKABLE), "record"))
    if source.name == "staff":
        frame = _staff_identity(frame, key)
        checks.append((pl.col("_e_id"), pl.lit(INVALID_STAFF_ID), "id_number"))

    frame = frame.with_columns(_reason=pl.coalesce(r for r, _, _ in checks)).collect()
    # Column and message only for the quarantined rows: polars would build every message
    # of every row otherwise.
    quarantine = frame.filter(pl.col("_reason").is_not_null()).select(
        row_number=pl.col("_row"),
        column_name=pl.coalesce(pl.when(r.is_not_null()).then(pl.lit(n)) for r, _, n in checks),
        reason_code=pl.col("_reason"),
        detail=pl.coalesce(pl.when(r.is_not_null()).then(m) for r, m, _ in checks),
    )
    schema = output_schema(source)
    flags = ["_w_id", "_w_sex"] if source.child_level else []
    clear = handle_columns(source.name)
    # Only the columns kept are filtered (texts and intermediates are not copied).
    good = frame.select(*schema, *flags, *clear, "_reason").filter(pl.col("_reason").is_null())
    found_warnings = warnings(good) if source.child_level else no_warnings()
    valid = good.select(pl.col(n).cast(t) for n, t in schema.items())
    handles = handle_table(source.name, good) if clear else None
    return ParsedFile(raw.height, valid, quarantine, found_warnings, unknown, handles=handles)


def _rejected(
    source: Source, raw: pl.DataFrame, why: tuple[str, str, str], unknown: list[str]
) -> ParsedFile:
    """Every row of a rejected file quarantined: `why` is (reason code, column, reason)."""
    code, column, reason = why
    quarantine = raw.select(
        row_number=pl.col("_row"),
        column_name=pl.lit(column),
        reason_code=pl.lit(code),
        detail=pl.lit(reason),
    )
    empty = pl.DataFrame(schema=output_schema(source))
    return ParsedFile(raw.height, empty, quarantine, no_warnings(), unknown, reason)
