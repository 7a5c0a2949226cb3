#!/usr/bin/env bash
# `yiyu` with the deployment's settings, for operators: sudo -u yiyu /opt/yiyu/deploy/yiyu.sh refresh
set -euo pipefail
set -a
# shellcheck source=/dev/null
. "${YIYU_ENV_FILE:-/etc/yiyu/yiyu.env}"
set +a
exec "${YIYU_HOME:-/opt/yiyu}/.venv/bin/yiyu" "$@"
