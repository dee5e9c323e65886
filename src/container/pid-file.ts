/** The --pid-file of create, run, exec and restore. */
import { replaceCallerFile } from '../caller-path.js';

/**
 * Writes `pid` to `file` atomically, as runc does (managers poll for the
 * file, so it must appear whole): through a temporary ".<name>" made with
 * O_EXCL, so that nothing planted there is written through or truncated.
 */
export function writePidFile(file: string, pid: number): void {
  replaceCallerFile('write pid file', file, String(pid), 0o644);
}
