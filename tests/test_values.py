"""Value forms of real exports (contract section 2), each checked against a hand-written answer."""

from datetime import date

import polars as pl
import pytest

from pipelines.ingest import values
from pipelines.ingest.sources import CLASS_TYPES


def _apply(fn, texts):
    frame = pl.DataFrame({"t": texts}, schema={"t": pl.String})
    return frame.select(fn(values.clean(pl.col("t")))).to_series().to_list()


@pytest.mark.parametrize(
    "text",
    [
        "2023-01-05",
        "2023/1/5",
        "20230105",
        "2023年1月5日",
        "2023.01.05",
        "2023-01-05 00:00:00",  # an Excel date cell read as text
        "2023-01-05T00:00:00",
        " ２０２３-０１-０５ ",  # full-width digits and spaces
        "\u30002023/01/05\u3000",
    ],
)
def test_every_date_form_reads_as_the_same_day(text):
    assert _apply(values.parse_date, [text]) == [date(2023, 1, 5)]


@pytest.mark.parametrize("text", ["2023-02-30", "2023/13/1", "05/01/2023", "明天", "2023-1"])
def test_impossible_or_foreign_dates_do_not_read(text):
    assert _apply(values.parse_date, [text]) == [None]


def test_booleans_in_every_form():
    texts = ["是", "否", "Y", "n", "1", "0", "true", "FALSE", "True", "maybe"]
    expected = [True, False, True, False, True, False, True, False, True, None]
    assert _apply(values.parse_bool, texts) == expected


def test_sex_codes_gb_t_2261_and_letters():
    texts = ["男", "女", "1", "2", "M", "f", "Ｍ", "0", "9", "未知"]
    expected = ["M", "F", "M", "F", "M", "F", "M", None, None, None]
    assert _apply(values.parse_sex, texts) == expected


def test_enumerations_accept_chinese_labels_and_english_codes():
    texts = ["托小班", "toddler_small", "TODDLER", "托班", "大班", "k_large", "学前班"]
    expected = ["toddler_small", "toddler_small", "toddler", "toddler", "k_large", "k_large", None]
    assert _apply(lambda t: values.parse_code(t, CLASS_TYPES), texts) == expected


def test_numbers_as_excel_writes_them():
    assert _apply(values.parse_int, ["12", "12.0", "１２", "12.5", "x"]) == [12, 12, 12, None, None]
    assert _apply(values.parse_float, ["75.5", " 75.5 ", "7,5", "abc"]) == [75.5, 75.5, 75.0, None]


def test_empty_and_blank_values_are_missing():
    assert _apply(lambda t: t, ["", "   ", "\u3000", None, " a "]) == [None, None, None, None, "a"]


@pytest.mark.parametrize(
    ("header", "key"),
    [
        ("身高(cm)", "身高"),
        ("身高（cm）", "身高"),
        ("体重 [kg]", "体重"),
        ("  Birth_Date ", "birth_date"),
        ("ＢＩＲＴＨ＿ＤＡＴＥ", "birth_date"),
        ("\ufeff出生医学证明编号", "出生医学证明编号"),
        ("月保教费【元】", "月保教费"),
    ],
)
def test_header_keys_ignore_case_spaces_width_and_units(header, key):
    assert values.header_key(header) == key


def test_names_compare_without_inner_spaces_and_dot_variants():
    texts = ["王 小明", "阿依古丽•买买提", "阿依古丽·买买提"]
    got = _apply(values.normalise_name, texts)
    assert got == ["王小明", "阿依古丽·买买提", "阿依古丽·买买提"]
