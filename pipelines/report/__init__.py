"""The evaluators' report, its exports and the frozen quarterly submissions (docs/report.md)."""
