#!/usr/bin/env bash
# `make test-native`: start the local infrastructure when needed, run every native test.
# The infrastructure is left running for the next run; `make down` stops it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
UV="${UV:-.local/bootstrap/bin/uv}"

echo "== infrastructure"
bash deploy/local/infra.sh start
bash deploy/local/tools.sh
.venv/bin/python -m deploy.gateway.local install  # nginx and chromium, for the browser suite

echo "== tests"
set +e
"$UV" run --frozen pytest "$@"
status=$?
set -e
if [[ $status -eq 5 ]]; then
  echo "pytest collected no tests: that is a failure here" >&2
  exit 1
fi
exit $status
