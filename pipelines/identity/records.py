"""The records identity reads: the four child-level sources in one shape."""

from __future__ import annotations

import duckdb

from pipelines.ingest.sources import SOURCES

# Contract section 3: a child's attributes come from the best source that has them. A source's
# place here, from 1, is its `src` in identity's tables (identity.sources names it).
ATTRIBUTE_PRIORITY = ("births", "health_archives", "enrollments", "health_checks")
assert set(ATTRIBUTE_PRIORITY) == {s.name for s in SOURCES.values() if s.child_level}

IDENTIFIERS = ("id_key", "birth_cert_key", "archive_key")
KEYS = ", ".join((*IDENTIFIERS, "triple_key"))
# identity.children: the child's records per source.
SOURCE_RECORDS = {source: f"{source}_records" for source in ATTRIBUTE_PRIORITY}
RECORD_COLUMNS = {
    "record_key": "VARCHAR",
    "id_key": "VARCHAR",
    "birth_cert_key": "VARCHAR",
    "archive_key": "VARCHAR",
    "triple_key": "VARCHAR",
    "sex": "VARCHAR",
    "birth_date": "DATE",
}
# What child_records carries of each record for the marts (its date, and an archive's
# community and closing), so dbt reads the linked records without joining them back.
DETAIL_COLUMNS = {
    "record_date": "DATE",
    "community_code": "VARCHAR",
    "closed_on": "DATE",
    "close_reason": "VARCHAR",
}
RECORD_DETAILS = {
    "births": {"record_date": "birth_date", "community_code": "community_code"},
    "health_archives": {
        "record_date": "archive_date",
        "community_code": "community_code",
        "closed_on": "closed_on",
        "close_reason": "close_reason",
    },
    "health_checks": {"record_date": "check_date"},
    "enrollments": {"record_date": "enroll_date"},
}
assert set(RECORD_DETAILS) == set(ATTRIBUTE_PRIORITY)


def record_selects(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """Per source, the SELECT of its records (`src`: its rank in ATTRIBUTE_PRIORITY) in the
    columns of RECORD_COLUMNS and DETAIL_COLUMNS (`detail_` + name); a column a source lacks
    reads as NULL."""
    selects = {}
    for rank, source in enumerate(ATTRIBUTE_PRIORITY, start=1):
        present = {
            row[0]
            for row in con.execute(
                "SELECT column_name FROM information_schema.columns"
                " WHERE table_schema = 'ingested' AND table_name = ?",
                [source],
            ).fetchall()
        }
        cols = [
            f"{name}::{typ} AS {name}" if name in present else f"NULL::{typ} AS {name}"
            for name, typ in RECORD_COLUMNS.items()
        ]
        details = RECORD_DETAILS[source]
        cols += [
            f"{details[name]}::{typ} AS detail_{name}"
            if details.get(name) in present
            else f"NULL::{typ} AS detail_{name}"
            for name, typ in DETAIL_COLUMNS.items()
        ]
        selects[source] = (
            f"SELECT '{source}' AS source, {rank}::UTINYINT AS src, {', '.join(cols)} "
            f"FROM ingested.{source}"
        )
    return selects
