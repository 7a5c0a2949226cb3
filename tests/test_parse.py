"""Reading a part by its distinct values gives what reading each row alone gives."""

import itertools

import polars as pl

from pipelines.ingest import parse, readers
from pipelines.ingest.sources import SOURCES

KEY = b"test-secret-not-for-production"

# Forms of every column of a health check, good and bad, cycled so that values repeat.
FORMS = {
    "check_no": [f"TJ{i:04d}" for i in range(7)],
    "archive_no": ["DA01", " DA02", "da01", None],
    "id_number": ["11010519491231002X", "110105491231002", "110105194912310021", None, ""],
    "birth_cert_no": ["S1", None, "s2"],
    "child_name": ["张 三", "张三", "阿依・买买提", None],
    "sex": ["男", " 男", "2", "f", "未知", None],
    "birth_date": ["2022-01-05", "2022/1/5", "20220105", "2022年1月5日", "2022-02-30", None],
    "facility_code": ["330206H01", " 330206H02 ", None],
    "check_date": ["2023-01-05", "2023/3/1", "2021-12-31", "20230105 08:30", "明天", None],
    "height_cm": ["75.5", "1,200", "abc", None, "80"],
    "weight_kg": ["9.1", "0", "9.1"],
    "hemoglobin_g_l": ["110", None, "３０"],
}


def _part(rows: int) -> pl.DataFrame:
    columns = {
        name: list(itertools.islice(itertools.cycle(forms), rows)) for name, forms in FORMS.items()
    }
    return _numbered(pl.DataFrame(columns, schema=dict.fromkeys(FORMS, pl.String)))


def _numbered(frame: pl.DataFrame) -> pl.DataFrame:
    """With `_row` as the readers number a file's rows (the header is row 1)."""
    return frame.with_row_index("_row", offset=2).with_columns(pl.col("_row").cast(pl.Int64))


def test_a_part_of_repeated_values_reads_as_its_rows_one_by_one():
    source = SOURCES["health_checks"]
    part = _part(420)  # 2 x distinct values <= rows: every column read by value
    whole = parse.parse_frame(source, part, KEY)
    alone = [parse.parse_frame(source, part.slice(i, 1), KEY) for i in range(part.height)]
    assert whole.rows_read == part.height
    for table in ("valid", "quarantine", "warnings"):
        expected = pl.concat([getattr(one, table) for one in alone])
        assert getattr(whole, table).equals(expected), table
    # Both outcomes occur, so the comparison covers typed values and reasons.
    assert 0 < whole.valid.height < part.height
    assert whole.quarantine["reason_code"].n_unique() >= 4


def test_typed_parquet_columns_read_as_their_text(tmp_path):
    """Dates and decimals of a Parquet file are taken as they are (the Parquet reader keeps them
    typed); the outcome is that of the same values written as text."""
    typed_columns = {  # per row: birth_date, check_date, height_cm, weight_kg, hemoglobin_g_l
        "good": ("2022-01-05", "2023-01-05", "75.5", "9.1", "110.0"),
        "too tall": ("2022-01-05", "2023-01-05", "1200.0", "9.1", None),
        "checked before birth": ("2022-03-01", "2021-12-31", "80.0", "9.5", "30.0"),
        "no birth date": (None, "2023-01-05", "80.0", "9.5", "30.0"),
    }
    names = ["birth_date", "check_date", "height_cm", "weight_kg", "hemoglobin_g_l"]
    text = pl.DataFrame(
        [
            {"check_no": f"TJ{i}", "archive_no": "DA01", "sex": "男", "facility_code": "H01"}
            | dict(zip(names, values, strict=True))
            for i, values in enumerate(typed_columns.values())
        ],
        schema=dict.fromkeys(["check_no", "archive_no", "sex", "facility_code", *names], pl.String),
    )
    path = tmp_path / "checks.parquet"
    text.with_columns(
        pl.col(names[:2]).str.to_date(), pl.col(names[2:]).cast(pl.Float64)
    ).write_parquet(path)
    raw = readers.read_raw(path, b"").frame
    assert [raw.schema[c] for c in names] == [pl.Date] * 2 + [pl.Float64] * 3

    source = SOURCES["health_checks"]
    typed = parse.parse_frame(source, raw, KEY)
    from_text = parse.parse_frame(source, _numbered(text), KEY)
    for table in ("valid", "quarantine", "warnings"):
        assert getattr(typed, table).equals(getattr(from_text, table)), table
    assert typed.valid["_row"].to_list() == [2]
    assert typed.quarantine.select("row_number", "reason_code", "detail").rows() == [
        (3, "out_of_range", "height_cm: outside 30.0..150.0"),
        (4, "date_before_birth", "check_date: before the birth date"),
        (5, "missing_required_value", "birth_date: required value is empty"),
    ]
