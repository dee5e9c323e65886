#!/usr/bin/env bash
# Boots a qemu (TCG) guest whose PID 1 is the host's own systemd, with a
# working system D-Bus, and runs COMMAND in it as root once the boot
# transaction is done (`systemctl is-system-running --wait`).
#
#   scripts/systemd-vm.sh [--hybrid] [--timeout S] [-C DIR] [-v] [--debug] -- COMMAND...
#   (one argument: a shell snippet; several: a command line, quoted word for word)
#
#   default   cgroup v2 only: cgroup_no_v1=all systemd.unified_cgroup_hierarchy=1
#   --hybrid  systemd.unified_cgroup_hierarchy=0 systemd.legacy_systemd_cgroup_controller=0
#             (v1 controllers under /sys/fs/cgroup/<ctrl>, systemd's tree on
#             the cgroup2 mount /sys/fs/cgroup/unified)
#   -C DIR    mounted writable at the same path in the guest, and the
#             command's working directory (default: $PWD)
#   -v        print timings (host wall clock; guest uptime at systemd exec,
#             at command start and end) and the system state
#   --debug   no "quiet": systemd's status lines, and `systemctl --failed`
#   SD_VM_APPEND=...  extra kernel command line (e.g. systemd.log_level=debug)
#   SD_VM_MEM=MiB     guest memory (default 4096)
#
# Guest root: an overlayfs, lower = host / read-only over 9p, upper = tmpfs,
# assembled by a busybox pre-init in the initramfs, which also writes the
# guest's /etc bits (machine-id, empty fstab, masks, units) into the upper
# layer and then execs /lib/systemd/systemd through switch_root. Every write
# (/etc, /var, /root, /tmp) lands in guest RAM and is gone at power-off.
# COMMAND runs from sd-vm-run.service (Type=exec, in system.slice), output on
# the serial console; its exit status is ours.
#
# Needs on the host: qemu-system-x86, cpio, busybox-static, kmod (depmod for
# the guest kernel's modules; the guest also uses the host's modprobe).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cache=${SD_VM_CACHE:-/var/cache/systemd-vm}
timeout_s=900 hybrid=0 verbose=0 debug=0 dir=$PWD mem=${SD_VM_MEM:-4096}
while [ $# -gt 0 ]; do
  case $1 in
    --hybrid) hybrid=1; shift ;;
    --timeout) timeout_s=$2; shift 2 ;;
    -C) dir=$(cd "$2" && pwd); shift 2 ;;
    -v) verbose=1; shift ;;
    --debug) debug=1; verbose=1; shift ;;
    --) shift; break ;;
    *) break ;;
  esac
