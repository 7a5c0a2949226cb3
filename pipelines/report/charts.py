"""The report's charts as static SVG drawn by matplotlib, built only from suppressed frames.

Text stays text (`svg.fonttype: none`): the reader's CJK font draws it, the page needs no
script, and a test can measure every label's box. Reference lines (target, district) are
named in the legend, not written on the plot, and a value label that would cover another
text is moved to its other side, or left out when both sides are taken.
"""

from __future__ import annotations

import io
import math
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import matplotlib
import polars as pl
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.text import Annotation, Text
from matplotlib.ticker import FuncFormatter, MaxNLocator

from pipelines.report.formatting import NO_DATA, SUPPRESSED, figure

FONTS = ["Noto Sans CJK SC", "Microsoft YaHei", "PingFang SC", "SimHei", "DejaVu Sans"]
_RC = {
    "svg.fonttype": "none",
    "font.family": "sans-serif",
    "font.sans-serif": FONTS,
    "font.size": 10,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.edgecolor": "#888",
    "axes.grid": True,
    "axes.axisbelow": True,
    "grid.color": "#e5e5e5",
    "xtick.color": "#444",
    "ytick.color": "#444",
    "legend.frameon": False,
}
_WIDTH = 7.2  # inches; the page scales the SVG to its column
_BLUE, _GREEN, _RED, _GREY, _INK = "#2e86c1", "#117a65", "#c0392b", "#777", "#1b4f72"
_MAX_TICK_LABELS = 10
_TICK_SPACE = 7.0  # points between an axis and its tick labels: tick length and padding
# Room kept around a label (points), beyond the drawing font's own box, so that labels stay
# apart with the reader's font metrics too.
_PAD_X, _PAD_Y = 3.0, 2.5
# Positions a value label tries in turn: (offset in points, horizontal, vertical alignment).
_ABOVE_BELOW = (((0, 6), "center", "bottom"), ((0, -7), "center", "top"))
_RIGHT = (((4, 0), "left", "center"),)
_SVG_METADATA = ("Creator", "Date", "Format", "Type")


def trend(district: pl.DataFrame, target: float | None, ratio: bool, chart_id: str) -> str:
    """District value per quarter; a hidden or missing value leaves a gap, marked below it."""
    rows = district.sort("period")
    periods = rows["period"].to_list()
    hidden = rows["value_suppressed"].to_list()
    shown = _shown(rows)
    x = list(range(len(periods)))
    with _chart(3.1, chart_id) as chart:
        ax = chart.ax
        y = [math.nan if v is None else v for v in shown]
        ax.plot(x, y, marker="o", color=_BLUE, label="全区", linewidth=2, markersize=5)
        _reference(ax.axhline, target, ratio, _RED, "--", "目标")
        _value_axis(ax.yaxis, ax.set_ylim, [*shown, target], ratio)
        ax.set_xlim(-0.5, max(len(periods), 1) - 0.5)
        step = math.ceil(len(periods) / _MAX_TICK_LABELS) if periods else 1
        ax.set_xticks(x[::step], periods[::step])
        ax.grid(axis="x", visible=False)
        for i, value in enumerate(shown):
            if value is None:  # at the foot of the gap, where the point would be
                chart.mark(SUPPRESSED if hidden[i] else NO_DATA, (i, 0))
            else:
                chart.label(figure(value, ratio), (i, value), _ABOVE_BELOW)
    return chart.svg


def street_comparison(
    streets: pl.DataFrame, district: dict | None, target: float | None, ratio: bool, chart_id: str
) -> str:
    """A horizontal bar per street (names never crowd); a hidden street says so, with no bar."""
    rows = streets.sort("scope_code")
    names = rows["scope_name"].to_list()
    hidden = rows["value_suppressed"].to_list()
    values = _shown(rows)
    y = list(range(len(names)))
    shown_district = None
    if district is not None and not district["value_suppressed"]:
        shown_district = district["value"]
    with _chart(0.9 + 0.3 * max(len(names), 3), chart_id) as chart:
        ax = chart.ax
        ax.barh(y, [v or 0 for v in values], color=_BLUE, height=0.6, label="街道")
        ax.set_yticks(y, names)
        ax.set_ylim(len(names) - 0.5, -0.5)
        ax.grid(axis="y", visible=False)
        _reference(ax.axvline, shown_district, ratio, _GREEN, "-", "全区")
        _reference(ax.axvline, target, ratio, _RED, "--", "目标")
        _value_axis(ax.xaxis, ax.set_xlim, [*values, shown_district, target], ratio, room=1.25)
        for i, value in enumerate(values):
            if value is None:
                chart.label(SUPPRESSED if hidden[i] else NO_DATA, (0, i), _RIGHT, _GREY)
            else:
                chart.label(figure(value, ratio), (value, i), _RIGHT)
    return chart.svg


def _shown(rows: pl.DataFrame) -> list[float | None]:
    return [
        None if s or v is None else float(v)
        for v, s in zip(rows["value"], rows["value_suppressed"], strict=True)
    ]


