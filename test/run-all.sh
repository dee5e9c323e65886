#!/usr/bin/env bash
# The whole suite: unit tests (no root), integration tests (real containers,
# root), and the conformance checks run against ocirun and, for comparison,
# against Debian's runc, then the parallel crash soak (8 workers x 100
# lifecycles, a third of the creates killed; OCIRUN_SOAK_LIFECYCLES changes
# the count), and last the cgroup v2 tests (cgroups-v2, the per-step
# fault tests, the mount namespace cases) and the AppArmor tests inside a
# cgroup-v2-only qemu guest
# (scripts/cgroup2-vm.sh), whose kernel has AppArmor on.
# Prints one "N passed, N failed" line after the conformance run.
set -uo pipefail
cd "$(dirname "$0")/.."
status=0
npx vitest run --project unit || status=1
if [ "$(id -u)" = 0 ]; then
  npx vitest run --project integration || status=1
  node conformance/run.mjs --runtime "$PWD/bin/ocirun" --compare "$(command -v runc || true)" || status=1
  node bench/soak.mjs --runtime "$PWD/bin/ocirun" --workers 8 --lifecycles "${OCIRUN_SOAK_LIFECYCLES:-100}" || status=1
  echo "cgroup v2 (qemu guest):"
  scripts/cgroup2-vm.sh -- CI=true npx vitest run --project integration test/integration/cgroups-v2.test.ts test/integration/lsm.test.ts test/integration/crash-safety.test.ts test/integration/mount-namespace.test.ts || status=1
else
  echo "not root: integration tests and conformance checks need root; skipped" >&2
  status=1
fi
exit $status
