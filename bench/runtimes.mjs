// The runtimes a benchmark compares: this checkout's bin/ocirun, the runc
// on PATH, then each `--also NAME=PATH` of the command line (another build
// of ocirun, say the code before a change), in that order.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const project = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** NAME -> path of each runtime, from `argv` (the script's arguments). */
export function runtimesFrom(argv) {
  const rt = { ocirun: path.join(project, 'bin/ocirun'), runc: execFileSync('sh', ['-c', 'command -v runc'], { encoding: 'utf8' }).trim() };
  argv.forEach((a, i) => {
    if (a !== '--also') return;
    const m = /^([\w.-]+)=(\/.+)$/.exec(argv[i + 1] ?? '');
    if (!m || m[1] in rt || !fs.existsSync(m[2])) throw new Error(`--also ${argv[i + 1] ?? ''}: NAME=PATH, a new name and an existing absolute path`);
    rt[m[1]] = m[2];
  });
  return rt;
}

/**
 * Drops the runtimes' executables from the page cache (GNU dd's "nocache"
 * advice), bin/ocirun's build/ocirun with it: a file just written (a fresh
 * build) stays cached in large folios, which a process maps whole, and its
 * peak RSS then reads about 5 MB higher than that of the same file read
 * back from disk, as an installed one is.
 */
export function dropCachedPages(paths) {
  for (const p of paths) {
    const built = path.join(path.dirname(path.dirname(p)), 'build', 'ocirun');
    for (const f of p.endsWith('/bin/ocirun') && fs.existsSync(built) ? [p, built] : [p]) spawnSync('dd', [`if=${f}`, 'iflag=nocache', 'count=0', 'status=none']);
  }
}
