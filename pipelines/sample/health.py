"""Child health archives (建档) and health checks following the 4:2:2 schedule."""

from __future__ import annotations

import numpy as np
import polars as pl

from pipelines.sample import domain, ids
from pipelines.sample.calendar import (
    DATA_END,
    DAYS_PER_MONTH,
    NO_DAY,
    as_dates,
    dates_or_null,
    text_where,
)
from pipelines.sample.children import pick_community

CENTRES = np.array([f"{domain.DISTRICT}H{11 + s:03d}" for s in range(len(domain.STREETS))])
MCH = domain.MCH_HOSPITAL[0]
MILESTONES = (3, 6, 8, 12, 18, 24, 30, 36)
FOLLOW_UPS = 3
# Growth references (age in months -> typical length cm / weight kg).
AGE_POINTS = np.array([0, 3, 6, 12, 24, 36, 48])
LENGTH = np.array([50.0, 61.0, 67.0, 75.5, 87.0, 96.0, 103.0])
WEIGHT = np.array([3.3, 6.2, 7.9, 9.6, 12.2, 14.3, 16.3])
ADHERENCE = (0.95, 0.75, 0.35)
ADHERENCE_SHARE = (0.7, 0.2, 0.1)


def archives(rng, kids: pl.DataFrame, counter: dict) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(archive rows with their final state, one row per child with both archives' facts)."""
    k = kids.filter(pl.col("has_archive"))
    n = k.height
    birth = k["birth_day"].to_numpy()
    street = k["street"].to_numpy()
    arch_day = birth + np.where(
        k["has_birth"].to_numpy(), rng.integers(3, 31, n), rng.integers(30, 700, n)
    )
    exists = arch_day <= DATA_END
    fac1 = np.where(rng.random(n) < 0.1, MCH, CENTRES[street])
    u = rng.random(n)
    mover, left, died = u < 0.03, (u >= 0.03) & (u < 0.05), (u >= 0.05) & (u < 0.051)
    close_day = np.where(mover | left, arch_day + rng.integers(60, 900, n), NO_DAY)
    close_day = np.where(died, arch_day + rng.integers(10, 700, n), close_day)
    close_day = np.where(close_day <= DATA_END, close_day, NO_DAY)
    reason = np.where(died, "died", "moved_out")
    new_street = (street + rng.integers(1, len(domain.STREETS), n)) % len(domain.STREETS)
    arch2_day = np.where(mover & (close_day < NO_DAY), close_day + rng.integers(3, 45, n), NO_DAY)
    arch2_day = np.where(arch2_day <= DATA_END, arch2_day, NO_DAY)
    community2 = pick_community(rng, new_street)
    fac2 = CENTRES[new_street]
    sign1 = _signing(rng, arch_day, close_day)
    sign2 = _signing(rng, arch2_day, np.full(n, NO_DAY))
    no1 = _archive_numbers(fac1, counter, n)
    no2 = _archive_numbers(fac2, counter, n)

    first = _archive_rows(
        rng,
        k,
        no1,
        fac1,
        k["community_code"],
        arch_day,
        sign1,
        close_day,
        text_where(close_day < NO_DAY, reason),
    )
    second = _archive_rows(
        rng,
        k,
        no2,
        fac2,
        pl.Series(community2),
        arch2_day,
        sign2,
        np.full(n, NO_DAY),
        text_where(np.zeros(n, bool), ""),
    )
    rows = pl.concat(
        [first.filter(pl.Series(exists)), second.filter(pl.Series(arch2_day <= DATA_END))]
    )
    per_child = pl.DataFrame(
        {
            "child": k["child"],
            "arch1_no": no1,
            "fac1": fac1,
            "arch1_day": arch_day,
            "close1_day": close_day,
            "arch2_no": no2,
            "fac2": fac2,
            "arch2_day": arch2_day,
        }
    ).filter(pl.Series(exists))
    return rows, per_child


def _signing(rng, start: np.ndarray, close: np.ndarray) -> np.ndarray:
    day = start + rng.integers(0, 500, len(start))
    ok = (rng.random(len(start)) < 0.55) & (day <= DATA_END) & (day <= close)
    return np.where(ok, day, NO_DAY)


def _archive_numbers(facility: np.ndarray, counter: dict, n: int) -> pl.Series:
    """DA + the facility's number + a running number, e.g. DA011000000042."""
    seq = np.arange(counter["archive"], counter["archive"] + n)
    counter["archive"] += n
    return ids.numbered("DA" + pl.Series(facility).str.slice(7, 3), seq, 9)


def _archive_rows(rng, k, numbers, facility, community, arch_day, sign_day, close_day, reason):
    n = k.height
    return pl.DataFrame(
        {
            "archive_no": numbers,
            "id_number": k["id_number"].set(pl.Series(rng.random(n) >= 0.7), None),
            "birth_cert_no": k["birth_cert_no"].set(
                pl.Series((rng.random(n) >= 0.6) | ~k["has_birth"].to_numpy()), None
            ),
            "child_name": k["child_name"],
            "sex": k["sex"],
            "birth_date": k["birth_date"],
            "community_code": community,
            "facility_code": facility,
            "archive_date": dates_or_null(arch_day),
            "family_doctor_signed_on": dates_or_null(sign_day),
            "closed_on": dates_or_null(close_day),
            "close_reason": pl.Series(reason, dtype=pl.Utf8),
            "_x_联系电话": k["phone"],
            "_mother_id": pl.repeat(None, n, dtype=pl.Utf8, eager=True),
            "_anomaly": pl.repeat(None, n, dtype=pl.Utf8, eager=True),
        }
    )


def checks(
    rng, kids: pl.DataFrame, per_child: pl.DataFrame, enroll: pl.DataFrame, counter: dict
) -> pl.DataFrame:
    """Schedule visits of archived children plus pre-enrollment checks, numbered by date."""
    joined = kids.join(per_child, on="child", how="left", maintain_order="left")
    scheduled = _scheduled(rng, joined.filter(pl.col("arch1_no").is_not_null()))
    before_enroll = _enrollment_checks(rng, joined, enroll)
    frame = pl.concat([scheduled, before_enroll]).sort("check_date", "child", maintain_order=True)
    n = frame.height
    seq = np.arange(counter["check"], counter["check"] + n)
    counter["check"] += n
    return frame.with_columns(
        ids.numbered("TJ", seq, 10).alias("check_no"),
    ).select(CHECK_COLUMNS)


CHECK_COLUMNS = (
    "check_no",
    "archive_no",
    "id_number",
    "birth_cert_no",
    "child_name",
    "sex",
    "birth_date",
    "facility_code",
    "check_date",
    "height_cm",
    "weight_kg",
    "hemoglobin_g_l",
    "_mother_id",
    "_anomaly",
)


def _scheduled(rng, k: pl.DataFrame) -> pl.DataFrame:
    n = k.height
    birth = k["birth_day"].to_numpy()
    arch1 = k["arch1_day"].to_numpy().astype(np.int64)
    close1 = k["close1_day"].to_numpy().astype(np.int64)
    arch2 = k["arch2_day"].to_numpy().astype(np.int64)
    ages = [np.where(k["has_birth"].to_numpy(), arch1 - birth, -1), rng.integers(28, 46, n)]
    ages += [np.round(m * DAYS_PER_MONTH).astype(int) + rng.integers(-5, 25, n) for m in MILESTONES]
    # Follow-up visits (复查, illness) at any age.
    ages += [rng.integers(60, 1100, n) for _ in range(FOLLOW_UPS)]
    day = birth[:, None] + np.column_stack(ages)
    adherence = rng.choice(ADHERENCE, size=n, p=ADHERENCE_SHARE)
    done = rng.random(day.shape) < adherence[:, None]
    done[:, -FOLLOW_UPS:] = rng.random((n, FOLLOW_UPS)) < 0.4
    on_first = (day >= arch1[:, None]) & (day < close1[:, None])
    on_second = day >= arch2[:, None]
    keep = done & (on_first | on_second) & (day <= DATA_END) & (day > birth[:, None])
    row, visit = np.nonzero(keep)
    check_day = day[row, visit]
    second = pl.lit(pl.Series(on_second[row, visit]))
    m = len(row)
    unknown = rng.random(m) < 0.002
    at_mch = pl.lit(pl.Series(rng.random(m) < 0.08))
    milestone = np.array((0, 1, *MILESTONES, *[0] * FOLLOW_UPS))[visit]
    with_hb = np.isin(milestone, (6, 12, 24, 36)) & (rng.random(m) < 0.8)
    base = k[row]
    where = base.select(
        pl.when(second).then(pl.col("arch2_no")).otherwise(pl.col("arch1_no")).alias("archive"),
        pl.when(pl.lit(pl.Series(unknown)))
        .then(pl.lit(domain.UNKNOWN_FACILITY))
        .when(at_mch)
        .then(pl.lit(MCH))
        .when(second)
        .then(pl.col("fac2"))
        .otherwise(pl.col("fac1"))
        .alias("facility"),
    )
    return pl.DataFrame(
        {
            "child": base["child"],
            "archive_no": where["archive"],
            "id_number": base["id_number"].set(pl.Series(rng.random(m) >= 0.3), None),
            "birth_cert_no": base["birth_cert_no"].set(pl.Series(rng.random(m) >= 0.1), None),
            "child_name": base["child_name"].set(pl.Series(rng.random(m) >= 0.9), None),
            "sex": base["sex"],
            "birth_date": base["birth_date"],
            "facility_code": where["facility"],
            "check_date": as_dates(check_day),
            **_measures(rng, check_day - birth[row], with_hb),
            "_mother_id": pl.repeat(None, m, dtype=pl.Utf8, eager=True),
            "_anomaly": text_where(unknown, "unknown_facility"),
        }
    )


def _measures(rng, age_days: np.ndarray, with_hb: np.ndarray) -> dict[str, pl.Series]:
    months = age_days / DAYS_PER_MONTH
    m = len(age_days)
    height = np.interp(months, AGE_POINTS, LENGTH) * (1 + rng.normal(0, 0.035, m))
    weight = np.interp(months, AGE_POINTS, WEIGHT) * (1 + rng.normal(0, 0.1, m))
    hb = np.clip(rng.normal(121, 10, m), 85, 160)
    return {
        "height_cm": pl.Series(np.round(np.clip(height, 44, 115), 1)),
        "weight_kg": pl.Series(np.round(np.clip(weight, 2.0, 25.0), 1)),
        "hemoglobin_g_l": pl.Series(np.round(hb)).set(pl.Series(~with_hb), None),
    }


def _enrollment_checks(rng, joined: pl.DataFrame, enroll: pl.DataFrame) -> pl.DataFrame:
    """Most children are checked within 60 days before entering childcare (入托体检)."""
    e = enroll.filter(pl.Series(rng.random(enroll.height) < 0.85)).join(
        joined, on="child", maintain_order="left"
    )
    n = e.height
    birth = e["birth_day"].to_numpy()
    check_day = np.maximum(e["enroll_day"].to_numpy() - rng.integers(1, 61, n), birth + 3)
    arch1 = e["arch1_day"].fill_null(NO_DAY).to_numpy()
    close1 = e["close1_day"].fill_null(NO_DAY).to_numpy()
    arch2 = e["arch2_day"].fill_null(NO_DAY).to_numpy()
    on_first, on_second = (check_day >= arch1) & (check_day < close1), check_day >= arch2
    has_archive = on_first | on_second
    archive = text_where(
        has_archive,
        np.where(
            on_second,
            e["arch2_no"].fill_null("").to_numpy(),
            e["arch1_no"].fill_null("").to_numpy(),
        ),
    )
    facility = np.where(rng.random(n) < 0.3, MCH, CENTRES[e["street"].to_numpy()])
    return pl.DataFrame(
        {
            "child": e["child"],
            "archive_no": archive,
            # Without an archive the check is recorded against the ID number and name.
            "id_number": e["id_number"].set(pl.Series((rng.random(n) >= 0.5) & has_archive), None),
            "birth_cert_no": pl.repeat(None, n, dtype=pl.Utf8, eager=True),
            "child_name": e["child_name"],
            "sex": e["sex"],
            "birth_date": e["birth_date"],
            "facility_code": facility,
            "check_date": as_dates(check_day),
            **_measures(rng, check_day - birth, rng.random(n) < 0.9),
            "_mother_id": pl.repeat(None, n, dtype=pl.Utf8, eager=True),
            "_anomaly": pl.repeat(None, n, dtype=pl.Utf8, eager=True),
        }
    )
