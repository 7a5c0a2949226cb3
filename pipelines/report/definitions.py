"""Indicator definitions shown beside each figure, and which indicators count people.

Names and target texts come from the dbt seeds (`indicators.csv`, `plan_targets.csv`, the
single home of the plan's targets) when they are there. The mapping below holds the Chinese
numerator/denominator texts (the seed's are English), the fallback names and targets, and
what the seeds do not say: which indicators count people (subject to small-cell
suppression), which are shown as %, and which sources feed each (to explain revisions).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import polars as pl

from pipelines.config import REPO_ROOT

SEEDS = REPO_ROOT / "dbt_project" / "seeds"


@dataclass(frozen=True)
class Definition:
    code: str
    name_zh: str
    numerator_zh: str
    denominator_zh: str
    sources: tuple[str, ...]  # source names of pipelines.ingest.sources.SOURCES
    target_zh: str
    is_ratio: bool  # the value is a fraction shown as %
    counts_people: bool  # numerator/denominator count children, staff or survey answers


_FALLBACK = (
    Definition(
        "record_filing_rate",
        "婴幼儿健康档案建档率",
        "满1月龄的3岁以下儿童中在参考日前已建档的人数",
        "满1月龄的3岁以下儿童数",
        ("births", "health_archives"),
        "100%（三位一体中心服务辖区）",
        True,
        True,
    ),
    Definition(
        "health_management_rate",
        "婴幼儿健康管理率",
        "近一年内至少接受1次健康检查的3岁以下儿童数",
        "3岁以下儿童数",
        ("births", "health_archives", "health_checks"),
        "≥95%",
        True,
        True,
    ),
    Definition(
        "systematic_management_rate",
        "3岁以下儿童系统管理率",
        "按4:2:2频次按时完成检查的3岁以下儿童数",
        "3岁以下儿童数",
        ("births", "health_archives", "health_checks"),
        "无（仅报告）",
        True,
        True,
    ),
    Definition(
        "enrollment_check_rate",
        "入托健康检查率",
        "本期入托且入托前90天内有体检的入托人次",
        "本期入托人次",
        ("enrollments", "health_checks", "institutions"),
        "无（仅报告）",
        True,
        True,
    ),
    Definition(
        "affordable_slot_share",
        "普惠托育率（普惠托位占比）",
        "运营中普惠托育机构的托位数",
        "运营中托育机构的托位数",
        ("institutions",),
        "≥80%",
        True,
        False,
    ),
    Definition(
        "slots_per_community",
        "社区平均托位数",
        "运营中托育机构的托位数",
        "行政区划中的社区数",
        ("institutions", "divisions"),
        "≥16",
        False,
        False,
    ),
    Definition(
        "street_coverage",
        "普惠托育街道覆盖率",
        "有运营中普惠托育机构（托位>0）的街道数",
        "街道数",
        ("institutions", "divisions"),
        "100%",
        True,
        False,
    ),
    Definition(
        "station_street_coverage",
        "照护驿站街道覆盖率",
        "有运营中婴幼儿照护驿站的街道数",
        "街道数",
        ("institutions", "divisions"),
        "100%",
        True,
        False,
    ),
    Definition(
        "provincial_standard_stations",
        "省级标准照护驿站数",
        "通过省级标准验收的运营中照护驿站数",
        "—（计数）",
        ("institutions",),
        "≥30",
        False,
        False,
    ),
    Definition(
        "three_in_one_centers",
        "医防护三位一体中心数",
        "已认定的三位一体儿童健康管理中心数",
        "—（计数）",
        ("health_facilities",),
        "≥1",
        False,
        False,
    ),
    Definition(
        "staff_certification_rate",
        "从业人员持证率",
        "运营中机构在职且持有合格证书的从业人员数",
        "运营中机构在职从业人员数",
        ("staff", "institutions"),
        "≥80%",
        True,
        True,
    ),
    Definition(
        "parenting_knowledge_rate",
        "科学育儿知识普及率",
        "近一年内调查结果为知晓的问卷数",
        "近一年内调查问卷数",
        ("parenting_surveys",),
        "≥90%",
        True,
        True,
    ),
)


def load_definitions(seeds: Path = SEEDS) -> dict[str, Definition]:
    """Definitions by indicator code, in the plan's order; seed texts win where present."""
    definitions = {d.code: d for d in _FALLBACK}
    if (seeds / "indicators.csv").exists():
        for row in pl.read_csv(seeds / "indicators.csv", infer_schema=False).iter_rows(named=True):
            if row["code"] in definitions and row.get("name_zh"):
                definitions[row["code"]] = replace(definitions[row["code"]], name_zh=row["name_zh"])
    if (seeds / "plan_targets.csv").exists():
        targets = pl.read_csv(seeds / "plan_targets.csv", infer_schema=False)
        for code, texts in (
            targets.group_by("indicator_code", maintain_order=True).agg("target_zh").rows()
        ):
            if code in definitions:
                definitions[code] = replace(definitions[code], target_zh="；".join(texts))
    return definitions


def people_indicators() -> frozenset[str]:
    return frozenset(d.code for d in _FALLBACK if d.counts_people)


def ratio_indicators() -> frozenset[str]:
    return frozenset(d.code for d in _FALLBACK if d.is_ratio)


def indicator_sources() -> dict[str, tuple[str, ...]]:
    return {d.code: d.sources for d in _FALLBACK}
