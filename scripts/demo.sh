#!/usr/bin/env bash
# README command (1): set everything up, build a bundle from Debian's
# busybox-static and run a container from it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bundle=$(mktemp -d /tmp/ocirun-demo.XXXXXX)
node scripts/make-bundle.mjs "$bundle" -- sh -c 'echo "hello from a container"; echo "hostname: $(hostname)"; echo "my pid: $$"'
bin/ocirun run --bundle "$bundle" "demo-$$"
rm -rf "$bundle"
