"""Plotly figures of the report, built only from suppressed (publishable) frames."""

from __future__ import annotations

import plotly.graph_objects as go
import polars as pl

from pipelines.report.formatting import SUPPRESSED, figure

_FONT = "Noto Sans CJK SC, Microsoft YaHei, PingFang SC, SimHei, sans-serif"
_CONFIG = {"displaylogo": False, "responsive": True}


def _layout(fig: go.Figure, title: str) -> go.Figure:
    fig.update_layout(
        title=title,
        font={"family": _FONT, "size": 13},
        height=340,
        margin={"l": 60, "r": 20, "t": 50, "b": 40},
        plot_bgcolor="white",
        showlegend=True,
        legend={"orientation": "h", "y": -0.2},
    )
    return fig


def trend(name: str, district: pl.DataFrame, target: float | None, ratio: bool) -> go.Figure:
    """District value per quarter; hidden values leave a gap and are named in the hover text."""
    rows = district.sort("period")
    fig = go.Figure(
        go.Scatter(
            x=rows["period"].to_list(),
            y=rows["value"].to_list(),
            mode="lines+markers",
            name="全区",
            text=[
                figure(v, ratio, s)
                for v, s in zip(rows["value"], rows["value_suppressed"], strict=True)
            ],
            hovertemplate="%{x}: %{text}<extra></extra>",
        )
    )
    if target is not None:
        fig.add_hline(
            y=target,
            line_dash="dash",
            line_color="#c0392b",
            annotation_text=f"目标 {figure(target, ratio)}",
        )
    fig.update_yaxes(tickformat=".0%" if ratio else None, rangemode="tozero", gridcolor="#eee")
    fig.update_xaxes(type="category", title="季度")
    return _layout(fig, f"{name} 季度趋势")


def street_comparison(
    name: str, streets: pl.DataFrame, district: dict | None, target: float | None, ratio: bool
) -> go.Figure:
    rows = streets.sort("scope_code")
    labels = [
        figure(v, ratio, s) for v, s in zip(rows["value"], rows["value_suppressed"], strict=True)
    ]
    fig = go.Figure(
        go.Bar(
            x=rows["scope_name"].to_list(),
            y=[0 if s else v for v, s in zip(rows["value"], rows["value_suppressed"], strict=True)],
            text=labels,
            textposition="outside",
            marker_color=["#bbb" if s else "#2e86c1" for s in rows["value_suppressed"]],
            name="街道",
            hovertemplate="%{x}: %{text}<extra></extra>",
        )
    )
    if district is not None and not district["value_suppressed"] and district["value"] is not None:
        fig.add_hline(
            y=district["value"],
            line_color="#117a65",
            annotation_text=f"全区 {figure(district['value'], ratio)}",
            annotation_position="bottom left",
        )
    if target is not None:
        fig.add_hline(
            y=target,
            line_dash="dash",
            line_color="#c0392b",
            annotation_text=f"目标 {figure(target, ratio)}",
        )
    fig.update_yaxes(tickformat=".0%" if ratio else None, rangemode="tozero", gridcolor="#eee")
    return _layout(fig, f"{name} 街道对比（{SUPPRESSED}的街道以灰色空柱表示）")


def to_div(fig: go.Figure, div_id: str) -> str:
    """The figure as a <div>; plotly.js itself is inlined once in the page head."""
    return fig.to_html(full_html=False, include_plotlyjs=False, div_id=div_id, config=_CONFIG)
