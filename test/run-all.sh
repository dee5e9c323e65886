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
# Each step's output is kept, so that the last lines of a long run say which
# steps failed and, for each, its failing tests (vitest's "FAIL" and "×"
# lines, the checks' "FAIL" lines), or its last lines when it names none.
logs=$(mktemp -d /tmp/ocirun-test-logs.XXXXXX)
failed=()
title=
step() { title=$*; printf '\n=== %s\n' "$*"; }
run() {
  local log rc tee_pid out i
  log=$(mktemp "$logs/step.XXXXXX")
  # Through a descriptor, not a pipe into tee: a daemon a step leaves
  # behind holding the pipe would keep the script waiting on the pipeline.
  exec {out}> >(tee "$log")
  tee_pid=$!
  "$@" >&"$out" 2>&1
  rc=$?
  exec {out}>&-
  # tee ends when the step's last writer does; wait for it (bounded) so
  # that the next step's lines come after this one's.
  for i in $(seq 50); do kill -0 "$tee_pid" 2>/dev/null || break; sleep 0.1; done
  if [ "$rc" != 0 ]; then
    status=1
    failed+=("$title: ${*:1:6} (exit $rc)|$log")
  fi
}
summary() {
  printf '\n=== summary: %s\n' "$([ $status = 0 ] && echo 'every step passed' || echo "${#failed[@]} step(s) failed")"
  local f
  for f in "${failed[@]}"; do
    printf -- '--- %s\n' "${f%|*}"
    local text lines
    text=$(sed 's/\x1b\[[0-9;]*m//g' "${f##*|}")
    lines=$(grep -aE '(^| )(FAIL|×) ' <<<"$text" | head -40)
    [ -n "$lines" ] || lines=$(tail -15 <<<"$text")
    printf '%s\n' "$lines"
  done
  rm -rf "$logs"
}
step "unit"
run npx vitest run --project unit
if [ "$(id -u)" = 0 ]; then
  step "integration (bin/ocirun: Bun)"
  run npx vitest run --project integration
  step "conformance: ocirun and runc"
  run node conformance/run.mjs --runtime "$PWD/bin/ocirun" --compare "$(command -v runc || true)"
  step "Node engine: conformance and podman run --rm"
  run node conformance/run.mjs --runtime "$PWD/test/fixtures/ocirun-node"
  run env OCIRUN_TEST_BINARY="$PWD/test/fixtures/ocirun-node" npx vitest run --project integration test/integration/podman.test.ts -t 'podman run --rm'
  step "the single file, outside the checkout: podman and containerd"
  single=$(mktemp -d /tmp/ocirun-single.XXXXXX)
  cp build/ocirun "$single/ocirun"
  run env OCIRUN_TEST_BINARY="$single/ocirun" npx vitest run --project integration test/integration/podman.test.ts test/integration/containerd.test.ts
  rm -rf "$single"
  step "crash soak"
  run node bench/soak.mjs --runtime "$PWD/bin/ocirun" --workers 8 --lifecycles "${OCIRUN_SOAK_LIFECYCLES:-70}"
  step "cgroup v2 (qemu guest)"
  run scripts/cgroup2-vm.sh --timeout 1800 -- sh test/guest.sh
  step "systemd as PID 1 (qemu guests, cgroup v2 and hybrid): the systemd cgroup driver, checkpoint and restore"
  run scripts/systemd-vm.sh --timeout 1800 -C "$PWD" -- 'CI=true npx vitest run --project systemd-guest'
  # The scope's chaos scenarios (systemd-chaos.test.ts) run on the v2 boot
  # only: on the hybrid boot, in one run, the guest's kernel went into soft
  # lockups (runc and a shell stuck for minutes) after them, not yet
  # understood; the file alone passed there.
  run scripts/systemd-vm.sh --hybrid --timeout 1800 -C "$PWD" -- 'CI=true npx vitest run --project systemd-guest test/integration/systemd-cgroup.test.ts test/integration/systemd-managers.test.ts test/integration/checkpoint.test.ts'
else
  echo "not root: integration tests and conformance checks need root; skipped" >&2
  status=1
  failed+=("not root: the integration tests, conformance checks, soak and guests were skipped|/dev/null")
fi
summary
exit $status
