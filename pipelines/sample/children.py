"""The child population of one chunk: who is born when and where, and their identifiers."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from pipelines.sample import domain, ids
from pipelines.sample.calendar import BIRTH_FIRST, DATA_END, as_dates, quarter_label

TWIN_RATE = 0.012
NAMESAKE_RATE = 0.003
RARE_NAME_RATE = 0.01
OUTSIDE_RATE = 0.03
BIRTH_RECORD_RATE = 0.92  # the rest were born elsewhere and moved in
ARCHIVE_RATE = 0.95
CERT_LETTERS = ("P", "Q", "R", "S", "T")  # birth years 2019..2023


@dataclass
class Population:
    """State shared by the chunks: ID sequence numbers used per birth day and sex."""

    seed: int
    id_counts: np.ndarray
    cert_mult: int
    cert_add: int

    @classmethod
    def start(cls, seed: int) -> Population:
        rng = np.random.default_rng([seed, 7])
        # An affine map i -> (a*i + b) mod 10^9 with a coprime to 10 numbers certificates
        # uniquely without storing the used ones.
        mult = int(rng.integers(10**8, 10**9)) | 1
        mult += 2 if mult % 5 == 0 else 0
        return cls(
            seed,
            np.zeros((DATA_END - BIRTH_FIRST + 1, 2), np.int64),
            mult,
            int(rng.integers(0, 10**9)),
        )


COMMUNITIES = domain.community_codes()
STREET_COMMUNITIES = [
    np.array([c[2] for c in COMMUNITIES if c[0].endswith(s[0])]) for s in domain.STREETS
]
STREET_SHARES = np.array([s[3] for s in domain.STREETS]) / sum(s[3] for s in domain.STREETS)


def pick_community(rng, street: np.ndarray) -> np.ndarray:
    """A community of each given street (index into domain.STREETS), uniformly."""
    pick = rng.random(len(street))
    out = np.empty(len(street), dtype=STREET_COMMUNITIES[0].dtype)
    for s, codes in enumerate(STREET_COMMUNITIES):
        here = street == s
        out[here] = codes[(pick[here] * len(codes)).astype(int)]
    return out


def names(rng, n: int, surname_idx: np.ndarray | None = None) -> pl.Series:
    surnames = np.array(domain.SURNAMES)
    if surname_idx is None:
        surname_idx = surname_index(rng, n)
    chars = np.array(domain.GIVEN_CHARS)
    first = chars[rng.integers(0, len(chars), n)]
    second = np.where(rng.random(n) < 0.85, chars[rng.integers(0, len(chars), n)], "")
    return pl.Series(np.char.add(np.char.add(surnames[surname_idx], first), second))


def surname_index(rng, n: int) -> np.ndarray:
    weights = 1.0 / (np.arange(len(domain.SURNAMES)) + 4.0)
    return rng.choice(len(domain.SURNAMES), size=n, p=weights / weights.sum())


def phones(rng, n: int) -> pl.Series:
    prefix = rng.choice(["13", "15", "17", "18", "19"], size=n)
    return pl.Series(np.char.add(prefix, rng.integers(10**8, 10**9, n).astype(str)))


def generate(rng, pop: Population, start: int, n: int) -> pl.DataFrame:
    index = np.arange(start, start + n)
    birth = rng.integers(BIRTH_FIRST, DATA_END + 1, n)
    male = rng.random(n) < 0.515
    surname = surname_index(rng, n)
    street = rng.choice(len(domain.STREETS), size=n, p=STREET_SHARES)
    outside = rng.random(n) < OUTSIDE_RATE
    has_birth = (rng.random(n) < BIRTH_RECORD_RATE) | outside
    has_archive = (rng.random(n) < ARCHIVE_RATE) & ~outside
    mother_birth = birth - rng.integers(22 * 365, 40 * 365, n)
    mother_region = ids.adult_regions(rng, mother_birth, 0.4)
    mother_seq = 2 * rng.integers(0, 500, n)

    # Twins: the odd neighbour of a pair 4k, 4k+1 shares birth day, mother, surname and home.
    twin = (index % 4 == 0) & (rng.random(n) < TWIN_RATE) & (np.arange(n) + 1 < n)
    first, second = np.flatnonzero(twin), np.flatnonzero(twin) + 1
    for values in (
        birth,
        surname,
        street,
        outside,
        has_birth,
        has_archive,
        mother_birth,
        mother_region,
        mother_seq,
    ):
        values[second] = values[first]

    community = np.where(
        outside, rng.choice(domain.OUTSIDE_COMMUNITIES, n), pick_community(rng, street)
    )
    community[second] = community[first]

    # Namesakes: 4k+1 and 4k+3 (never twins) get the same name, birth day and sex.
    namesake = (index % 4 == 1) & (rng.random(n) < NAMESAKE_RATE) & (np.arange(n) + 2 < n)
    a, b = np.flatnonzero(namesake), np.flatnonzero(namesake) + 2
    birth[b], male[b] = birth[a], male[a]

    child_names = names(rng, n, surname)
    rare = _rare_name_rows(rng, birth, start)
    has_birth[rare] = True
    outside[rare] = False
    rare_chars = np.array(domain.RARE_CHARS)[rng.integers(0, len(domain.RARE_CHARS), n)]
    child_names = child_names.scatter(
        rare, child_names.gather(rare).str.slice(0, 1) + pl.Series(rare_chars[rare])
    )
    child_names = child_names.scatter(b, child_names.gather(a))

    frame = pl.DataFrame(
        {
            "child": index,
            "birth_day": birth,
            "birth_date": as_dates(birth),
            "sex": np.where(male, "M", "F"),
            "child_name": child_names,
            "id_number": _child_ids(pop, birth, male),
            "birth_cert_no": _certificates(pop, index, birth),
            "street": street,
            "community_code": community,
            "outside": outside,
            "has_birth": has_birth,
            "has_archive": has_archive & ~outside,
            "mother_id": ids.resident_ids(mother_region, mother_birth, mother_seq),
            "mother_name": names(rng, n),
            "phone": phones(rng, n),
            "twin": np.isin(np.arange(n), np.concatenate([first, second])),
            "namesake": np.isin(np.arange(n), np.concatenate([a, b])),
        }
    )
    return frame


def _rare_name_rows(rng, birth: np.ndarray, start: int) -> np.ndarray:
    """About 1% of names use a character GBK cannot encode; in the first chunk also the
    first child born in every quarter, so every quarterly births file holds one."""
    rare = rng.random(len(birth)) < RARE_NAME_RATE
    if start == 0:
        quarters = quarter_label(birth)
        _, first_of_quarter = np.unique(quarters, return_index=True)
        rare[first_of_quarter] = True
    return np.flatnonzero(rare)


def _child_ids(pop: Population, birth: np.ndarray, male: np.ndarray) -> pl.Series:
    """Unique IDs: the k-th child of a sex born on a day gets sequence k (region overflows)."""
    day_index = birth - BIRTH_FIRST
    sex = male.astype(np.int64)
    order = np.lexsort((sex, day_index))
    group = day_index[order] * 2 + sex[order]
    starts = np.r_[0, np.flatnonzero(np.diff(group)) + 1]
    within = np.arange(len(order)) - np.repeat(starts, np.diff(np.r_[starts, len(order)]))
    rank = np.empty_like(within)
    rank[order] = within
    rank += pop.id_counts[day_index, sex]
    np.add.at(pop.id_counts, (day_index, sex), 1)
    region = np.array(domain.CHILD_REGIONS)[rank // 500]
    return ids.resident_ids(region, birth, ids.sequence_numbers(male, rank))


def _certificates(pop: Population, index: np.ndarray, birth: np.ndarray) -> pl.Series:
    number = (pop.cert_mult * index.astype(np.int64) + pop.cert_add) % 10**9
    years = birth.astype("datetime64[D]").astype("datetime64[Y]").astype(np.int64) + 1970
    letters = np.array(CERT_LETTERS)[years - 2019]
    return ids.numbered(pl.Series(letters), number, 9)
