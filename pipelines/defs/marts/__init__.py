"""The marts: the dbt project (indicators, scorecard, linkage quality) as Dagster assets."""