done
[ $# -gt 0 ] || { echo "usage: $0 [--hybrid] [--timeout S] [-C DIR] [-v] [--debug] -- COMMAND..." >&2; exit 2; }
for tool in qemu-system-x86_64 cpio depmod; do
  command -v "$tool" >/dev/null || { echo "$0: $tool is missing" >&2; exit 2; }
done

# --- kernel + full module tree (for udev/modprobe in the guest), once ---
if [ ! -s "$cache/vmlinuz" ] || [ ! -s "$cache/kver" ]; then
  mkdir -p "$cache"
  pkg=$(apt-cache depends linux-image-amd64 | sed -n 's/^ *Depends: \(linux-image-[0-9].*\)$/\1/p' | head -1)
  work=$(mktemp -d); chmod 755 "$work"
  (cd "$work" && apt-get download -q "$pkg" >/dev/null 2>&1)
  dpkg-deb -x "$work"/*.deb "$work/root"
  kver=$(basename "$work"/root/lib/modules/*)
  rm -rf "$cache/modroot"; mkdir -p "$cache/modroot/lib"
  mv "$work/root/lib/modules" "$cache/modroot/lib/"
  depmod -b "$cache/modroot" -F "$work/root/boot/System.map-$kver" "$kver"
  cp "$work/root/boot/vmlinuz-$kver" "$cache/vmlinuz"
  echo "$kver" > "$cache/kver"
  rm -rf "$work"
fi
kver=$(cat "$cache/kver")
moddir=$cache/modroot/lib/modules/$kver

t0=$(date +%s.%N)
ir=$(mktemp -d) io=$(mktemp -d) log=$(mktemp)
trap 'rm -rf "$ir" "$ir.gz" "$io" "$log"' EXIT
mkdir -p "$ir"/{bin,proc,sys,dev,lower,rw,newroot,mod,payload}
cp /bin/busybox "$ir/bin/busybox"
# The modules the pre-init needs (9p root, overlay), in load order.
for m in virtio_pci 9pnet_virtio 9p overlay; do
  modprobe -d "$cache/modroot" -S "$kver" --show-depends "$m" | awk '$1 == "insmod" {print $2}'
done | awk '!seen[$0]++' | while read -r f; do
  cp "$f" "$ir/mod/"; basename "$f" .ko >> "$ir/mod/order"
done
# One argument is a shell snippet; several are a command line, kept word for word.
if [ $# -eq 1 ]; then printf '%s\n' "$1" > "$io/cmd"; else printf '%q ' "$@" > "$io/cmd"; echo >> "$io/cmd"; fi
printf '%s\n' "$dir" > "$ir/payload/dir"
printf '%s\n' "$moddir" > "$ir/payload/moddir"
printf '%s\n' "$kver" > "$ir/payload/kver"
echo "$debug" > "$ir/payload/debug"

# Units that are slow or pointless under TCG, or would wait for hardware or
# network that is not there. The boot target is sd-vm.target (basic.target +
# dbus + the command), so multi-user.target's wants (docker, postgresql,
# getty, ...) stay out unless asked for.
cat > "$ir/payload/masks" <<'EOF'
timers.target
systemd-timesyncd.service
apparmor.service
ldconfig.service
systemd-hwdb-update.service
systemd-journal-catalog-update.service
systemd-update-done.service
systemd-sysusers.service
systemd-firstboot.service
systemd-machine-id-commit.service
systemd-remount-fs.service
systemd-pstore.service
systemd-networkd-wait-online.service
NetworkManager-wait-online.service
ifupdown-wait-online.service
networking.service
systemd-networkd.service
systemd-resolved.service
getty.target
serial-getty@.service
getty@.service
console-getty.service
systemd-logind.service
systemd-journal-flush.service
systemd-update-utmp.service
systemd-update-utmp-runlevel.service
systemd-random-seed.service
systemd-binfmt.service
proc-sys-fs-binfmt_misc.automount
proc-sys-fs-binfmt_misc.mount
sys-kernel-debug.mount
sys-kernel-tracing.mount
sys-kernel-config.mount
dev-hugepages.mount
modprobe@dm_mod.service
modprobe@loop.service
modprobe@configfs.service
modprobe@fuse.service
EOF
# Generators that only cost time here (sysv scripts, getty, disks, ...).
cat > "$ir/payload/gen-masks" <<'EOF'
postgresql-generator
systemd-cryptsetup-generator
systemd-getty-generator
systemd-gpt-auto-generator
systemd-hibernate-resume-generator
systemd-integritysetup-generator
systemd-rc-local-generator
systemd-run-generator
systemd-system-update-generator
systemd-sysv-generator
systemd-veritysetup-generator
EOF

cat > "$ir/payload/sd-vm.target" <<'EOF'
[Unit]
Description=sd-vm: basic system + D-Bus + the command
Requires=basic.target
Wants=dbus.service sd-vm-run.service
After=basic.target dbus.service
AllowIsolate=yes
EOF

cat > "$ir/payload/sd-vm-run.service" <<'EOF'
[Unit]
Description=sd-vm: the command
Wants=dbus.service
After=basic.target dbus.service
[Service]
Type=exec
ExecStart=/bin/sh /usr/local/lib/sd-vm/wrapper
StandardInput=null
StandardOutput=tty
StandardError=inherit
TTYPath=/dev/console
TTYReset=no
TTYVHangup=no
TTYVTDisallocate=no
TimeoutStartSec=infinity
Environment=HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
Environment=SYSTEMD_URLIFY=0 SYSTEMD_COLORS=0 SYSTEMD_PAGER=cat
EOF

# Boot failure (emergency/rescue) must not sit on a sulogin prompt.
cat > "$ir/payload/emergency.service" <<'EOF'
[Unit]
Description=sd-vm: boot failed
DefaultDependencies=no
[Service]
Type=oneshot
StandardInput=null
StandardOutput=tty
StandardError=inherit
TTYPath=/dev/console
ExecStart=/bin/sh -c 'systemctl --no-pager --failed; journalctl -b --no-pager -p err | tail -40; echo SD_VM_STATUS=125; echo 125 > /sd-vm/status; sync; systemctl poweroff -ff'
EOF

cat > "$ir/payload/journald.conf" <<'EOF'
[Journal]
Storage=volatile
ForwardToConsole=no
EOF

cat > "$ir/payload/wrapper" <<'EOF'
# Runs in the guest, from sd-vm-run.service.
debug=$(cat /usr/local/lib/sd-vm/debug)
state=$(systemctl is-system-running --wait 2>&1)
read -r up _ < /proc/uptime
echo "SD_VM_BEGIN uptime=$up state=$state"
if [ "$debug" = 1 ] || [ "$state" != running ]; then
  systemd-analyze time 2>&1 | head -1
  systemctl --no-pager --failed
fi
cd "$(cat /usr/local/lib/sd-vm/dir)" || exit 1
(. /sd-vm/cmd)
rc=$?
read -r up _ < /proc/uptime
echo "SD_VM_END uptime=$up"
echo "SD_VM_STATUS=$rc"
echo "$rc" > /sd-vm/status
sync
systemctl poweroff -ff
EOF

cat > "$ir/init" <<'GUEST'
#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
while read -r m; do insmod "/mod/$m.ko" || echo "sd-vm: insmod $m failed"; done < /mod/order
fail() { echo "sd-vm pre-init: $*"; echo "SD_VM_STATUS=125"; poweroff -f; }
o=trans=virtio,version=9p2000.L,msize=512000
i=0
until mount -t 9p -o "$o,cache=loose,ro" hostroot /lower 2>/dev/null; do
  i=$((i + 1)); [ $i -lt 100 ] || fail "no 9p root"; sleep 0.1
done
mount -t tmpfs -o mode=755 tmpfs /rw
mkdir -p /rw/upper /rw/work
mount -t overlay -o lowerdir=/lower,upperdir=/rw/upper,workdir=/rw/work overlay /newroot || fail "overlay mount failed"
r=/newroot
p=/payload
# /etc bits systemd wants writable or fresh.
cat /proc/sys/kernel/random/uuid | tr -d - > $r/etc/machine-id
rm -f $r/var/lib/dbus/machine-id; ln -s /etc/machine-id $r/var/lib/dbus/machine-id
: > $r/etc/fstab
echo sd-vm > $r/etc/hostname
# The host's /.dockerenv would make systemd believe it runs in a container
# (then it ignores the kernel command line, skips udev, ...).
rm -f $r/.dockerenv $r/run/.containerenv
# Debian's tmp.conf is "D /tmp": at boot systemd-tmpfiles would empty /tmp,
# i.e. walk the host's /tmp over 9p and white all of it out. Keep /tmp as is.
mkdir -p $r/etc/tmpfiles.d
echo 'd /tmp 1777 root root -' > $r/etc/tmpfiles.d/tmp.conf
s=$r/etc/systemd/system
mkdir -p $s $r/etc/systemd/journald.conf.d $r/usr/local/lib/sd-vm
while read -r u; do rm -rf "$s/$u"; ln -s /dev/null "$s/$u"; done < $p/masks
mkdir -p $r/etc/systemd/system-generators
while read -r g; do ln -s /dev/null "$r/etc/systemd/system-generators/$g"; done < $p/gen-masks
cp $p/sd-vm.target $p/sd-vm-run.service $p/emergency.service $s/
cp $p/emergency.service $s/rescue.service
cp $p/journald.conf $r/etc/systemd/journald.conf.d/sd-vm.conf
cp $p/wrapper $p/dir $p/debug $r/usr/local/lib/sd-vm/
# The guest kernel's modules (from the cache, through the 9p lower).
kver=$(cat $p/kver)
mkdir -p $r/lib/modules/$kver
mount --bind "/lower$(cat $p/moddir)" $r/lib/modules/$kver || echo "sd-vm: no module tree"
# Container storage cannot use the overlay root as its backing fs (overlay
# upperdir on overlayfs is refused), and the host's images stay out: tmpfs.
for d in /var/lib/containers /var/lib/docker /var/lib/containerd; do
  mkdir -p "$r$d" && mount -t tmpfs -o mode=711 tmpfs "$r$d"
done
# Shared, writable: the per-run io dir and DIR at its own path.
mkdir -p $r/sd-vm
mount -t 9p -o "$o,rw" io $r/sd-vm || fail "cannot mount the io dir"
dir=$(cat $p/dir)
mkdir -p "$r$dir"
# Page cache on (cache=loose): without it every exec of a binary there
# reads it over 9p again (5-7 s for ocirun's 115 MB single file under TCG,
# 0.4 s once cached). Nothing on the host writes DIR while the guest runs.
mount -t 9p -o "$o,cache=loose,rw" work "$r$dir" || echo "sd-vm: cannot mount $dir"
# Hand over: systemd mounts /run, /sys/fs/cgroup etc. itself.
mount --move /dev $r/dev
mount --move /sys $r/sys
read -r up _ < /proc/uptime; echo "SD_VM_PREINIT uptime=$up"
umount /proc
exec switch_root $r /lib/systemd/systemd
GUEST
chmod 755 "$ir/init"
(cd "$ir" && find . | cpio -o -H newc 2>/dev/null | gzip -1) > "$ir.gz"

if [ "$hybrid" = 1 ]; then
  cg="systemd.unified_cgroup_hierarchy=0 systemd.legacy_systemd_cgroup_controller=0"
else
  cg="cgroup_no_v1=all systemd.unified_cgroup_hierarchy=1"
fi
if [ "$debug" = 1 ]; then q="loglevel=4 systemd.show_status=1"; else q="quiet loglevel=3 systemd.show_status=error"; fi
append="console=ttyS0 panic=-1 $q $cg systemd.unit=sd-vm.target systemd.firstboot=0 apparmor=0 systemd.crash_reboot=1 selinux=0 ${SD_VM_APPEND:-}"

set +e
timeout "$timeout_s" qemu-system-x86_64 -accel tcg -cpu max -smp 2 -m "$mem" -nographic -vga none -no-reboot -nic none \
  -kernel "$cache/vmlinuz" -initrd "$ir.gz" -append "$append" \
  -virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap \
  -virtfs "local,path=$io,mount_tag=io,security_model=none,multidevs=remap" \
  -virtfs "local,path=$dir,mount_tag=work,security_model=none,multidevs=remap" \
  < /dev/null 2>&1 | tee "$log" | sed -u -e 's/\r$//' -e 's/\x1b[[0-9;?]*[a-zA-Z]//g' -e 's/\x1bc//g' \
  | grep -av --line-buffered -e '^SD_VM_' -e 'SeaBIOS' -e 'Booting from ROM' -e 'reboot: Power down' -e '^\s*$'
set -e
t1=$(date +%s.%N)
status=$(cat "$io/status" 2>/dev/null || grep -ao 'SD_VM_STATUS=[0-9]*' "$log" | tail -1 | cut -d= -f2)
if [ "$verbose" = 1 ]; then
  b=$(tr -d '\r' < "$log" | sed -n 's/.*SD_VM_BEGIN uptime=\([0-9.]*\) state=\(.*\)$/\1 s, state \2/p' | tail -1)
  e=$(tr -d '\r' < "$log" | sed -n 's/.*SD_VM_END uptime=\([0-9.]*\).*/\1/p' | tail -1)
  pi=$(tr -d '\r' < "$log" | sed -n 's/.*SD_VM_PREINIT uptime=\([0-9.]*\).*/\1/p' | tail -1)
  echo "sd-vm: guest uptime: systemd exec'd at $pi s, command started at $b; ended at $e s; host wall clock $(echo "$t1 - $t0" | bc) s" >&2
fi
[ -n "$status" ] || { echo "$0: the guest ended without a status (timeout after ${timeout_s}s, or a crash)" >&2; exit 124; }
exit "$status"
