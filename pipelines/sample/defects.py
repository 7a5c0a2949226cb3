"""Injected defects: quarantine-bound bad rows and warning-only anomalies.

Bad rows are clones of clean rows under a fresh natural key with exactly one defect, so
they never collide with a genuine row, never take part in supersession, and the manifest
can count them exactly. Anomalies (IDs that must be dropped, sex against the ID) change
genuine rows that are neither superseded nor re-deliveries, so their warnings are exact too.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import polars as pl

from pipelines.ingest.sources import SOURCES
from pipelines.sample import ids

REASONS = (
    "missing_required_value",
    "unparseable_value",
    "invalid_code",
    "date_before_birth",
    "date_in_future",
    "out_of_range",
    "unlinkable",
    "missing_required_column",
)
BAD_RATE = 0.002

# Per source: reason -> the columns a clone may carry the defect in.
BAD_COLUMNS: dict[str, dict[str, tuple[str, ...]]] = {
    "health_facilities": {"invalid_code": ("facility_type",)},
    "births": {
        "missing_required_value": ("birth_cert_no", "child_name", "sex", "birth_date"),
        "unparseable_value": ("birth_date",),
        "date_in_future": ("birth_date",),
    },
    "health_archives": {
        "missing_required_value": (
            "archive_no",
            "child_name",
            "sex",
            "facility_code",
            "archive_date",
        ),
        "unparseable_value": ("archive_date", "birth_date", "family_doctor_signed_on"),
        "invalid_code": ("close_reason",),
        "date_before_birth": ("archive_date",),
        "date_in_future": ("archive_date",),
    },
    "health_checks": {
        "missing_required_value": ("check_no", "sex", "birth_date", "facility_code", "check_date"),
        "unparseable_value": ("check_date", "height_cm", "weight_kg"),
        "date_before_birth": ("check_date",),
        "date_in_future": ("check_date",),
        "out_of_range": ("height_cm", "weight_kg", "hemoglobin_g_l"),
        "unlinkable": ("check_no",),
    },
    "enrollments": {
        "missing_required_value": (
            "enrollment_no",
            "child_name",
            "institution_code",
            "class_type",
            "enroll_date",
        ),
        "unparseable_value": ("enroll_date", "monthly_fee_yuan"),
        "invalid_code": ("class_type",),
        "date_before_birth": ("enroll_date",),
        "date_in_future": ("enroll_date",),
    },
    "institutions": {
        "missing_required_value": ("institution_name", "slots", "is_affordable", "filed_on"),
        "unparseable_value": ("slots", "is_affordable", "filed_on"),
        "invalid_code": ("institution_type", "demonstration_level"),
        "date_in_future": ("filed_on",),
    },
    "staff": {
        "missing_required_value": ("institution_code", "role", "hired_on"),
        "unparseable_value": ("hired_on",),
        "invalid_code": ("role",),
        "date_in_future": ("hired_on",),
    },
    "parenting_surveys": {
        "missing_required_value": ("community_code", "survey_date", "passed"),
        "unparseable_value": ("survey_date", "passed"),
        "date_in_future": ("survey_date",),
    },
}
# Reasons that need raw text in a typed cell: only CSV can carry them.
TEXT_ONLY_REASONS = ("unparseable_value",)
GARBAGE = {
    "date": ("2023-02-30", "2023/13/1", "20231301", "2023年2月30日", "待补录"),
    "float": ("八十五", "85..3", "约12"),
    "int": ("二十", "十二个"),
    "bool": ("2", "有"),
}
GARBAGE_FEE = ("一千五", "面议")
INVALID_CODES = {
    "class_type": ("混龄班", "学前班"),
    "close_reason": ("转诊", "失访"),
    "institution_type": ("早教中心", "培训机构"),
    "role": ("保安", "厨师"),
    "facility_type": ("诊所",),
    "demonstration_level": ("县级", "省一级"),
}
OUT_OF_RANGE = {
    "height_cm": (5.2, 175.0, 850.0),
    "weight_kg": (0.2, 75.0, 123.0),
    "hemoglobin_g_l": (12.0, 320.0),
}
FUTURE_YEARS = (2203, 2320, 3023)
BLANKS = ("", "\u3000", " ")
CHILD_IDENTIFIERS = ("archive_no", "id_number", "birth_cert_no", "child_name")


def clean_rows(frame: pl.DataFrame) -> pl.Series:
    """Rows that carry no anomaly and take no part in a re-delivery."""
    return frame.select(
        pl.col("_anomaly").is_null() & ~pl.col("_superseded") & ~pl.col("_redelivered")
    ).to_series()


def bad_clones(
    source: str,
    frame: pl.DataFrame,
    fmt: str,
    present: set[str],
    rng,
    fresh_keys: Callable[[int], pl.Series],
    ensure: bool,
) -> pl.DataFrame:
    """Clones of clean rows, each with one defect and a fresh key (none if nothing is clean)."""
    # Any row without an anomaly can be cloned: the clone's fresh key keeps it out of
    # every re-delivery.
    pool = frame.filter(frame["_anomaly"].is_null() & linkable_without_id(source, frame, present))
    pieces = []
    for reason, columns in BAD_COLUMNS.get(source, {}).items():
        usable = [c for c in columns if c in present]
        if not usable or pool.height == 0 or (fmt != "csv" and reason in TEXT_ONLY_REASONS):
            continue
        k = max(int(rng.binomial(frame.height, BAD_RATE)), 1 if ensure else 0)
        if k == 0:
            continue
        clones = pool[rng.integers(0, pool.height, size=k)]
        chosen = np.array(usable)[rng.integers(0, len(usable), size=k)]
        for column in usable:
            subset = clones.filter(pl.Series(chosen == column))
            if subset.height:
                pieces.append(_defect(source, reason, column, subset, rng))
    if not pieces:
        return frame.clear()
    bad = pl.concat(pieces, how="vertical_relaxed")
    if SOURCES[source].child_level:
        # A broken birth date would also set the row's ID number against it (a warning on
        # a row quarantined anyway): such clones carry no ID number.
        broken_birth = pl.col("_bad_col") == "birth_date"
        bad = bad.with_columns(
            pl.when(broken_birth).then(None).otherwise(pl.col("id_number")).alias("id_number")
        )
    key = SOURCES[source].key[0] if source != "staff" else "id_number"
    keys = fresh_keys(bad.height)
    if source == "staff":
        keys = keys.alias("id_number")
    missing_key = (pl.col("_bad") == "missing_required_value") & (pl.col("_bad_col") == key)
    return bad.with_columns(
        pl.when(missing_key).then(None).otherwise(keys).alias(key),
        pl.lit(False).alias("_superseded"),
        pl.lit(False).alias("_redelivered"),
    ).select(frame.columns)


# The identifier (besides the ID number) that keeps a row linkable in its file whatever
# happens to its ID number or demographic triple, where the source's key is not one.
ANCHORS = {"health_checks": "archive_no", "enrollments": "birth_cert_no"}


def linkable_without_id(source: str, frame: pl.DataFrame, present: set[str]) -> pl.Series:
    """Rows that may carry a defect or an ID anomaly without also becoming unlinkable."""
    anchor = ANCHORS.get(source)
    if anchor is None:
        return pl.Series(np.ones(frame.height, dtype=bool))
    return frame[anchor].is_not_null() & (anchor in present)


def _defect(source: str, reason: str, column: str, rows: pl.DataFrame, rng) -> pl.DataFrame:
    n = rows.height
    kind = SOURCES[source].column(column).kind
    marked = rows.with_columns(
        pl.lit(reason).alias("_bad"),
        pl.lit(column).alias("_bad_col"),
        pl.lit(None, pl.Utf8).alias("_bad_value"),
    )
    if reason == "missing_required_value":
        return marked.with_columns(
            pl.lit(None, rows.schema[column]).alias(column),
            pl.Series("_bad_value", rng.choice(BLANKS, size=n)),
        )
    if reason == "unparseable_value":
        choices = GARBAGE_FEE if column == "monthly_fee_yuan" else GARBAGE[kind]
        return marked.with_columns(pl.Series("_bad_value", rng.choice(choices, size=n)))
    if reason == "invalid_code":
        return marked.with_columns(pl.Series(column, rng.choice(INVALID_CODES[column], size=n)))
    if reason == "date_before_birth":
        shift = pl.duration(days=pl.lit(pl.Series(rng.integers(1, 400, size=n))))
        return marked.with_columns((pl.col("birth_date") - shift).alias(column))
    if reason == "date_in_future":
        year = pl.lit(pl.Series(rng.choice(FUTURE_YEARS, size=n)))
        col = pl.col(column)
        future = pl.date(year, col.dt.month(), col.dt.day().clip(upper_bound=28))
        return marked.with_columns(future.alias(column))
    if reason == "out_of_range":
        return marked.with_columns(pl.Series(column, rng.choice(OUT_OF_RANGE[column], size=n)))
    if reason == "unlinkable":
        blank = [
            pl.lit(None, rows.schema[c]).alias(c) for c in CHILD_IDENTIFIERS if c in rows.columns
        ]
        return marked.with_columns(*blank, pl.lit(None, pl.Utf8).alias("_bad_col"))
    raise ValueError(reason)


# Warning-only anomalies per source: code -> share of eligible rows.
ANOMALY_RATES: dict[str, dict[str, float]] = {
    "births": {
        "id_mother": 0.05,
        "id_placeholder": 0.01,
        "id_invalid_check": 0.005,
        "id_excel_number": 0.005,
    },
    "health_archives": {
        "id_placeholder": 0.005,
        "id_invalid_check": 0.005,
        "id_excel_number": 0.003,
        "sex_mismatch": 0.003,
    },
    "health_checks": {"id_invalid_check": 0.003, "id_excel_number": 0.003, "sex_mismatch": 0.002},
    "enrollments": {
        "id_placeholder": 0.005,
        "id_invalid_check": 0.005,
        "id_excel_number": 0.005,
        "sex_mismatch": 0.003,
    },
}
PLACEHOLDERS = ("无", "000000000000000000")


def apply_anomalies(
    source: str, frame: pl.DataFrame, fmt: str, present: set[str], rng, ensure: bool
) -> pl.DataFrame:
    """Marks and changes clean genuine rows; ID anomalies only where the row stays linkable."""
    for code, rate in ANOMALY_RATES.get(source, {}).items():
        if code == "id_excel_number" and fmt != "csv":
            continue
        has_id = frame["id_number"].is_not_null()
        wants_id = code != "id_placeholder" and code != "id_mother"
        eligible = clean_rows(frame) & linkable_without_id(source, frame, present)
        eligible = eligible & (has_id if wants_id else ~has_id)
        if code == "id_mother":
            eligible = eligible & frame["_mother_id"].is_not_null()
        idx = np.flatnonzero(eligible.to_numpy())
        k = max(int(rng.binomial(len(idx), rate)), 1 if ensure else 0)
        if len(idx) == 0 or k == 0:
            continue
        hit = np.zeros(frame.height, dtype=bool)
        hit[rng.choice(idx, size=min(k, len(idx)), replace=False)] = True
        frame = (
            frame.with_columns(
                _anomalous_value(code, frame, rng),
                pl.when(pl.Series(hit))
                .then(pl.lit(code))
                .otherwise(pl.col("_anomaly"))
                .alias("_anomaly"),
            )
            .with_columns(pl.Series("_hit", hit))
            .with_columns(
                pl.when(pl.col("_hit"))
                .then(pl.col("_new"))
                .otherwise(pl.col(_target(code)))
                .alias(_target(code))
            )
            .drop("_hit", "_new")
        )
    return frame


def _target(code: str) -> str:
    return "sex" if code == "sex_mismatch" else "id_number"


def _anomalous_value(code: str, frame: pl.DataFrame, rng) -> pl.Series:
    ids_ = frame["id_number"].fill_null("")
    if code == "id_mother":
        return frame["_mother_id"].alias("_new")
    if code == "id_placeholder":
        return pl.Series("_new", rng.choice(PLACEHOLDERS, size=frame.height))
    if code == "id_invalid_check":
        return ids.wrong_check_char(ids_).alias("_new")
    if code == "id_excel_number":
        return ids.excel_number(ids_).alias("_new")
    if code == "sex_mismatch":
        return frame["sex"].replace_strict({"M": "F", "F": "M"}).alias("_new")
    raise ValueError(code)