class _Chart:
    """One figure with one plot, its fixed marks and its movable value labels."""

    def __init__(self, height: float, chart_id: str):
        self.id = chart_id
        self.fig = Figure(figsize=(_WIDTH, height))
        # One renderer measures every text (measuring without one makes a renderer each time).
        self.renderer = FigureCanvasAgg(self.fig).get_renderer()
        self.ax = self.fig.add_subplot()
        self.fixed: list[Text] = []
        self.movable: list[tuple[Annotation, tuple]] = []
        self.svg = ""

    def mark(self, text: str, xy: tuple[float, float]) -> None:
        self.fixed.append(
            self.ax.annotate(text, xy, xytext=(0, 3), textcoords="offset points",
                             ha="center", va="bottom", color=_GREY, fontsize=9)
        )  # fmt: skip

    def label(self, text: str, xy: tuple[float, float], positions: tuple, color=_INK) -> None:
        note = self.ax.annotate(text, xy, xytext=(0, 0), textcoords="offset points",
                                color=color, fontsize=9)  # fmt: skip
        # Inside the plot: it must not move the layout, and lines under it stay readable.
        note.set_in_layout(False)
        note.set_bbox({"facecolor": "white", "edgecolor": "none", "alpha": 0.8, "pad": 0.5})
        self.movable.append((note, positions))

    def render(self) -> None:
        legend = None
        if self.ax.get_legend_handles_labels()[0]:
            legend = self.fig.legend(loc="lower center", bbox_to_anchor=(0.5, 0), ncols=3)
        self._lay_out(legend)
        self._place_labels()
        out = io.StringIO()
        # No creation date nor tool metadata: the same page for the same figures.
        self.fig.savefig(out, format="svg", metadata=dict.fromkeys(_SVG_METADATA))
        svg = out.getvalue()
        svg = svg[svg.index("<svg") :]
        self.svg = svg.replace("<svg ", f'<svg id="{self.id}" role="img" ', 1)

    def _lay_out(self, legend) -> None:
        """Margins that fit the tick labels and the legend below (measured, not estimated,
        and cheaper than a layout engine's extra drawing passes)."""
        width, height = self.fig.bbox.width, self.fig.bbox.height
        pt = self.fig.dpi / 72
        gap = (_TICK_SPACE + 6) * pt

        def extent(texts, size: str) -> float:
            sizes = [
                getattr(t.get_window_extent(self.renderer), size) for t in texts if t.get_text()
            ]
            return max(sizes, default=0.0)

        left = extent(self.ax.get_yticklabels(), "width") + gap
        bottom = extent(self.ax.get_xticklabels(), "height") + gap
        if legend is not None:
            bottom += legend.get_window_extent(self.renderer).height
        self.fig.subplots_adjust(
            left=left / width,
            right=1 - 12 * pt / width,
            bottom=bottom / height,
            top=1 - 8 * pt / height,
        )

    def _place_labels(self) -> None:
        """Each value label in the first of its positions inside the plot where it covers no
        text placed so far; left out when there is none."""
        pad_x, pad_y = _PAD_X * self.fig.dpi / 72, _PAD_Y * self.fig.dpi / 72
        taken = [
            t.get_window_extent(self.renderer).padded(pad_x, pad_y) for t in self._fixed_texts()
        ]
        plot = self.ax.get_window_extent(self.renderer)
        for note, positions in self.movable:
            for offset, ha, va in positions:
                note.xyann = offset
                note.set_horizontalalignment(ha)
                note.set_verticalalignment(va)
                box = note.get_window_extent(self.renderer)
                inside = plot.x0 <= box.x0 and box.x1 <= plot.x1 and box.y1 <= plot.y1
                box = box.padded(pad_x, pad_y)
                if inside and not any(box.overlaps(other) for other in taken):
                    taken.append(box)
                    break
            else:
                note.set_visible(False)

    def _fixed_texts(self) -> list[Text]:
        """Marks, tick labels and legend texts: they stay where they are."""
        texts = list(self.fixed)
        for axis in (self.ax.xaxis, self.ax.yaxis):
            texts += [t for t in axis.get_ticklabels() if t.get_visible() and t.get_text()]
        for legend in self.fig.legends:
            texts += legend.get_texts()
        return texts


@contextmanager
def _chart(height: float, chart_id: str) -> Iterator[_Chart]:
    """A chart drawn under the report's style, rendered to SVG when the block ends."""
    with warnings.catch_warnings():
        # Without a CJK font installed, layout uses a fallback; the browser still draws CJK.
        warnings.filterwarnings("ignore", message="Glyph .* missing", category=UserWarning)
        # Ids of the SVG's elements unique per chart, and the same on every run.
        with matplotlib.rc_context({**_RC, "svg.hashsalt": chart_id}):
            chart = _Chart(height, chart_id)
            yield chart
            chart.render()


def _reference(draw, value: float | None, ratio: bool, color: str, style: str, name: str) -> None:
    """A reference line named with its value in the legend (never as text on the plot)."""
    if value is not None:
        draw(value, color=color, linestyle=style, linewidth=1.5,
             label=f"{name} {figure(value, ratio)}")  # fmt: skip


def _value_axis(axis, set_limits, values: Sequence, ratio: bool, room: float = 1.22) -> None:
    """From zero to above the largest value, with room for the labels; ratios as %."""
    top = max([v for v in values if v is not None and math.isfinite(v)] + [0.0]) or 1.0
    set_limits(0, top * room)
    ticks = [t for t in MaxNLocator(nbins=5).tick_values(0, top) if 0 <= t <= top * room]
    if ratio:  # no 120% tick above a rate
        ticks = [t for t in ticks if t <= max(1.0, top) + 1e-9]
    axis.set_ticks(ticks)
    if ratio:
        axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v * 100:.0f}%"))
