"""`python -m benchmarks.identity N [PATH]`: child identity resolution alone on a synthetic
load of N children, generated in DuckDB (docs/identity.md, Scale); prints the summary."""

from __future__ import annotations

import sys

import duckdb

from pipelines.identity.resolve import resolve_identity


def benchmark_identity(n_children: int, path: str = ":memory:") -> dict:
    """Resolve a synthetic load of `n_children` children (about 9 records each, hashes made
    in DuckDB) and return the summary. Every synthetic child links, so children must equal
    `n_children`: 90% carry an ID number, movers (1 in 25) have two archives, checks point
    at the archive, and enrollments of children without ID link by the triple only."""
    con = duckdb.connect(path)
    has_id = "i % 10 <> 0"
    common = (
        "md5('tr' || i) AS triple_key, CASE WHEN i % 2 = 0 THEN 'M' ELSE 'F' END AS sex, "
        "DATE '2021-01-01' + (i % 1000)::INTEGER AS birth_date"
    )
    con.execute("CREATE SCHEMA ingested")
    con.execute(
        f"""CREATE TABLE ingested.births AS
        SELECT md5('bc' || i) AS record_key, md5('bc' || i) AS birth_cert_key,
            CASE WHEN {has_id} AND i % 3 <> 0 THEN md5('id' || i) END AS id_key, {common},
            'c' || (i % 50) AS community_code
        FROM range({n_children}) t(i) WHERE i % 20 <> 0"""
    )
    con.execute(
        f"""CREATE TABLE ingested.health_archives AS
        SELECT md5('ar' || i || '-' || k) AS record_key, md5('ar' || i || '-' || k) AS archive_key,
            CASE WHEN {has_id} THEN md5('id' || i) END AS id_key,
            CASE WHEN NOT ({has_id}) OR i % 2 = 0 THEN md5('bc' || i) END AS birth_cert_key,
            {common}, 'c' || (i % 50) AS community_code,
            DATE '2021-03-01' + (i % 1000 + k * 200)::INTEGER AS archive_date
        FROM range({n_children}) t(i), range(2) a(k) WHERE k = 0 OR i % 25 = 0"""
    )
    con.execute(
        f"""CREATE TABLE ingested.health_checks AS
        SELECT md5('ck' || i || '-' || j) AS record_key, md5('ar' || i || '-0') AS archive_key,
            NULL::VARCHAR AS id_key, NULL::VARCHAR AS birth_cert_key,
            CASE WHEN j = 0 THEN md5('tr' || i) END AS triple_key,
            CASE WHEN i % 2 = 0 THEN 'M' ELSE 'F' END AS sex,
            DATE '2021-01-01' + (i % 1000)::INTEGER AS birth_date
        FROM range({n_children}) t(i), range(7) c(j)"""
    )
    con.execute(
        f"""CREATE TABLE ingested.enrollments AS
        SELECT md5('en' || i) AS record_key, CASE WHEN {has_id} THEN md5('id' || i) END AS id_key,
            NULL::VARCHAR AS birth_cert_key, {common}
        FROM range({n_children}) t(i) WHERE i % 3 = 0"""
    )
    try:
        return resolve_identity(con)
    finally:
        con.close()


if __name__ == "__main__":
    print(benchmark_identity(int(sys.argv[1]), *sys.argv[2:3]))
