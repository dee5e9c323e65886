#!/bin/sh
# What runs inside the cgroup-v2-only qemu guest (scripts/cgroup2-vm.sh), in
# one boot: the cgroup v2 and AppArmor tests, the mount namespace cases and
# the hardening checks, then the fault tests whose steps make, write, join
# or remove cgroups (the v2 code paths). The other fault steps touch no
# cgroup and run on the host only: under software emulation each case takes
# 10 to 40 s, and all of them would not fit CI's time. With them, the
# chaos scenarios whose commands meet the v2 files (a paused cgroup with an
# exec in flight: cgroup.freeze; a container without its own pid namespace:
# cgroup.kill; a process that is not the container's in its cgroup; runc's exec
# --ignore-paused), and a short crash soak (killed creates, exec, update,
# pause, resume and delete -f part-way).
status=0
CI=true npx vitest run --project guest --project integration test/integration/cgroups-v2.test.ts test/integration/lsm.test.ts test/integration/rootless-v2.test.ts test/integration/mount-namespace.test.ts test/integration/hardening.test.ts || status=1
CI=true npx vitest run --project integration test/integration/crash-safety.test.ts test/integration/chaos.test.ts -t 'cgroups|resources|processes-killed|init-created|run-started|paused-exec|host-pid|outsider-in-cgroup|ignore-paused' || status=1
node bench/soak.mjs --runtime "$PWD/bin/ocirun" --workers 2 --lifecycles 6 --timing || status=1
exit $status
