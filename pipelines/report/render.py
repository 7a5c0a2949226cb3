"""The evaluators' report: one self-contained HTML page in Chinese, charts as inline SVG.

The sections are prepared as plain data (`indicator_sections`, `process_sections`) and laid
out by the Jinja2 templates in `templates/`, which escape every value. The page holds no
script and loads nothing: it reads and prints (A4) as it is.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from pipelines.config import Settings
from pipelines.report import indicator_sections as sections
from pipelines.report.formatting import DEFAULT_TIMEZONE, local_time
from pipelines.report.process_sections import (
    coverage_section,
    quality_section,
    submission_section,
)
from pipelines.report.published import Published, read_published
from pipelines.report.streets import section as assessment_section
from pipelines.report.submissions import read_vintages, submissions_path

# Figures align right in a table, text left.
_FIGURE = re.compile(r"^[≥≤<>=]?[+-]?[\d.]+%?$|^已抑制$|^—$")

TEMPLATES = Environment(
    loader=PackageLoader("pipelines.report"),
    autoescape=select_autoescape(default=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
TEMPLATES.tests["figure"] = lambda cell: bool(_FIGURE.match(str(cell)))
# The data dictionary (pipelines/report/dictionary.py), beside the report, which links to it.
DICTIONARY_FILE = "data_dictionary.html"
# The report's sections: anchor and heading, in page order (the table of contents too).
SECTIONS = {
    "scorecard": "一、试点目标达成情况",
    "three-in-one": "二、三位一体中心服务辖区建档率",
    "trends": "三、指标季度趋势",
    "streets": "四、街道对比",
    "assessment": "五、街道评估与排名",
    "backlog": "六、随访清单积压",
    "coverage": "七、数据覆盖与关联质量",
    "quality": "八、数据质量检查",
    "submissions": "九、季度报送与修订",
    "method": "十、方法说明：小单元抑制",
}


def write_report(
    out: Path,
    settings: Settings,
    published: Path | None = None,
    timezone: str = DEFAULT_TIMEZONE,
) -> Path:
    """Write the report of the published file (by default the settings' warehouse) to `out`,
    time stamps in `timezone`."""
    path = published or settings.warehouse_path
    data = read_published(path)
    vintages = read_vintages(submissions_path(path))
    html = render(data, vintages, settings.small_cell_k, settings.district_name, timezone=timezone)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(html, encoding="utf-8")
    return out


def render(
    data: Published,
    vintages: dict[str, pl.DataFrame],
    k: int,
    district_name: str,
    generated_at: datetime | None = None,
    timezone: str = DEFAULT_TIMEZONE,
) -> str:
    indicators = data.indicators
    values = data.protected_values(k)
    scorecard = data.protected_scorecard(k)
    period = data.as_of_period
    of_period = scorecard.filter(pl.col("period") == period)
    cards = sections.cards(scorecard, indicators)
    protected_streets = data.protected_streets(k)
    comparators = dict(data.scorecard.select("target_code", "comparator").unique().iter_rows())
    return TEMPLATES.get_template("report.html").render(
        sections=SECTIONS,
        district_name=district_name,
        period=period,
        period_end=str(values.filter(pl.col("period") == period)["period_end"].max()),
        first_quarter=sections.first_quarter_zh(values),
        generated_at=local_time(generated_at or datetime.now(UTC), timezone),
        timezone=timezone,
        source_file=data.path.name,
        scorecard=sections.scorecard_section(of_period, indicators),
        three_in_one=sections.three_in_one_section(of_period, values, period, indicators),
        trends=sections.trend_figures(values, scorecard, indicators, cards),
        streets=sections.street_figures(values, period, indicators, cards),
        assessment=assessment_section(
            *(protected_streets or (None, None)), period, indicators, comparators
        ),
        backlog=sections.backlog_section(data.protected_backlog(k), values, period),
        coverage=coverage_section(data),
        quality=quality_section(data.check_results, timezone),
        submissions=submission_section(data, vintages, k, timezone),
        k=k,
        dictionary_file=DICTIONARY_FILE,
    )
