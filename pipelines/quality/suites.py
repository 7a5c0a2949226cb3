"""Expectation suites: GE 1.x ExpectationSuite JSON files, one per dataset, edited by hand.

Every expectation carries meta `name` (stable within its suite, the key of the history),
`severity` (`blocking` stops the marts, `warn` only reports) and `dimension`
(`conformance`, `completeness`, `plausibility`). Thresholds live in the files only.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipelines.config import REPO_ROOT
from pipelines.quality.ge import Rule, parse_suite, start_parsing

SEVERITIES = ("blocking", "warn")
DIMENSIONS = ("conformance", "completeness", "plausibility")
CROSS_SOURCE = "cross_source"


def expectations_dir() -> Path:
    value = os.environ.get("YIYU_EXPECTATIONS_DIR")
    return Path(value).expanduser().resolve() if value else REPO_ROOT / "expectations"


def start_parsing_suites() -> None:
    """Have the GE worker parse every suite now, ahead of the checks that load them."""
    for path in sorted(expectations_dir().glob("*.json")):
        start_parsing(path.read_text(encoding="utf-8"))


@dataclass(frozen=True)
class Suite:
    """A loaded suite: the expectations as GE parsed them, plus the suite-level meta."""

    name: str
    expectations: list[Rule]
    meta: dict[str, Any]

    @property
    def sample_rows(self) -> int:
        return int(self.meta.get("sample_rows", 200_000))

    @property
    def derived_columns(self) -> dict[str, str]:
        """Name -> DuckDB SQL expression, added to the sample (e.g. age at a check)."""
        return dict(self.meta.get("derived_columns", {}))


def load_suite(name: str) -> Suite:
    """Parse `<expectations dir>/<name>.json` with GE (which validates every expectation)."""
    path = expectations_dir() / f"{name}.json"
    try:
        rules, meta = parse_suite(path.read_text(encoding="utf-8"))
    except ValueError as invalid:
        raise ValueError(f"{path}: {invalid}") from None
    names = [_checked_meta(e.meta, path)["name"] for e in rules]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"{path}: expectation names used twice: {duplicates}")
    return Suite(name=name, expectations=rules, meta=meta)


def _checked_meta(meta: dict[str, Any] | None, path: Path) -> dict[str, Any]:
    meta = meta or {}
    if not meta.get("name"):
        raise ValueError(f"{path}: an expectation has no meta.name")
    if meta.get("severity") not in SEVERITIES or meta.get("dimension") not in DIMENSIONS:
        raise ValueError(f"{path}: {meta['name']}: meta.severity/dimension missing or unknown")
    return meta


def kwargs_of(expectation: Rule) -> dict[str, Any]:
    """The expectation's arguments as written in the suite."""
    return dict(expectation.kwargs)


def condition_text(condition: Any) -> str:
    """A GE row condition (JSON form) as `age >= 3 and age < 12`."""
    if not isinstance(condition, dict):
        return str(condition)
    if condition.get("type") == "comparison":
        column = condition["column"]["name"]
        return f"{column} {condition['operator']} {condition['parameter']}"
    joined = f" {condition.get('type')} ".join(
        condition_text(c) for c in condition.get("conditions", [])
    )
    return f"({joined})"


def describe_expected(expectation: Rule) -> str:
    """`expect_x(column, k=v, ...)`: readable and complete enough to reproduce the rule."""
    kwargs = kwargs_of(expectation)
    if "row_condition" in kwargs:
        kwargs["row_condition"] = condition_text(kwargs["row_condition"])
    parts = [str(kwargs.pop("column"))] if "column" in kwargs else []
    parts += [
        f"{k}={v}" for k, v in kwargs.items() if k not in ("result_format", "catch_exceptions")
    ]
    return f"{expectation.expectation_type}({', '.join(parts)})"


@dataclass(frozen=True)
class CheckOutcome:
    """One expectation evaluated on one dataset in one run (observed values carry no row data)."""

    check_name: str
    dataset: str
    severity: str
    dimension: str
    passed: bool
    observed_value: str
    expected: str
    evaluated_on: str

    @classmethod
    def of(
        cls,
        expectation: Rule,
        dataset: str,
        passed: bool,
        observed: str,
        evaluated_on: str,
        expected: str | None = None,
    ) -> CheckOutcome:
        meta = expectation.meta
        return cls(
            check_name=meta["name"],
            dataset=dataset,
            severity=meta["severity"],
            dimension=meta["dimension"],
            passed=bool(passed),
            observed_value=observed,
            expected=expected or describe_expected(expectation),
            evaluated_on=evaluated_on,
        )
