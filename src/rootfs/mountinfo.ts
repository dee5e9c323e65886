/** /proc/PID/mountinfo, parsed once for everyone who reads it (proc(5)). */

export interface MountEntry {
  /** The mount's ID: one mount, not its place (another mounted there later has another). */
  id: string;
  /** The path within the filesystem that is mounted here ("/" for the whole of it). */
  root: string;
  mountPoint: string;
  /** The optional fields: shared:N, master:N, ... */
  optional: string[];
  fstype: string;
  source: string;
  superOptions: string;
}

/** mountinfo escapes space, tab, newline and backslash as octal. */
const unescape = (field: string) => field.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));

/** The entries of a mountinfo text, in its order; lines that are not entries are skipped. */
export function parseMountinfo(text: string): MountEntry[] {
  const out: MountEntry[] = [];
  for (const line of text.split('\n')) {
    const f = line.split(' ');
    const sep = f.indexOf('-');
    if (sep < 6) continue;
    out.push({ id: f[0], root: unescape(f[3]), mountPoint: unescape(f[4]), optional: f.slice(6, sep), fstype: f[sep + 1] ?? '', source: unescape(f[sep + 2] ?? ''), superOptions: f[sep + 3] ?? '' });
  }
  return out;
}
