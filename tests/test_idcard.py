"""GB 11643 resident ID numbers, with python-stdnum as the independent reference."""

import random

import polars as pl
from stdnum.cn import ric

from pipelines.ingest.idcard import id_birth_date, id_sex, with_id18


def _id18(texts):
    frame = pl.DataFrame({"t": texts}, schema={"t": pl.String})
    return with_id18(frame, "t", "out")["out"].to_list()


def _check(body17: str) -> str:
    # stdnum expects the full number and ignores its last character.
    return ric.calc_check_digit(body17 + "0")


def _random_body(rng: random.Random) -> str:
    region = rng.choice(["330206", "330203", "110101", "440305"])
    born = f"{rng.randint(1950, 2023)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"
    return region + born + f"{rng.randint(0, 999):03d}"


def test_check_characters_agree_with_stdnum():
    rng = random.Random(11643)
    bodies = [_random_body(rng) for _ in range(2000)]
    correct = [b + _check(b) for b in bodies]
    assert _id18(correct) == correct
    # Every wrong check character is rejected, and stdnum agrees it is invalid.
    wrong = []
    for body, good in zip(bodies[:200], correct[:200], strict=True):
        bad = next(c for c in "0123456789X" if c != good[-1])
        wrong.append(body + bad)
        assert not ric.is_valid(body + bad)
    assert _id18(wrong) == [None] * len(wrong)


def test_lower_case_x_and_full_width_digits_are_the_same_number():
    body = "33020619900101001"
    check = _check(body)
    if check != "X":  # find a body whose check character is X
        body = next(b for b in (f"3302061990010100{i}" for i in range(10)) if _check(b) == "X")
    assert _id18([body + "x"]) == [body + "X"]


def test_fifteen_digit_numbers_convert_to_eighteen():
    # 330206 90 01 01 123: born 1990-01-01; the 18-digit form inserts "19" and a check char.
    legacy = "330206900101123"
    body = "33020619900101123"
    assert _id18([legacy]) == [body + _check(body)]
    assert ric.is_valid(_id18([legacy])[0])


def test_placeholders_bad_lengths_and_impossible_dates_are_invalid():
    body_bad_date = "33020619901301123"  # month 13
    texts = [
        "无",
        "000000000000000000",
        "0" * 15,
        "12345",
        "3.30206199001011e+17",  # a number Excel made of an ID
        body_bad_date + _check(body_bad_date),
        "330206199001011230000",
    ]
    assert _id18(texts) == [None] * len(texts)


def test_embedded_birth_date_and_sex():
    body = "33020620230105002"  # born 2023-01-05, 17th digit 2: female
    full = body + _check(body)
    frame = pl.DataFrame({"t": [full]})
    got = frame.select(id_birth_date(pl.col("t")), id_sex(pl.col("t")).alias("s")).row(0)
    assert str(got[0]) == "2023-01-05"
    assert got[1] == "F"
