"""Report assets (group `report`)."""

from pipelines.defs.report.assets import defs, evaluation_report

__all__ = ["defs", "evaluation_report"]
