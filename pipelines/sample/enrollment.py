"""Enrollments into childcare (托育) and kindergarten (小班) places."""

from __future__ import annotations

from datetime import date

import numpy as np
import polars as pl

from pipelines.sample import ids
from pipelines.sample.calendar import (
    DATA_END,
    DAYS_PER_MONTH,
    NO_DAY,
    as_dates,
    dates_or_null,
    day,
    text_where,
)

TODDLER_RATE, OUTSIDE_TODDLER_RATE, KINDERGARTEN_RATE = 0.35, 0.08, 0.85
FIRST_ENROLL = day(date(2021, 9, 1))
KINDERGARTEN_START = day(date(2023, 9, 1))
KINDERGARTEN_CUTOFF = day(date(2020, 8, 31))  # three years old by 31 August 2023
TODDLER_TYPES = ("nursery", "integrated", "family_daycare", "employer", "kindergarten_class")
KINDERGARTEN_TYPES = ("kindergarten_class", "integrated")
UNKNOWN_INSTITUTION = "52330206MA9999999X"


def enrollments(rng, kids: pl.DataFrame, inst: pl.DataFrame, counter: dict) -> pl.DataFrame:
    toddler = _toddlers(rng, kids, inst)
    kinder = _kindergarten(rng, kids, inst)
    frame = pl.concat([toddler, kinder]).filter(pl.col("enroll_day") <= DATA_END)
    frame = frame.sort("enroll_day", "child", maintain_order=True)
    n = frame.height
    seq = np.arange(counter["enrollment"], counter["enrollment"] + n)
    counter["enrollment"] += n
    unknown = rng.random(n) < 0.003
    id_number = frame["id_number"].set(pl.Series(rng.random(n) >= 0.92), None)
    birth_cert_no = frame["birth_cert_no"].set(pl.Series(rng.random(n) >= 0.3), None)
    return frame.with_columns(
        id_number,
        birth_cert_no,
        ids.numbered("RT", seq, 9).alias("enrollment_no"),
        pl.when(pl.Series(unknown))
        .then(pl.lit(UNKNOWN_INSTITUTION))
        .otherwise(pl.col("institution_code"))
        .alias("institution_code"),
        text_where(unknown, "unknown_institution").alias("_anomaly"),
        pl.lit(None, pl.Utf8).alias("_mother_id"),
    )


def _toddlers(rng, kids: pl.DataFrame, inst: pl.DataFrame) -> pl.DataFrame:
    rate = np.where(kids["outside"].to_numpy(), OUTSIDE_TODDLER_RATE, TODDLER_RATE)
    k = kids.filter(pl.Series(rng.random(kids.height) < rate))
    n = k.height
    birth = k["birth_day"].to_numpy()
    start = birth + np.round(rng.uniform(8, 33, n) * DAYS_PER_MONTH).astype(int)
    start = np.maximum(start, FIRST_ENROLL)
    age = (start - birth) / DAYS_PER_MONTH
    chosen = _choose(rng, inst, k["street"].to_numpy(), TODDLER_TYPES)
    kind = inst["institution_type"].to_numpy()[chosen]
    klass = np.where(age < 12, "infant", np.where(age < 24, "toddler_small", "toddler_large"))
    klass = np.where((kind == "kindergarten_class") & (age >= 24), "toddler", klass)
    leave = np.where(
        rng.random(n) < 0.2,
        start + rng.integers(30, 300, n),
        birth + np.round(rng.uniform(34, 37, n) * DAYS_PER_MONTH).astype(int),
    )
    return _rows(rng, k, inst, chosen, start, leave, klass, (1200, 2200), (2800, 5500))


def _kindergarten(rng, kids: pl.DataFrame, inst: pl.DataFrame) -> pl.DataFrame:
    eligible = (kids["birth_day"].to_numpy() <= KINDERGARTEN_CUTOFF) & (
        rng.random(kids.height) < KINDERGARTEN_RATE
    )
    k = kids.filter(pl.Series(eligible))
    n = k.height
    start = KINDERGARTEN_START + rng.integers(0, 5, n)
    chosen = _choose(rng, inst, k["street"].to_numpy(), KINDERGARTEN_TYPES)
    return _rows(
        rng,
        k,
        inst,
        chosen,
        start,
        np.full(n, NO_DAY),
        np.full(n, "k_small"),
        (600, 1500),
        (1800, 3500),
    )


def _choose(rng, inst: pl.DataFrame, street: np.ndarray, types: tuple[str, ...]) -> np.ndarray:
    """An institution of the right type, 70% in the child's street, weighted by slots."""
    fits = np.isin(inst["institution_type"].to_numpy(), types) & (inst["slots"].to_numpy() > 0)
    fits &= inst["closed_day"].to_numpy() >= NO_DAY
    slots = np.where(fits, inst["slots"].to_numpy(), 0).astype(float)
    inst_street = inst["street"].to_numpy()
    local = rng.random(len(street)) < 0.7
    chosen = _weighted(rng, slots, len(street))
    for s in np.unique(street):
        here = np.flatnonzero(local & (street == s))
        weights = np.where(inst_street == s, slots, 0)
        if weights.sum() > 0 and len(here):
            chosen[here] = _weighted(rng, weights, len(here))
    return chosen


def _weighted(rng, weights: np.ndarray, n: int) -> np.ndarray:
    return rng.choice(len(weights), size=n, p=weights / weights.sum())


def _rows(rng, k, inst, chosen, start, leave, klass, cheap, dear) -> pl.DataFrame:
    n = k.height
    filed = inst["filed_day"].to_numpy()[chosen]
    start = np.where(start < filed, filed + rng.integers(0, 30, n), start)
    leave = np.where(leave <= DATA_END, np.maximum(leave, start + 20), NO_DAY)
    leave = np.where(leave <= DATA_END, leave, NO_DAY)
    affordable = inst["since_day"].to_numpy()[chosen] <= start
    fee = np.where(affordable, rng.integers(*cheap, n), rng.integers(*dear, n)) // 50 * 50
    return pl.DataFrame(
        {
            "child": k["child"],
            "enroll_day": start,
            "id_number": k["id_number"],
            "birth_cert_no": k["birth_cert_no"],
            "child_name": k["child_name"],
            "sex": k["sex"],
            "birth_date": k["birth_date"],
            "institution_code": inst["institution_code"].gather(chosen),
            "class_type": pl.Series(klass.astype(str), dtype=pl.Utf8),
            "enroll_date": as_dates(np.minimum(start, DATA_END)),
            "leave_day": leave,
            "leave_date": dates_or_null(leave),
            "monthly_fee_yuan": fee.astype(float),
            "_x_家长姓名": k["mother_name"],
            "_x_联系电话": k["phone"],
        }
    )
