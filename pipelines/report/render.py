"""The evaluators' report: one self-contained HTML page in Chinese (plotly.js inlined once).

The sections are prepared as plain data (`indicator_sections`, `process_sections`) and laid
out by the Jinja2 templates in `templates/`, which escape every value.
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

import plotly.offline
import polars as pl
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from pipelines.config import Settings
from pipelines.report import indicator_sections as sections
from pipelines.report.process_sections import (
    coverage_section,
    quality_section,
    submission_section,
)
from pipelines.report.published import Published, read_published
from pipelines.report.submissions import read_vintages, submissions_path

# Figures align right in a table, text left.
_FIGURE = re.compile(r"^[≥≤<>=]?-?[\d.]+%?$|^已抑制$|^—$")

_TEMPLATES = Environment(
    loader=PackageLoader("pipelines.report"),
    autoescape=select_autoescape(default=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_TEMPLATES.tests["figure"] = lambda cell: bool(_FIGURE.match(str(cell)))


def write_report(
    out: Path, published: Path | None = None, settings: Settings | None = None
) -> Path:
    """Write the report of the published file (by default the settings' warehouse) to `out`."""
    settings = settings or Settings.from_env()
    path = published or settings.warehouse_path
    data = read_published(path)
    vintages = read_vintages(submissions_path(path))
    html = render(data, vintages, settings.small_cell_k, settings.district_name)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(html, encoding="utf-8")
    return out


def render(
    data: Published,
    vintages: dict[str, pl.DataFrame],
    k: int,
    district_name: str,
    generated_at: datetime | None = None,
) -> str:
    indicators = data.indicators
    values = data.protected_values(k)
    scorecard = data.protected_scorecard(k)
    period = data.as_of_period
    of_period = scorecard.filter(pl.col("period") == period)
    cards = sections.cards(scorecard, indicators)
    return _TEMPLATES.get_template("report.html").render(
        district_name=district_name,
        period=period,
        period_end=str(values.filter(pl.col("period") == period)["period_end"].max()),
        first_quarter=sections.first_quarter_zh(values),
        generated_at=f"{generated_at or datetime.now():%Y-%m-%d %H:%M}",
        source_file=data.path.name,
        plotly_js=Markup(plotly.offline.get_plotlyjs()),
        scorecard=sections.scorecard_section(of_period, indicators),
        three_in_one=sections.three_in_one_section(of_period, values, period, indicators),
        trends=sections.trend_figures(values, scorecard, indicators, cards),
        streets=sections.street_figures(values, period, indicators, cards),
        coverage=coverage_section(data),
        quality=quality_section(data.check_results),
        submissions=submission_section(data, vintages, k),
        k=k,
    )
