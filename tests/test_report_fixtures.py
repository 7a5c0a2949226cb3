"""A hand-made published warehouse (contract section 6 columns) for the report tests.

No tests here: the report, suppression and submission tests build their published files
with `write_published`. Figures are written out by hand so each test can work its expected
answers from them.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import duckdb
import polars as pl

from pipelines.config import Settings
from pipelines.ingest.sources import SOURCES

DISTRICT = ("330206", "北仑区")
STREETS = [
    ("330206001", "新碶街道"),
    ("330206002", "大碶街道"),
    ("330206003", "霞浦街道"),
    ("330206004", "柴桥街道"),
]
PERIODS = [
    ("2022Q4", date(2022, 12, 31)),
    ("2023Q1", date(2023, 3, 31)),
    ("2023Q2", date(2023, 6, 30)),
]
NAMES = {
    "record_filing_rate": "婴幼儿健康档案建档率",
    "health_management_rate": "婴幼儿健康管理率",
    "systematic_management_rate": "3岁以下儿童系统管理率",
    "enrollment_check_rate": "入托健康检查率",
    "affordable_slot_share": "普惠托育率",
    "slots_per_community": "社区平均托位数",
    "street_coverage": "普惠托育街道覆盖率",
    "station_street_coverage": "照护驿站街道覆盖率",
    "provincial_standard_stations": "省级标准照护驿站数",
    "three_in_one_centers": "医防护三位一体中心数",
    "staff_certification_rate": "从业人员持证率",
    "parenting_knowledge_rate": "科学育儿知识普及率",
}
TARGETS = {
    "health_management_rate": 0.95,
    "affordable_slot_share": 0.8,
    "slots_per_community": 16.0,
    "street_coverage": 1.0,
    "station_street_coverage": 1.0,
    "provincial_standard_stations": 30.0,
    "three_in_one_centers": 1.0,
    "staff_certification_rate": 0.8,
    "parenting_knowledge_rate": 0.9,
}
# marts.indicators as the refresh publishes it, in the plan's order: unit, whether it counts
# people, sources, numerator and denominator texts, target text.
DEFINITIONS = {
    "record_filing_rate": (
        "ratio", True, "births,health_archives",
        "满1月龄的3岁以下儿童中在参考日前已建档的人数", "满1月龄的3岁以下儿童数",
        "100%（三位一体中心服务辖区）",
    ),
    "health_management_rate": (
        "ratio", True, "births,health_archives,health_checks",
        "近一年内至少接受1次健康检查的3岁以下儿童数", "3岁以下儿童数", "≥95%",
    ),
    "systematic_management_rate": (
        "ratio", True, "births,health_archives,health_checks",
        "按4:2:2频次按时完成检查的3岁以下儿童数", "3岁以下儿童数", "无（仅报告）",
    ),
    "enrollment_check_rate": (
        "ratio", True, "enrollments,health_checks,institutions",
        "本期入托且入托前90天内有体检的入托人次", "本期入托人次", "无（仅报告）",
    ),
    "affordable_slot_share": (
        "ratio", False, "institutions",
        "运营中普惠托育机构的托位数", "运营中托育机构的托位数", "≥80%",
    ),
    "slots_per_community": (
        "slots_per_community", False, "institutions,divisions",
        "运营中托育机构的托位数", "行政区划中的社区数", "≥16",
    ),
    "street_coverage": (
        "ratio", False, "institutions,divisions",
        "有运营中普惠托育机构（托位>0）的街道数", "街道数", "100%",
    ),
    "station_street_coverage": (
        "ratio", False, "institutions,divisions",
        "有运营中婴幼儿照护驿站的街道数", "街道数", "100%",
    ),
    "provincial_standard_stations": (
        "count", False, "institutions",
        "通过省级标准验收的运营中照护驿站数", "—（计数）", "≥30",
    ),
    "three_in_one_centers": (
        "count", False, "health_facilities",
        "已认定的三位一体儿童健康管理中心数", "—（计数）", "≥1",
    ),
    "staff_certification_rate": (
        "ratio", True, "staff,institutions",
        "运营中机构在职且持有合格证书的从业人员数", "运营中机构在职从业人员数", "≥80%",
    ),
    "parenting_knowledge_rate": (
        "ratio", True, "parenting_surveys",
        "近一年内调查结果为知晓的问卷数", "近一年内调查问卷数", "≥90%",
    ),
}  # fmt: skip
# Indicators that count children, staff or survey answers (contract section 6).
PEOPLE = frozenset(code for code, (_, people, *_) in DEFINITIONS.items() if people)
# 2023Q2 figures: per street (numerator, denominator), then the district's; the district holds
# people without a known street too (record_filing_rate: 2 archived and 3 children in all).
Q2 = {
    "record_filing_rate": ([(188, 200), (95, 100), (140, 150), (76, 80)], (501, 533)),
    "health_management_rate": ([(190, 200), (96, 100), (140, 150), (78, 80)], (504, 530)),
    "systematic_management_rate": ([(150, 200), (80, 100), (120, 150), (60, 80)], (410, 530)),
    "enrollment_check_rate": ([(30, 40), (25, 30), (20, 25), (2, 2)], (77, 97)),
    "affordable_slot_share": ([(300, 360), (200, 240), (2, 3), (100, 150)], (602, 753)),
    "slots_per_community": ([(360, 20), (240, 15), (3, 10), (150, 8)], (753, 53)),
    "street_coverage": ([(1, 1), (1, 1), (1, 1), (1, 1)], (4, 4)),
    "station_street_coverage": ([(1, 1), (1, 1), (0, 1), (1, 1)], (3, 4)),
    "provincial_standard_stations": ([(12, None), (9, None), (3, None), (7, None)], (31, None)),
    "three_in_one_centers": ([(1, None), (1, None), (0, None), (0, None)], (2, None)),
    "staff_certification_rate": ([(40, 50), (3, 4), (30, 36), (20, 25)], (93, 115)),
    "parenting_knowledge_rate": ([(45, 50), (18, 20), (30, 30), (40, 44)], (133, 144)),
}
# Earlier quarters: numerators scaled by these factors (denominators kept).
SCALE = {"2022Q4": 0.8, "2023Q1": 0.9, "2023Q2": 1.0}
SCORECARD_COLUMNS = [
    "target_code", "target_zh", "indicator_code", "period", "comparator", "target", "value",
]  # fmt: skip
# The three-in-one centres serve streets 1 and 2: the target takes the lower filing rate.
THREE_IN_ONE_STREETS = ("330206001", "330206002")


def _target(code: str, level: str, scope_code: str) -> float | None:
    """As the plan_targets seed applies them: the filing target on served streets only, the
    two counts at district scope, the others at every scope."""
    if code == "record_filing_rate":
        return 1.0 if level != "district" and scope_code[:9] in THREE_IN_ONE_STREETS else None
    if code in ("provincial_standard_stations", "three_in_one_centers"):
        return TARGETS[code] if level == "district" else None
    return TARGETS.get(code)


def _row(code, level, scope, period, end, num, den):
    value = None if den == 0 else (num if den is None else num / den)
    if code == "slots_per_community":
        value = num / den
    target = _target(code, level, scope[0])
    return {
        "indicator_code": code,
        "indicator_name_zh": NAMES[code],
        "scope_level": level,
        "scope_code": scope[0],
        "scope_name": scope[1],
        "period": period,
        "period_end": end,
        "numerator": num,
        "denominator": den,
        "value": value,
        "target": target,
        "target_met": None if target is None or value is None else value >= target - 1e-12,
    }


def indicator_values(figures: dict = Q2) -> pl.DataFrame:
    rows = []
    for period, end in PERIODS:
        for code, (streets, district) in figures.items():
            scale = (
                SCALE[period] if code not in ("street_coverage", "three_in_one_centers") else 1.0
            )
            scaled = [(round(n * scale), d) for n, d in streets]
            rows += [
                _row(code, "street", s, period, end, n, d)
                for s, (n, d) in zip(STREETS, scaled, strict=True)
            ]
            n, d = district
            rows.append(_row(code, "district", DISTRICT, period, end, round(n * scale), d))
            if code == "record_filing_rate":  # communities are in the marts but never published
                rows.append(_row(code, "community", ("330206001001", "某社区"), period, end, 2, 3))
    return pl.DataFrame(rows, infer_schema_length=None)


def scorecard(values: pl.DataFrame) -> pl.DataFrame:
    rows = []
    for period, _ in PERIODS:
        of_period = values.filter(pl.col("period") == period)
        filing = of_period.filter(
            (pl.col("indicator_code") == "record_filing_rate")
            & pl.col("scope_code").is_in(THREE_IN_ONE_STREETS)
        )["value"].min()
        rows.append(
            (
                "T01",
                "三位一体中心服务辖区建档率达100%",
                "record_filing_rate",
                period,
                "=",
                1.0,
                filing,
            )
        )
        for i, (code, target) in enumerate(TARGETS.items(), start=2):
            value = of_period.filter(
                (pl.col("indicator_code") == code) & (pl.col("scope_level") == "district")
            )["value"][0]
            comparator = "=" if target == 1.0 and code != "three_in_one_centers" else ">="
            rows.append(
                (f"T{i:02d}", f"{NAMES[code]}目标", code, period, comparator, target, value)
            )
    frame = pl.DataFrame(rows, schema=SCORECARD_COLUMNS, orient="row")
    return frame.with_columns(met=pl.col("value") >= pl.col("target") - 1e-12)


def _indicator(position, code, unit, people, sources, numerator, denominator, target_zh) -> dict:
    return {
        "indicator_code": code,
        "plan_order": position,
        "name_zh": NAMES[code],
        "numerator_zh": numerator,
        "denominator_zh": denominator,
        "unit": unit,
        "scope_levels": "district,street" if unit == "count" else "district,street,community",
        "sources_zh": "、".join(SOURCES[s].label_zh for s in sources.split(",")),
        "target": TARGETS.get(code),
        "comparator": ">=" if code in TARGETS else None,
        "sources": sources,
        "counts_people": people,
        "target_zh": target_zh,
        "numerator_definition": f"{code} numerator",
        "denominator_definition": None if unit == "count" else f"{code} denominator",
    }


def indicators() -> pl.DataFrame:
    """In the plan's order by `plan_order`, stored in reverse (a table's rows have no order)."""
    rows = [
        _indicator(position, code, *definition)
        for position, (code, definition) in enumerate(DEFINITIONS.items(), start=1)
    ]
    return pl.DataFrame(rows[::-1], infer_schema_length=None)


def file_audit(extra_files: int = 0, when: datetime = datetime(2023, 7, 1, 2, 0)) -> pl.DataFrame:
    rows = [
        ("births", "2023/births_q2.csv", "a" * 64, "loaded", None, 600, 590, 6, 4),
        ("health_archives", "archives.xlsx", "b" * 64, "loaded", None, 560, 555, 5, 0),
        ("health_checks", "checks_2023q2.csv", "c" * 64, "loaded", None, 1200, 1180, 20, 0),
        (
            "health_checks",
            "checks_bad.csv",
            "d" * 64,
            "rejected",
            "missing_column:check_date",
            40,
            0,
            40,
            0,
        ),
        ("institutions", "institutions.parquet", "e" * 64, "loaded", None, 30, 30, 0, 0),
        ("staff", "staff.csv", "f" * 64, "loaded", None, 130, 125, 5, 0),
    ]
    rows += [
        ("health_checks", f"late/checks_late_{i}.csv", f"{i:064d}", "loaded", None, 10, 10, 0, 0)
        for i in range(extra_files)
    ]
    frame = pl.DataFrame(
        rows,
        schema=[
            "source",
            "file",
            "content_sha256",
            "status",
            "reject_reason",
            "rows_read",
            "rows_loaded",
            "rows_quarantined",
            "rows_superseded",
        ],
        orient="row",
    )
    return frame.with_columns(
        file_format=pl.col("file").str.extract(r"\.(\w+)$"),
        encoding=pl.lit("utf-8"),
        unknown_columns=pl.lit(None, pl.String),
        ingested_at=pl.lit(when),
    )


def quarantine() -> pl.DataFrame:
    rows = [
        ("births", "2023/births_q2.csv", 10 + i, "birth_date", "unparseable_value", "")
        for i in range(6)
    ]
    rows += [
        ("health_checks", "checks_2023q2.csv", 5 + i, "height_cm", "out_of_range", "")
        for i in range(20)
    ]
    return pl.DataFrame(
        rows,
        schema=["source", "file", "row_number", "column_name", "reason_code", "detail"],
        orient="row",
    )


def linkage_quality() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "source": ["births", "health_archives", "health_checks"],
            "records": [590, 555, 1180],
            "linked_by_id_number": [400, 500, 900],
            "linked_by_birth_cert": [590, 300, 200],
            "linked_by_archive_no": [0, 555, 1000],
            "linked_by_demographics": [0, 20, 30],
            "ambiguous": [0, 1, 2],
            "unlinked": [0, 0, 10],
            "conflicts": [0, 0, 1],
        }
    )


def check_results() -> pl.DataFrame:
    first, second = datetime(2023, 6, 30, 2), datetime(2023, 7, 1, 2)
    rows = [
        ("r1", first, "checks_height_range", "health_checks", "warn", False, "12", "new"),
        ("r1", first, "births_unique_key", "births", "blocking", True, "0", "ok"),
        ("r1", first, "staff_id_valid", "staff", "warn", False, "3", "new"),
        ("r2", second, "checks_height_range", "health_checks", "warn", False, "20", "persisting"),
        ("r2", second, "births_unique_key", "births", "blocking", True, "0", "ok"),
        ("r2", second, "staff_id_valid", "staff", "warn", True, "0", "resolved"),
        ("r2", second, "archives_date_order", "health_archives", "warn", False, "5", "new"),
        # A later run that evaluated births only: the other checks keep their r2 result.
        ("r3", datetime(2023, 7, 2, 2), "births_unique_key", "births", "blocking", True, "0", "ok"),
    ]
    return pl.DataFrame(
        rows,
        schema=[
            "run_id",
            "run_started_at",
            "check_name",
            "dataset",
            "severity",
            "passed",
            "observed_value",
            "status_change",
        ],
        orient="row",
    )


def write_published(
    path: Path,
    values: pl.DataFrame | None = None,
    audit: pl.DataFrame | None = None,
    with_quality: bool = True,
    with_indicators: bool = True,
    with_streets: bool = True,
) -> Path:
    """Write a published file like the refresh does: a finished copy renamed into place.
    `with_indicators` / `with_streets` False: as versions before those marts did."""
    values = indicator_values() if values is None else values
    tables = {
        "marts.indicator_values": values,
        "marts.evaluation_scorecard": scorecard(values),
        "marts.linkage_quality": linkage_quality(),
        "audit.file_audit": file_audit() if audit is None else audit,
        "audit.quarantine": quarantine(),
    }
    if with_streets:  # the builders' module imports this one
        from tests.test_report_streets import street_tables

        tables |= street_tables(values)
    if with_quality:
        tables["quality.check_results"] = check_results()
    if with_indicators:
        tables["marts.indicators"] = indicators()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.unlink(missing_ok=True)
    con = duckdb.connect(str(tmp))
    for schema in ("marts", "audit", "quality"):
        con.execute(f"create schema {schema}")
    for name, frame in tables.items():
        con.register("frame", frame)
        con.execute(f"create table {name} as select * from frame")
        con.unregister("frame")
    con.close()
    tmp.replace(path)
    return path


def settings_for(published: Path) -> Settings:
    """The settings an entry point builds for this published file (contract defaults else)."""
    return Settings.from_env({"YIYU_WAREHOUSE_PATH": str(published)})
