"""How figures are written in everything published: percentages, counts, the suppression mark."""

from __future__ import annotations

from pipelines.report.definitions import ratio_indicators

SUPPRESSED = "已抑制"
COMPARATORS = {">=": "≥", "≥": "≥", ">": ">", "<=": "≤", "<": "<", "=": "=", "==": "="}
SCOPE_LEVELS = {"district": "区", "street": "街道", "community": "社区"}


def is_ratio(indicator_code: str) -> bool:
    return indicator_code in ratio_indicators()


def percent(value: float) -> str:
    return f"{value * 100:.1f}%"


def figure(indicator_code: str, value: float | None, suppressed: bool = False) -> str:
    """A value as text: ratios as % with one decimal, counts as integers, else one decimal."""
    if suppressed:
        return SUPPRESSED
    if value is None:
        return "—"
    if is_ratio(indicator_code):
        return percent(value)
    if float(value).is_integer():
        return f"{int(value)}"
    return f"{value:.1f}"


def count(value: int | float | None, suppressed: bool = False) -> str:
    if suppressed:
        return SUPPRESSED
    return "—" if value is None else f"{int(value)}"


def target_text(indicator_code: str, comparator: str | None, target: float | None) -> str:
    if target is None:
        return "无目标"
    symbol = COMPARATORS.get((comparator or ">=").strip(), comparator or "")
    return f"{symbol}{figure(indicator_code, target)}"


def status(met: bool | None, suppressed: bool = False) -> tuple[str, str]:
    """(label, css class) of a target's state."""
    if suppressed:
        return SUPPRESSED, "suppressed"
    if met is None:
        return "无数据", "nodata"
    return ("达标", "met") if met else ("未达标", "unmet")
