"""yiyu (医育): Dagster code of the health-childcare integration warehouse."""
