#!/usr/bin/env bash
# Runs a command on a real cgroup-v2-only kernel: a qemu guest booted from
# Debian's own kernel package with cgroup_no_v1=all. These machines run
# cgroup v1 in hybrid mode, and the host's hierarchies must never be
# remounted, so this is how the v2 code paths meet a real kernel.
#
#   scripts/cgroup2-vm.sh [--timeout SECONDS] -- COMMAND...
#
# The guest mounts the host's / read-only over 9p, puts fresh proc, sysfs,
# devtmpfs, devpts, securityfs, cgroup2 and tmpfs (/tmp, /run) on it, and
# this checkout writable at the same path; COMMAND runs as root in the
# checkout through sh -c, its output streams here and its exit status is
# ours. KVM does not boot on these VMs, so it is software emulation (-accel
# tcg): about 10 s to boot and power off, about 2 s per Node start inside.
set -euo pipefail
timeout_s=1200
while [ $# -gt 0 ]; do
  case $1 in
    --timeout) timeout_s=$2; shift 2 ;;
    --) shift; break ;;
    *) break ;;
  esac
done
[ $# -gt 0 ] || { echo "usage: $0 [--timeout S] -- COMMAND..." >&2; exit 2; }
checkout=$(cd "$(dirname "$0")/.." && pwd)
cache=${OCIRUN_VM_CACHE:-/var/cache/ocirun-vm}

for tool in qemu-system-x86_64 cpio; do
  command -v "$tool" >/dev/null || { echo "$0: $tool is missing (scripts/setup.sh installs it)" >&2; exit 2; }
done

# The modules a 9p root needs, with their dependencies in load order (the
# package has no modules.dep: depmod makes it at install time, so each
# module's own "depends=" string from its .modinfo section is read).
wanted="9p 9pnet_virtio virtio_pci"
if [ ! -s "$cache/vmlinuz" ] || [ ! -s "$cache/modules.order" ]; then
  mkdir -p "$cache"
  pkg=$(apt-cache depends linux-image-amd64 | sed -n 's/^ *Depends: \(linux-image-[0-9].*\)$/\1/p' | head -1)
  [ -n "$pkg" ] || { echo "$0: cannot find the kernel package behind linux-image-amd64" >&2; exit 2; }
  work=$(mktemp -d)
  chmod 755 "$work" # apt-get download runs as _apt where it can
  (cd "$work" && apt-get download -q "$pkg" >/dev/null 2>&1)
  dpkg-deb -x "$work"/*.deb "$work/root"
  moddir=$(echo "$work"/root/lib/modules/*)
  : > "$cache/modules.order"
  add() { # module name -> its dependencies, then itself, each once
    local file deps
    file=$(find "$moddir" -name "$1.ko" -o -name "$1.ko.xz" -o -name "$1.ko.zst" | head -1)
    [ -n "$file" ] || { echo "$0: module $1 not in $pkg" >&2; exit 2; }
    grep -qx "$1" "$cache/modules.order" && return 0
    case $file in
      *.xz) xz -dc "$file" > "$cache/$1.ko.tmp" ;;
      *.zst) zstd -qdc "$file" > "$cache/$1.ko.tmp" ;;
      *) cp "$file" "$cache/$1.ko.tmp" ;;
    esac
    deps=$(tr '\0' '\n' < "$cache/$1.ko.tmp" | sed -n 's/^depends=//p' | head -1 | tr ',' ' ')
    for d in $deps; do add "$d"; done
    mv "$cache/$1.ko.tmp" "$cache/$1.ko"
    echo "$1" >> "$cache/modules.order"
  }
  for m in $wanted; do add "$m"; done
  cp "$work"/root/boot/vmlinuz-* "$cache/vmlinuz"
  rm -rf "$work"
fi

initrd_dir=$(mktemp -d)
log=$(mktemp)
trap 'rm -rf "$initrd_dir" "$initrd_dir.gz" "$log"' EXIT
mkdir -p "$initrd_dir"/{bin,proc,sys,dev,hostroot,modules}
cp /bin/busybox "$initrd_dir/bin/busybox"
cp "$cache"/*.ko "$cache/modules.order" "$initrd_dir/modules/"
printf '%s\n' "$*" > "$initrd_dir/command"
printf "%s\n" "$checkout" > "$initrd_dir/checkout-path"
cat > "$initrd_dir/init" <<'GUEST'
#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
while read -r m; do insmod "/modules/$m.ko" || echo "guest: insmod $m failed"; done < /modules/modules.order
opts=trans=virtio,version=9p2000.L,msize=512000
tries=0
until mount -t 9p -o "$opts,cache=loose,ro" hostroot /hostroot 2>/dev/null; do
  tries=$((tries + 1))
  [ "$tries" -lt 100 ] || { echo "OCIRUN_VM_STATUS=125"; poweroff -f; }
  sleep 0.1
done
r=/hostroot
checkout=$(cat /checkout-path)
mount -t proc proc $r/proc
mount -t sysfs sysfs $r/sys
mount -t securityfs securityfs $r/sys/kernel/security 2>/dev/null || true
mount -t cgroup2 -o nsdelegate cgroup2 $r/sys/fs/cgroup
mount -t devtmpfs devtmpfs $r/dev
mkdir -p $r/dev/pts $r/dev/shm $r/dev/mqueue
mount -t devpts -o newinstance,ptmxmode=0666,mode=620 devpts $r/dev/pts
ln -sf pts/ptmx $r/dev/ptmx.new 2>/dev/null && mv -f $r/dev/ptmx.new $r/dev/ptmx
ln -sf /proc/self/fd $r/dev/fd
mount -t tmpfs tmpfs $r/dev/shm
mount -t mqueue mqueue $r/dev/mqueue
mount -t tmpfs tmpfs $r/tmp
mount -t tmpfs tmpfs $r/run
mount -t tmpfs tmpfs $r/var/tmp 2>/dev/null || true
# The checkout may live under a directory just replaced by a tmpfs (/tmp).
mkdir -p "$r$checkout" 2>/dev/null
# Page cache on (cache=loose): without it every exec of a binary there
# reads it over 9p again (5-7 s for ocirun's 115 MB single file under TCG,
# 0.4 s once cached). Nothing on the host writes the checkout meanwhile.
mount -t 9p -o "$opts,cache=loose,rw" checkout "$r$checkout" || echo "guest: cannot mount the checkout at $checkout"
cp /command $r/tmp/.ocirun-vm-command
# switch_root, not chroot: the host root must be the mount namespace's own
# root, as on a real host, or a process that joins a container's mount
# namespace by setns() would land in the initramfs.
exec switch_root $r /bin/sh -c "cd '$checkout' && export HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin && (. /tmp/.ocirun-vm-command); echo OCIRUN_VM_STATUS=\$?; sync; /bin/busybox poweroff -f"
GUEST
chmod 755 "$initrd_dir/init"
(cd "$initrd_dir" && find . | cpio -o -H newc 2>/dev/null | gzip -1) > "$initrd_dir.gz"

set +e
timeout "$timeout_s" qemu-system-x86_64 -accel tcg -cpu max -smp 2 -m 4096 -nographic -no-reboot -nic none \
  -kernel "$cache/vmlinuz" -initrd "$initrd_dir.gz" \
  -append "console=ttyS0 quiet loglevel=3 panic=-1 cgroup_no_v1=all" \
  -virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap \
  -virtfs "local,path=$checkout,mount_tag=checkout,security_model=none,multidevs=remap" \
  < /dev/null 2>&1 | tee "$log" | sed -u -e 's/\x1b[[0-9;?]*[a-zA-Z]//g' -e 's/\x1bc//g' | grep -av --line-buffered -e '^OCIRUN_VM_STATUS=' -e 'SeaBIOS' -e 'Booting from ROM' -e 'reboot: Power down' -e '^\s*$'
set -e
status=$(grep -ao 'OCIRUN_VM_STATUS=[0-9]*' "$log" | tail -1 | cut -d= -f2)
[ -n "$status" ] || { echo "$0: the guest ended without a status (timeout after ${timeout_s}s, or a crash)" >&2; exit 124; }
exit "$status"
