"""Comments of the published file (pipelines/publish/comments.py): the marts' from dbt through
the working file, the other published tables' from comments.yml, on a candidate built the way
the publish step builds it."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import pytest
import yaml

from pipelines.config import REPO_ROOT
from pipelines.publish.comments import (
    COMMENTS_FILE,
    apply_comments,
    declared_comments,
    missing_comments,
    quote_identifier,
    sql_literal,
)

PUBLISHED_SCHEMAS = ("marts", "audit", "quality", "meta")  # the contract's published schemas
# Chinese first (a CJK ideograph opens the text), then English (a run of Latin letters).
CHINESE_THEN_ENGLISH = re.compile(r"^[\u4e00-\u9fff].*?[A-Za-z]{3,}", re.S)


def _candidate_without_comments(work: Path, candidate: Path) -> duckdb.DuckDBPyConnection:
    """A candidate whose tables were copied from `work` with CREATE TABLE AS (which drops
    comments); `work` left attached as `work`."""
    con = duckdb.connect(str(candidate))
    con.execute("ATTACH ? AS work (READ_ONLY)", [str(work)])
    for name in ("marts.m", "quality.check_results", "quality.check_status_latest"):
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {name.split('.')[0]}")
        con.execute(f"CREATE TABLE {name} AS FROM work.{name}")
    return con


def _comments(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    rows = con.execute(
        "SELECT schema_name || '.' || table_name, comment FROM duckdb_tables()"
        " WHERE database_name = current_database()"
        " UNION ALL SELECT schema_name || '.' || table_name || '.' || column_name, comment"
        " FROM duckdb_columns() WHERE database_name = current_database() AND NOT internal"
    ).fetchall()
    return dict(rows)


@pytest.mark.parametrize(
    "text",
    [
        "单引号 'quoted' 与 ''两个''",
        "$dbt_comment_literal_block$ $$ dollar",
        "back\\slash \\' and \\n",
        "line one\nline two; DROP TABLE t; --",
        '"double" quotes',
    ],
)
def test_a_comment_reads_back_exactly_as_written(text):
    con = duckdb.connect()
    table = quote_identifier('odd "name"')
    con.execute(f"CREATE TABLE {table} (c INTEGER)")
    con.execute(f"COMMENT ON TABLE {table} IS {sql_literal(text)}")
    con.execute(f"COMMENT ON COLUMN {table}.c IS {sql_literal(text)}")
    assert con.execute("SELECT comment FROM duckdb_tables()").fetchall() == [(text,)]
    assert con.execute("SELECT comment FROM duckdb_columns() WHERE NOT internal").fetchall() == [
        (text,)
    ]


def test_a_nul_character_is_refused():
    with pytest.raises(ValueError):
        sql_literal("a\x00b")


def test_working_comments_and_declared_ones_reach_the_candidate(tmp_path):
    work = tmp_path / "work.duckdb"
    con = duckdb.connect(str(work))
    con.execute("CREATE SCHEMA marts; CREATE SCHEMA quality; CREATE SCHEMA staging")
    con.execute("CREATE TABLE marts.m (a INTEGER, b VARCHAR)")
    con.execute("COMMENT ON TABLE marts.m IS '表 m。Table m, it''s described.'")
    con.execute("COMMENT ON COLUMN marts.m.a IS '列 a。Column a.'")
    con.execute("CREATE TABLE staging.s (a INTEGER)")  # not published
    con.execute("COMMENT ON TABLE staging.s IS 'never copied'")
    con.execute(
        "CREATE TABLE quality.check_results (run_id VARCHAR, passed BOOLEAN, extra INTEGER)"
    )
    con.execute("CREATE VIEW quality.check_status_latest AS FROM quality.check_results")
    con.close()

    candidate = _candidate_without_comments(work, tmp_path / "candidate.duckdb")
    assert len(missing_comments(candidate)) == 11  # three relations, eight columns
    assert apply_comments(candidate, "work") == 2 + 2 * 3  # m, m.a; both quality relations
    candidate.execute("DETACH work")

    comments = _comments(candidate)
    assert comments["marts.m"] == "表 m。Table m, it's described."
    assert comments["marts.m.a"] == "列 a。Column a."
    assert "staging.s" not in comments
    yml = yaml.safe_load(COMMENTS_FILE.read_text(encoding="utf-8"))["quality"]
    for name in ("check_results", "check_status_latest"):
        assert comments[f"quality.{name}"] == yml[name]["description"]
        assert comments[f"quality.{name}.run_id"] == yml[name]["columns"]["run_id"]
    assert sorted(missing_comments(candidate)) == [
        "marts.m.b",
        "quality.check_results.extra",
        "quality.check_status_latest.extra",
    ]


def test_comments_yml_describes_only_the_tables_dbt_does_not_build():
    declared = declared_comments()
    assert {schema for schema, _, _ in declared} == {"audit", "quality", "meta"}
    for key, text in declared.items():
        assert CHINESE_THEN_ENGLISH.match(text), key


def _dbt_descriptions() -> dict[str, str]:
    """The marts' descriptions as their dbt model YAML words them."""
    described = {}
    for path in (REPO_ROOT / "dbt_project" / "models" / "marts").glob("*.yml"):
        for model in yaml.safe_load(path.read_text(encoding="utf-8"))["models"]:
            described[f"marts.{model['name']}"] = model["description"]
            for column in model["columns"]:
                described[f"marts.{model['name']}.{column['name']}"] = column["description"]
    return described


@pytest.mark.slow
def test_every_table_and_column_of_the_published_file_is_commented(sample_refresh):
    published = duckdb.connect(str(sample_refresh.published), read_only=True)

    assert missing_comments(published) == []
    comments = _comments(published)
    assert {name.split(".")[0] for name in comments} == set(PUBLISHED_SCHEMAS)
    for name, text in comments.items():
        assert CHINESE_THEN_ENGLISH.match(text), name
    # The marts say what their dbt YAML says, word for word.
    dbt = _dbt_descriptions()
    assert {n for n in comments if n.startswith("marts.")} == set(dbt)
    for name, text in dbt.items():
        assert comments[name] == text.strip(), name
    assert comments["marts.indicator_values.indicator_code"].startswith("指标代码")
    assert comments["audit.quarantine.reason_code"].startswith("隔离原因代码")
    # Nothing in comments.yml is stale: every table and column it names is published.
    declared = {".".join(p for p in key if p) for key in declared_comments()}
    assert declared <= set(comments)
