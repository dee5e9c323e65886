#!/usr/bin/env bash
# The whole suite:
#  - unit tests (no root);
#  - integration tests (real containers, root) on bin/ocirun, the Bun engine;
#  - the conformance checks against ocirun and, for comparison, Debian's runc;
#  - the Node engine (OCIRUN_ENGINE=node): the conformance checks and the
#    podman run --rm scenario;
#  - the single file (build/ocirun) copied out of the checkout: the podman
#    and containerd scenarios;
#  - the parallel crash soak (8 workers x 70 lifecycles, a third of the
#    creates killed, exec/update/pause/resume and delete -f killed part-way
#    in the others; OCIRUN_SOAK_LIFECYCLES changes the count);
#  - last, the cgroup v2 tests (cgroups-v2, the fault tests of the cgroup
#    steps, the mount namespace cases, the hardening checks) and the
#    AppArmor tests inside a cgroup-v2-only qemu guest (scripts/cgroup2-vm.sh,
#    test/guest.sh), whose kernel has AppArmor on;
#  - the systemd cgroup driver in qemu guests whose PID 1 is systemd
#    (scripts/systemd-vm.sh), on cgroup v2 and on the hybrid layout: ocirun
#    directly, then podman, dockerd, containerd's shim and its CRI plugin
#    with their systemd drivers; and checkpoint/restore with CRIU, which
#    works with the guest's kernel; each beside runc (about 8 minutes per
#    boot).
set -uo pipefail
cd "$(dirname "$0")/.."
status=0
step() { printf '\n=== %s\n' "$*"; }
step "unit"
npx vitest run --project unit || status=1
if [ "$(id -u)" = 0 ]; then
  step "integration (bin/ocirun: Bun)"
  npx vitest run --project integration || status=1
  step "conformance: ocirun and runc"
  node conformance/run.mjs --runtime "$PWD/bin/ocirun" --compare "$(command -v runc || true)" || status=1
  step "Node engine: conformance and podman run --rm"
  node conformance/run.mjs --runtime "$PWD/test/fixtures/ocirun-node" || status=1
  OCIRUN_TEST_BINARY="$PWD/test/fixtures/ocirun-node" npx vitest run --project integration test/integration/podman.test.ts -t 'podman run --rm' || status=1
  step "the single file, outside the checkout: podman and containerd"
  single=$(mktemp -d /tmp/ocirun-single.XXXXXX)
  cp build/ocirun "$single/ocirun"
  OCIRUN_TEST_BINARY="$single/ocirun" npx vitest run --project integration test/integration/podman.test.ts test/integration/containerd.test.ts || status=1
  rm -rf "$single"
  step "crash soak"
  node bench/soak.mjs --runtime "$PWD/bin/ocirun" --workers 8 --lifecycles "${OCIRUN_SOAK_LIFECYCLES:-70}" || status=1
  step "cgroup v2 (qemu guest)"
  scripts/cgroup2-vm.sh --timeout 1800 -- sh test/guest.sh || status=1
  step "systemd as PID 1 (qemu guests, cgroup v2 and hybrid): the systemd cgroup driver, checkpoint and restore"
  scripts/systemd-vm.sh --timeout 1800 -C "$PWD" -- 'CI=true npx vitest run --project systemd-guest' || status=1
  # The scope's chaos scenarios (systemd-chaos.test.ts) run on the v2 boot
  # only: on the hybrid boot, in one run, the guest's kernel went into soft
  # lockups (runc and a shell stuck for minutes) after them, not yet
  # understood; the file alone passed there.
  scripts/systemd-vm.sh --hybrid --timeout 1800 -C "$PWD" -- 'CI=true npx vitest run --project systemd-guest test/integration/systemd-cgroup.test.ts test/integration/systemd-managers.test.ts test/integration/checkpoint.test.ts' || status=1
else
  echo "not root: integration tests and conformance checks need root; skipped" >&2
  status=1
fi
exit $status
