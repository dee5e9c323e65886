/**
 * Walking a cgroup and every cgroup below it through directory fds, one
 * level at a time: a container with a writable cgroupfs can make a chain of
 * sub-cgroups whose full path is longer than PATH_MAX, which no path-based
 * call (readdir, rmdir, reading cgroup.procs) reaches. Each step here is
 * relative to an open fd (`/proc/self/fd/N/NAME`, a short path whatever the
 * depth), and only one fd is held at a time (the walk climbs back through
 * `..`), so neither depth nor the fd limit matters.
 */
import fs from 'node:fs';

const at = (fd: number, name = '') => `/proc/self/fd/${fd}${name ? '/' + name : ''}`;
const DIR_FLAGS = fs.constants.O_RDONLY | fs.constants.O_DIRECTORY | fs.constants.O_NOFOLLOW;

/** One cgroup of the walk: read or removed through `dir` and `parent` (fd paths, valid during the visit only). */
export interface CgroupVisit {
  /** The cgroup's directory, as an fd path. */
  dir: string;
  /** Its entry in its parent's directory, as an fd path (rmdir it); the top's own path for the top. */
  entry: string;
  /** The names from the top down to it (empty for the top). */
  names: string[];
}

function childDirs(fd: number): string[] {
  try {
    return fs
      .readdirSync(at(fd), { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => e.name);
  } catch {
    return [];
  }
}

function openAt(fd: number, name: string): number | undefined {
  try {
    return fs.openSync(at(fd, name), DIR_FLAGS);
  } catch {
    return undefined; // removed meanwhile
  }
}

interface Frame {
  name: string;
  children: string[];
  next: number;
}

/**
 * Visits `top` and every cgroup below it: children before their parent (the
 * order rmdir needs), or with `parentsFirst` each parent before its children
 * (the order a thaw needs: a child cannot thaw while its parent is frozen).
 * A cgroup removed during the walk is skipped.
 */
export function walkCgroups(top: string, visit: (v: CgroupVisit) => void, opts: { parentsFirst?: boolean } = {}): void {
  let fd: number;
  try {
    fd = fs.openSync(top, DIR_FLAGS);
  } catch {
    return; // no such cgroup: nothing below it either
  }
  if (opts.parentsFirst) visit({ dir: at(fd), entry: top, names: [] });
  const stack: Frame[] = [{ name: '', children: childDirs(fd), next: 0 }];
  const namesTo = (name: string) => [...stack.slice(1).map((f) => f.name), name];
  try {
    while (stack.length) {
      const frame = stack[stack.length - 1];
      if (frame.next < frame.children.length) {
        const name = frame.children[frame.next++];
        const child = openAt(fd, name);
        if (child === undefined) continue;
        try {
          if (opts.parentsFirst) visit({ dir: at(child), entry: at(fd, name), names: namesTo(name) });
        } finally {
          fs.closeSync(fd);
          fd = child;
        }
        stack.push({ name, children: childDirs(fd), next: 0 });
        continue;
      }
      stack.pop();
      if (!stack.length) {
        if (!opts.parentsFirst) visit({ dir: at(fd), entry: top, names: [] });
        break;
      }
      const names = namesTo(frame.name);
      const parent = openAt(fd, '..');
      if (parent === undefined) break; // cannot climb back: the rest cannot be reached
      try {
        if (!opts.parentsFirst) visit({ dir: at(fd), entry: at(parent, frame.name), names });
      } finally {
        fs.closeSync(fd);
        fd = parent;
      }
    }
  } finally {
    fs.closeSync(fd);
  }
}

/** The pids listed in one cgroup's cgroup.procs (none if it is gone). */
export function procsOf(dir: string): number[] {
  try {
    return fs
      .readFileSync(`${dir}/cgroup.procs`, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
}

/**
 * A cgroup's path for a message, short whatever its depth: the top, how many
 * levels below it, and the last name.
 */
export function describeCgroup(top: string, names: string[]): string {
  if (names.length <= 3) return [top, ...names].join('/');
  return `${top}/.../${names[names.length - 1]} (${names.length} levels below)`;
}
