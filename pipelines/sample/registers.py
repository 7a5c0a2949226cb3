"""Registers: divisions, health facilities, childcare institutions, staff, surveys.

Each is generated once for the whole run (they are small next to the child sources) and
delivered as dated full snapshots, so later snapshots supersede earlier rows.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import polars as pl

from pipelines.sample import domain, ids
from pipelines.sample.calendar import DATA_END, NO_DAY, as_dates, day, text_where
from pipelines.sample.children import STREET_SHARES, names, phones, pick_community

SNAPSHOTS = (date(2022, 12, 31), date(2023, 6, 30), date(2023, 12, 31))
# Type, share of institutions, slot range, share affordable, USCC registration prefix.
INSTITUTION_TYPES = (
    ("nursery", 0.32, (40, 150), 0.7, "52"),
    ("kindergarten_class", 0.22, (20, 60), 0.9, "12"),
    ("integrated", 0.12, (60, 160), 0.8, "52"),
    ("care_station", 0.16, (5, 20), 0.9, "12"),
    ("family_daycare", 0.12, (5, 10), 0.5, "92"),
    ("employer", 0.06, (20, 80), 0.6, "91"),
)
TYPE_SUFFIX = {
    "nursery": "托育园",
    "kindergarten_class": "幼儿园托班",
    "integrated": "幼儿园(托幼一体)",
    "care_station": "婴幼儿照护驿站",
    "family_daycare": "家庭托育点",
    "employer": "职工托育中心",
}
_USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def uscc(body17: str) -> str:
    """Unified social credit code: 17 characters plus the GB 32100 check character."""
    total = sum(_USCC_CHARS.index(c) * w for c, w in zip(body17, _USCC_WEIGHTS, strict=True))
    return body17 + _USCC_CHARS[(31 - total % 31) % 31]


def divisions() -> pl.DataFrame:
    rows = domain.community_codes()
    return pl.DataFrame(
        rows,
        schema=["street_code", "street_name", "community_code", "community_name"],
        orient="row",
    )


def health_facilities() -> pl.DataFrame:
    frame = pl.DataFrame(
        domain.facilities(),
        orient="row",
        schema=["facility_code", "facility_name", "facility_type", "street_code"],
    )
    since = [domain.THREE_IN_ONE.get(code) for code in frame["facility_code"]]
    return frame.with_columns(pl.Series("three_in_one_since", since, dtype=pl.Date))


def catchments() -> pl.DataFrame:
    """Each community centre serves its street's communities; a street's communities are
    split in order between the street's centres when it has several."""
    centres = (
        health_facilities()
        .filter(pl.col("facility_type") == "community_health_center")
        .select("facility_code", "street_code")
        .with_columns(
            centre=pl.int_range(pl.len()).over("street_code"),
            centres=pl.len().over("street_code"),
        )
    )
    communities = (
        divisions()
        .select("street_code", "community_code")
        .with_columns(
            place=pl.int_range(pl.len()).over("street_code"),
            places=pl.len().over("street_code"),
        )
    )
    return (
        centres.join(communities, on="street_code")
        .filter(pl.col("centre") == pl.col("place") * pl.col("centres") // pl.col("places"))
        .select("facility_code", "community_code")
        .sort("facility_code", "community_code")
    )


def institutions(rng, n_children: int) -> pl.DataFrame:
    """At least one care station and one affordable nursery per street, the rest drawn."""
    streets = len(domain.STREETS)
    n = max(4 * streets, round(n_children / 60))
    kinds = np.array([t[0] for t in INSTITUTION_TYPES])
    shares = np.array([t[1] for t in INSTITUTION_TYPES])
    kind = rng.choice(len(kinds), size=n, p=shares)
    street = rng.choice(streets, size=n, p=STREET_SHARES)
    kind[:streets], street[:streets] = 3, np.arange(streets)
    kind[streets : 2 * streets], street[streets : 2 * streets] = 0, np.arange(streets)
    low = np.array([t[2][0] for t in INSTITUTION_TYPES])[kind]
    high = np.array([t[2][1] for t in INSTITUTION_TYPES])[kind]
    slots = rng.integers(low, high + 1)
    slots[(kind == 3) & (rng.random(n) < 0.4)] = 0  # stations offering drop-in care only
    filed = rng.integers(day(date(2012, 1, 1)), day(date(2023, 10, 31)), n)
    filed[:streets] = rng.integers(day(date(2022, 11, 1)), day(date(2023, 9, 30)), streets)
    affordable = rng.random(n) < np.array([t[3] for t in INSTITUTION_TYPES])[kind]
    affordable[streets : 2 * streets] = True
    since = np.maximum(filed, day(date(2020, 1, 1))) + rng.integers(0, 700, n)
    since = np.where(affordable, np.minimum(since, day(date(2023, 11, 30))), NO_DAY)
    closed = np.where(
        (rng.random(n) < 0.04) & (np.arange(n) >= 2 * streets),
        rng.integers(day(date(2023, 1, 15)), DATA_END, n),
        NO_DAY,
    )
    closed = np.where(closed > filed, closed, NO_DAY)
    standard = np.maximum(filed, day(date(2023, 1, 1))) + rng.integers(30, 300, n)
    standard = np.where(
        (kind == 3) & (rng.random(n) < 0.6) & (standard <= DATA_END), standard, NO_DAY
    )
    level = _demonstration_levels(rng, n)
    community = pick_community(rng, street)
    # A few new institutions name a community the divisions do not know (a warning).
    late = np.flatnonzero(filed > day(SNAPSHOTS[1]))
    unknown = np.zeros(n, dtype=bool)
    unknown[late[: max(1, len(late) // 6)]] = True
    community = np.where(
        unknown,
        np.char.add(
            np.char.add(domain.DISTRICT, np.char.zfill((street + 1).astype(str), 3)), "099"
        ),
        community,
    )
    prefix = np.array([t[4] for t in INSTITUTION_TYPES])[kind]
    codes = [uscc(f"{p}330206MA{i:07d}"[:17]) for i, p in enumerate(prefix)]
    street_names = np.array([s[1].removesuffix("街道") for s in domain.STREETS])[street]
    name_stem = np.array(domain.COMMUNITY_STEMS)[rng.integers(0, len(domain.COMMUNITY_STEMS), n)]
    suffix = np.array([TYPE_SUFFIX[k] for k in kinds])[kind]
    return pl.DataFrame(
        {
            "institution_code": codes,
            "institution_name": np.char.add(
                np.char.add(np.char.add("北仑区", street_names), name_stem), suffix
            ),
            "institution_type": kinds[kind],
            "street_code": np.char.add(domain.DISTRICT, np.char.zfill((street + 1).astype(str), 3)),
            "community_code": community,
            "slots": slots.astype(np.int64),
            "affordable": affordable,
            "since_day": since,
            "filed_day": filed,
            "closed_day": closed,
            "standard_day": standard,
            "demonstration_level": level,
            "street": street,
            "_x_联系电话": phones(rng, n),
            "_anomaly": text_where(unknown, "unknown_community"),
        }
    )


def _demonstration_levels(rng, n: int) -> np.ndarray:
    levels = list(domain.DEMONSTRATION_SHARE)
    shares = np.array(list(domain.DEMONSTRATION_SHARE.values()))
    pick = rng.choice(len(levels) + 1, size=n, p=[*shares, 1 - shares.sum()])
    return text_where(pick < len(levels), np.array([*levels, ""])[pick])


def institution_snapshot(inst: pl.DataFrame, as_of: date) -> pl.DataFrame:
    """The register as printed on `as_of`: later facts are not known yet."""
    d = day(as_of)
    seen = inst.filter(pl.col("filed_day") <= d)
    return seen.with_columns(
        (pl.col("affordable") & (pl.col("since_day") <= d)).alias("is_affordable"),
        _known("since_day", d).alias("affordable_since"),
        _known("filed_day", d).alias("filed_on"),
        _known("closed_day", d).alias("closed_on"),
        _known("standard_day", d).alias("provincial_standard_on"),
    )


def _known(column: str, d: int) -> pl.Expr:
    c = pl.col(column)
    return pl.when(c <= d).then(c.cast(pl.Int32).cast(pl.Date))


def staff(rng, inst: pl.DataFrame) -> pl.DataFrame:
    per = np.maximum(2, inst["slots"].to_numpy() // 7 + rng.integers(1, 4, inst.height))
    where = np.repeat(np.arange(inst.height), per)
    n = len(where)
    position = np.arange(n) - np.repeat(np.cumsum(per) - per, per)
    kinds = inst["institution_type"].to_numpy()[where]
    teaching = np.isin(kinds, ("kindergarten_class", "integrated"))
    role = np.where(rng.random(n) < np.where(teaching, 0.4, 0.15), "teacher", "caregiver")
    role = np.where(position == 1, "health", np.where(position == 0, "manager", role))
    role = np.where((position > 1) & (rng.random(n) < 0.03), "other", role)
    birth = rng.integers(day(date(1966, 1, 1)), day(date(2003, 12, 31)), n)
    male = rng.random(n) < 0.1
    filed = inst["filed_day"].to_numpy()[where]
    hired = rng.integers(np.maximum(filed, day(date(2015, 1, 1))), DATA_END - 20)
    left = np.where(rng.random(n) < 0.15, hired + rng.integers(90, 900, n), NO_DAY)
    left = np.where(left <= DATA_END, left, NO_DAY)
    cert, certified = _certificates(rng, role, hired)
    id18 = _staff_ids(rng, birth, male)
    id15 = ids.legacy_15(id18)
    born_early = birth < day(date(1985, 1, 1))
    u = rng.random(n)
    legacy, switch = born_early & (u < 0.3), born_early & (u >= 0.3) & (u < 0.33)
    return pl.DataFrame(
        {
            "id18": id18,
            "id15": id15,
            "id_number": pl.select(
                pl.when(pl.Series(legacy)).then(id15).otherwise(id18)
            ).to_series(),
            "institution_code": inst["institution_code"].to_numpy()[where],
            "role": role,
            "hired_day": hired,
            "left_day": left,
            "certified_day": certified,
            "certificate": cert,
            "legacy": legacy,
            # Printed with the old 15-digit number in early snapshots only: the same person.
            "switch": switch,
            "_x_员工姓名": names(rng, n),
            "_x_手机号": phones(rng, n),
        }
    )


def _certificates(rng, role: np.ndarray, hired: np.ndarray):
    """72% a qualifying certificate fitting the role, 10% only a 健康证, the rest none."""
    n = len(role)
    cert = np.full(n, "", dtype=object)
    for r in np.unique(role):
        here = role == r
        cert[here] = rng.choice(domain.ROLE_CERTIFICATES[r], size=here.sum())
    u = rng.random(n)
    cert = text_where(u < 0.82, np.where(u < 0.72, cert, domain.HEALTH_CERTIFICATE))
    dated = (rng.random(n) < 0.65) & (u < 0.82)
    certified = np.minimum(hired + rng.integers(-1000, 700, n), DATA_END)
    return cert, np.where(dated, certified, NO_DAY)


def _staff_ids(rng, birth: np.ndarray, male: np.ndarray) -> pl.Series:
    region = ids.adult_regions(rng, birth, 0.3)
    order = np.lexsort((male, birth, region))
    key = np.stack([region[order], birth[order], male[order]], axis=1)
    new_group = np.r_[True, np.any(key[1:] != key[:-1], axis=1)]
    starts = np.flatnonzero(new_group)
    within = np.arange(len(order)) - np.repeat(starts, np.diff(np.r_[starts, len(order)]))
    rank = np.empty_like(within)
    rank[order] = within
    if rank.max(initial=0) >= 500:
        raise AssertionError("more than 500 staff of one sex born on one day in one county")
    return ids.resident_ids(region, birth, ids.sequence_numbers(male, rank))


def staff_snapshot(people: pl.DataFrame, as_of: date, legacy_until: date | None) -> pl.DataFrame:
    """Staff on the register at `as_of`; until `legacy_until` some old 15-digit numbers."""
    d = day(as_of)
    seen = people.filter(pl.col("hired_day") <= d)
    if legacy_until and as_of <= legacy_until:
        seen = seen.with_columns(
            pl.when(pl.col("switch"))
            .then(pl.col("id15"))
            .otherwise(pl.col("id_number"))
            .alias("id_number")
        )
    known_cert = pl.col("certified_day") <= d
    return seen.with_columns(
        _known("hired_day", d).alias("hired_on"),
        _known("left_day", d).alias("left_on"),
        _known("certified_day", d).alias("certified_on"),
        pl.when(known_cert | (pl.col("certified_day") >= NO_DAY))
        .then(pl.col("certificate"))
        .alias("certificate"),
    )


def surveys(rng, n_children: int) -> pl.DataFrame:
    """Quarterly knowledge surveys; none were run in 2023Q2."""
    quarters = ((2022, 4), (2023, 1), (2023, 3), (2023, 4))
    per = max(40, n_children // 12)
    comms = divisions()["community_code"].to_numpy()
    pieces = []
    for q_index, (year, q) in enumerate(quarters):
        first = day(date(year, 3 * q - 2, 1))
        last = day(date(year + (q == 4), 1 if q == 4 else 3 * q + 1, 1)) - 1
        community = comms[rng.integers(0, len(comms), per)]
        unknown = rng.random(per) < 0.02
        pieces.append(
            pl.DataFrame(
                {
                    "survey_no": [f"DC{year}Q{q}{i:06d}" for i in range(per)],
                    "community_code": np.where(unknown, f"{domain.DISTRICT}001098", community),
                    "survey_date": as_dates(rng.integers(first, last + 1, per)),
                    "passed": rng.random(per) < 0.84 + 0.025 * q_index,
                    "quarter": f"{year}Q{q}",
                    "_anomaly": text_where(unknown, "unknown_community"),
                }
            )
        )
    return pl.concat(pieces)
