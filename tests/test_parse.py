"""Reading a part by its distinct values gives what reading each row alone gives."""

import itertools

import polars as pl
import pytest

from pipelines.lib import parse
from pipelines.lib.sources import SOURCES

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
    frame = pl.DataFrame(columns, schema=dict.fromkeys(FORMS, pl.String))
    return frame.with_row_index("_row", offset=2).with_columns(pl.col("_row").cast(pl.Int64))


@pytest.mark.usefixtures("yiyu_env")
def test_a_part_of_repeated_values_reads_as_its_rows_one_by_one():
    source = SOURCES["health_checks"]
    part = _part(420)  # 2 x distinct values <= rows: every column read by value
    whole = parse.parse_frame(source, part)
    alone = [parse.parse_frame(source, part.slice(i, 1)) for i in range(part.height)]
    assert whole.rows_read == part.height
    for table in ("valid", "quarantine", "warnings"):
        expected = pl.concat([getattr(one, table) for one in alone])
        assert getattr(whole, table).equals(expected), table
    # Both outcomes occur, so the comparison covers typed values and reasons.
    assert 0 < whole.valid.height < part.height
    assert whole.quarantine["reason_code"].n_unique() >= 4
