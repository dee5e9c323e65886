#!/usr/bin/env bash
# README command (2): set everything up, then run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# The rootless tests' unprivileged user, with subordinate id ranges for
# newuidmap/newgidmap (test/integration/rootless.test.ts).
user=${OCIRUN_TEST_USER:-ocirun-test}
id -u "$user" >/dev/null 2>&1 || useradd --create-home --shell /bin/sh "$user"
grep -q "^$user:" /etc/subuid || usermod --add-subuids 200000-265535 "$user"
grep -q "^$user:" /etc/subgid || usermod --add-subgids 200000-265535 "$user"
export OCIRUN_TEST_USER=$user
npm test
