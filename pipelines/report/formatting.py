"""How figures are written in everything published: percentages, counts, the suppression mark."""

from __future__ import annotations

SUPPRESSED = "已抑制"
COMPARATORS = {">=": "≥", "≥": "≥", ">": ">", "<=": "≤", "<": "<", "=": "=", "==": "="}
SCOPE_LEVELS = {"district": "区", "street": "街道", "community": "社区"}
# A target's state (its css class) and its label, in the order the report counts them.
STATES = {"met": "达标", "unmet": "未达标", "suppressed": SUPPRESSED, "nodata": "无数据"}


def percent(value: float) -> str:
    return f"{value * 100:.1f}%"


def figure(value: float | None, ratio: bool, suppressed: bool = False) -> str:
    """A value as text: ratios as % with one decimal, whole numbers as integers, else one
    decimal."""
    if suppressed:
        return SUPPRESSED
    if value is None:
        return "—"
    if ratio:
        return percent(value)
    if float(value).is_integer():
        return f"{int(value)}"
    return f"{value:.1f}"


def count(value: int | float | None, suppressed: bool = False) -> str:
    if suppressed:
        return SUPPRESSED
    return "—" if value is None else f"{int(value)}"


def target_text(comparator: str | None, target: float | None, ratio: bool) -> str:
    if target is None:
        return "无目标"
    symbol = COMPARATORS.get((comparator or ">=").strip(), comparator or "")
    return f"{symbol}{figure(target, ratio)}"


def status(met: bool | None, suppressed: bool = False) -> tuple[str, str]:
    """(label, css class) of a target's state."""
    state = "suppressed" if suppressed else "nodata" if met is None else "met" if met else "unmet"
    return STATES[state], state
