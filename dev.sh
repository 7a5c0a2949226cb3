#!/usr/bin/env bash
# Set-up and the everyday commands in one place; every command installs what it needs first.
#   bash dev.sh refresh        full refresh of the shipped sample into warehouse/yiyu.duckdb
#   bash dev.sh test [args]    the whole test suite (pytest), the Spark test included
#   bash dev.sh ui             the Dagster UI on this project (dagster dev)
#   bash dev.sh <yiyu args>    any other `yiyu` sub-command (report, sample, submit, ...)
set -euo pipefail
cd "$(dirname "$0")"
VENV=.venv
SPARK_VENV=.venv-spark

ensure_venv() {
  local want
  want=$(cat requirements.lock pyproject.toml | sha256sum | cut -c1-16)
  if [ ! -x "$VENV/bin/python" ] || [ "$(cat "$VENV/.installed" 2>/dev/null)" != "$want" ]; then
    echo "setting up $VENV from requirements.lock ..." >&2
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q --disable-pip-version-check -r requirements.lock
    "$VENV/bin/pip" install -q --disable-pip-version-check --no-deps -e .
    echo "$want" > "$VENV/.installed"
  fi
}

ensure_browser() {
  # The report test renders in a real headless Chromium from Debian's packages.
  # fonts-noto-cjk: the Chinese text of the report's screenshot (not only boxes);
  # poppler-utils: pdftotext reads the printed report's text back.
  if ! command -v chromium >/dev/null 2>&1 || ! command -v pdftotext >/dev/null 2>&1 \
    || ! fc-list 2>/dev/null | grep -qi "noto sans cjk"; then
    echo "installing Debian chromium, CJK fonts and poppler for the browser tests ..." >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk poppler-utils \
      >/dev/null
  fi
}

ensure_spark() {
  # The Spark test (tests/test_spark.py) builds the dbt project on Spark: a Java runtime from
  # Debian and dbt-spark + pyspark in a venv of their own, so .venv stays as light as it is.
  if ! command -v java >/dev/null 2>&1; then
    echo "installing Debian's Java runtime for the Spark test ..." >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq default-jre-headless >/dev/null
  fi
  local want
  want=$(sha256sum < requirements-spark.lock | cut -c1-16)
  if [ ! -x "$SPARK_VENV/bin/dbt" ] || [ "$(cat "$SPARK_VENV/.installed" 2>/dev/null)" != "$want" ]; then
    echo "setting up $SPARK_VENV from requirements-spark.lock ..." >&2
    python3 -m venv "$SPARK_VENV"
    "$SPARK_VENV/bin/pip" install -q --disable-pip-version-check -r requirements-spark.lock
    echo "$want" > "$SPARK_VENV/.installed"
  fi
  export YIYU_SPARK_VENV="$PWD/$SPARK_VENV"
}

cmd=${1:-}
[ $# -gt 0 ] && shift
ensure_venv
case "$cmd" in
  refresh) exec "$VENV/bin/yiyu" refresh "$@" ;;
  test) ensure_browser; ensure_spark; exec "$VENV/bin/python" -m pytest "$@" ;;
  ui)
    # The same instance as `yiyu refresh`, so its runs show in the UI.
    warehouse_dir=$(dirname "${YIYU_WAREHOUSE_PATH:-$PWD/warehouse/yiyu.duckdb}")
    DAGSTER_HOME=$(realpath -m "${DAGSTER_HOME:-$warehouse_dir/dagster}")  # Dagster wants it absolute
    export DAGSTER_HOME
    # The project's instance (telemetry off, one run at a time) unless the home has its own.
    "$VENV/bin/python" -m pipelines.operations.instance "$DAGSTER_HOME"
    # Dagster's UI starts its telemetry uploader whatever the instance says; this stops it.
    export DAGSTER_DISABLE_TELEMETRY=1
    "$VENV/bin/yiyu" prepare
    exec "$VENV/bin/dagster" dev "$@" ;;
  "") exec "$VENV/bin/yiyu" --help ;;
  *) exec "$VENV/bin/yiyu" "$cmd" "$@" ;;
esac
