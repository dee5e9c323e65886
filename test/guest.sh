#!/bin/sh
# What runs inside the cgroup-v2-only qemu guest (scripts/cgroup2-vm.sh), in
# one boot: the cgroup v2 and AppArmor tests, the mount namespace cases and
# the hardening checks, then the fault tests whose steps make, write, join
# or remove cgroups (the v2 code paths). The other fault steps touch no
# cgroup and run on the host only: under software emulation each case takes
# 10 to 40 s, and all of them would not fit CI's time.
status=0
CI=true npx vitest run --project guest --project integration test/integration/cgroups-v2.test.ts test/integration/lsm.test.ts test/integration/rootless-v2.test.ts test/integration/mount-namespace.test.ts test/integration/hardening.test.ts || status=1
CI=true npx vitest run --project integration test/integration/crash-safety.test.ts -t 'cgroups|resources|processes-killed|init-created|run-started' || status=1
exit $status
