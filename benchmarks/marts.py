"""What a refresh left behind, read back read-only: row counts and the indicator checksum."""

from __future__ import annotations

from pathlib import Path

import duckdb

# Every column of the mart, in a fixed order, so the checksum covers every value.
INDICATOR_ROWS = """
SELECT count(*) AS n,
       md5(coalesce(string_agg(line, chr(10) ORDER BY line), '')) AS md5
FROM (
    SELECT concat_ws('|', indicator_code, scope_level, scope_code, period, period_end,
                     numerator, denominator, round(value, 12), target, target_met) AS line
    FROM marts.indicator_values
)
"""


def indicator_checksum(warehouse: Path) -> dict[str, object]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        n, md5 = con.execute(INDICATOR_ROWS).fetchone()
    return {"rows": n, "md5": md5}


def warehouse_rows(warehouse: Path) -> dict[str, int]:
    """Rows read/loaded per source (file audit), identity rows, and rows published."""
    rows: dict[str, int] = {}
    with duckdb.connect(str(warehouse.parent / "work.duckdb"), read_only=True) as con:
        for source, read, loaded in con.execute(
            "SELECT source, sum(rows_read), sum(rows_loaded) FROM audit.file_audit GROUP BY 1"
        ).fetchall():
            rows[f"read:{source}"], rows[f"loaded:{source}"] = int(read), int(loaded)
        rows["identity_records"] = con.execute(
            "SELECT count(*) FROM identity.child_records"
        ).fetchone()[0]
    with duckdb.connect(str(warehouse), read_only=True) as con:
        tables = con.execute(
            "SELECT schema_name, table_name FROM duckdb_tables() WHERE NOT internal"
        ).fetchall()
        rows["published"] = sum(
            con.execute(f'SELECT count(*) FROM "{s}"."{t}"').fetchone()[0] for s, t in tables
        )
    rows["loaded"] = sum(v for k, v in rows.items() if k.startswith("loaded:"))
    rows["read_total"] = sum(v for k, v in rows.items() if k.startswith("read:"))
    return rows


MART_FIGURES = """
SELECT indicator_code, numerator, denominator FROM marts.indicator_values
WHERE scope_level = 'district' AND period = ?
  AND indicator_code IN ('health_management_rate', 'record_filing_rate',
                         'affordable_slot_share', 'parenting_knowledge_rate')
"""


def floor_vs_marts(warehouse: Path, floor: dict[str, object]) -> list[tuple[str, object, object]]:
    """The floor's district figures beside the marts' of the same period (a sanity view:
    the floor neither quarantines nor checks ID check characters, so its counts differ by
    what the refresh sets apart)."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        mart = {c: (n, d) for c, n, d in con.execute(MART_FIGURES, [floor["period"]]).fetchall()}
    pairs = (
        ("under-3 children", "under3", "health_management_rate", 1),
        ("  with a check in the year", "under3_checked", "health_management_rate", 0),
        ("slots of operating institutions", "slots", "affordable_slot_share", 1),
        ("  of which affordable", "affordable_slots", "affordable_slot_share", 0),
        ("surveys in the year", "surveys", "parenting_knowledge_rate", 1),
        ("  passed", "surveys_passed", "parenting_knowledge_rate", 0),
    )
    return [
        (label, floor.get(key), mart.get(code, (None, None))[index])
        for label, key, code, index in pairs
    ]
