#!/usr/bin/env node
// Builds an OCI bundle from Debian's busybox-static: rootfs/ with busybox and
// its applet links, and the default config with the given command.
//   node scripts/make-bundle.mjs DIR [-- COMMAND...]
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { defaultSpec } = await import(path.join(root, 'dist/config/default.js'));
const [dir, sep, ...cmd] = process.argv.slice(2);
if (!dir || (sep !== undefined && sep !== '--')) {
  console.error('usage: make-bundle.mjs DIR [-- COMMAND...]');
  process.exit(2);
}
const busybox = '/bin/busybox';
if (!fs.existsSync(busybox)) {
  console.error('make-bundle: /bin/busybox is missing (apt-get install busybox-static)');
  process.exit(1);
}
const rootfs = path.join(dir, 'rootfs');
for (const d of ['bin', 'sbin', 'etc', 'proc', 'sys', 'dev', 'tmp', 'root']) fs.mkdirSync(path.join(rootfs, d), { recursive: true });
fs.copyFileSync(busybox, path.join(rootfs, 'bin/busybox'));
fs.chmodSync(path.join(rootfs, 'bin/busybox'), 0o755);
fs.chmodSync(path.join(rootfs, 'tmp'), 0o1777);
const applets = ['sh', 'ash', 'cat', 'echo', 'ls', 'id', 'hostname', 'ps', 'sleep', 'mount', 'true', 'false', 'env', 'grep', 'readlink', 'stat', 'touch', 'test', 'ulimit', 'wc', 'head', 'tail', 'sed', 'awk', 'pwd', 'kill', 'mkdir', 'rm', 'uname', 'date', 'dd', 'tr', 'cut', 'sort', 'find', 'printf', 'nproc', 'umask', 'xargs', 'basename', 'seq', 'tty', 'stty'];
for (const a of applets) {
  const link = path.join(rootfs, 'bin', a);
  if (!fs.existsSync(link)) fs.symlinkSync('busybox', link);
}
fs.writeFileSync(path.join(rootfs, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n');
fs.writeFileSync(path.join(rootfs, 'etc/group'), 'root:x:0:\ntty:x:5:\nnogroup:x:65534:\n');
const spec = defaultSpec({ args: cmd.length ? cmd : ['sh'], terminal: false });
// The tests' containers have their own cgroup namespace (runc's spec leaves it out on cgroup v1).
if (!spec.linux.namespaces.some((n) => n.type === 'cgroup')) spec.linux.namespaces.push({ type: 'cgroup' });
fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(spec, null, 2) + '\n');
