"""Data quality: Great Expectations suites as Dagster asset checks (see docs/quality.md)."""
