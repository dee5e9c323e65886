#!/usr/bin/env bash
# The whole suite: unit tests (no root), integration tests (real containers,
# root), and the conformance checks run against ocirun and, for comparison,
# against Debian's runc. Prints one "N passed, N failed" line at the end.
set -uo pipefail
cd "$(dirname "$0")/.."
status=0
npx vitest run --project unit || status=1
if [ "$(id -u)" = 0 ]; then
  npx vitest run --project integration || status=1
  node conformance/run.mjs --runtime "$PWD/bin/ocirun" --compare "$(command -v runc || true)" || status=1
else
  echo "not root: integration tests and conformance checks need root; skipped" >&2
  status=1
fi
exit $status
