"""How figures are written in everything published: percentages, counts, the suppression mark."""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from pipelines.config import REPO_ROOT

DEFAULT_TIMEZONE = "Asia/Shanghai"  # contract section 1's default of YIYU_TIMEZONE
SUPPRESSED = "已抑制"
NO_DATA = "无数据"  # a cell without a value (no target, no denominator, nothing counted)
COMPARATORS = {">=": "≥", "≥": "≥", ">": ">", "<=": "≤", "<": "<", "=": "=", "==": "="}
SCOPE_LEVELS = {"district": "区", "street": "街道", "community": "社区"}


FOLLOW_UP_REASONS_SEED = REPO_ROOT / "dbt_project" / "seeds" / "follow_up_reasons.csv"


def _follow_up_reasons() -> list[dict[str, str]]:
    """The follow-up reasons (contract section 8) in order, from the seed the worklist models
    read too."""
    with FOLLOW_UP_REASONS_SEED.open(encoding="utf-8", newline="") as seed:
        return sorted(csv.DictReader(seed), key=lambda r: int(r["reason_order"]))


# Reason -> (Chinese, the indicator whose gap it is), in order.
FOLLOW_UP_REASONS = {
    r["reason"]: (r["reason_zh"], r["indicator_code"]) for r in _follow_up_reasons()
}
# The one reason whose rows go to the enrolling institution (the others to health centres).
(INSTITUTION_REASON,) = (
    r["reason"] for r in _follow_up_reasons() if r["recipient_type"] == "institution"
)
RECIPIENT_TYPES = {
    "health_facility": "医疗卫生机构",
    "institution": "托育机构",
    "unassigned": "未分配",
}
# A target's state (its css class) and its label, in the order the report counts them.
STATES = {"met": "达标", "unmet": "未达标", "suppressed": SUPPRESSED, "nodata": NO_DATA}


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


def local_time(moment: datetime, timezone: str = DEFAULT_TIMEZONE) -> str:
    """A stored moment (naive means UTC, as the project stores them) in the reader's zone."""
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return f"{aware.astimezone(ZoneInfo(timezone)):%Y-%m-%d %H:%M}"
