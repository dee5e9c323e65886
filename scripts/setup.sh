#!/usr/bin/env bash
# Installs what ocirun needs on Debian 12 (as root) and builds it.
set -euo pipefail
cd "$(dirname "$0")/.."
pkgs=(gcc libc6-dev libseccomp2 busybox-static runc podman containerd docker.io python3 util-linux iproute2 procps hyperfine tmux qemu-system-x86 cpio apparmor criu containernetworking-plugins uidmap kmod)
missing=()
for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
npm ci --no-audit --no-fund
