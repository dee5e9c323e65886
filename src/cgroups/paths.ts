/**
 * A container's cgroup paths, one directory per hierarchy: v1 controller
 * names ("cpu,cpuacct", "name=systemd") and, for the cgroup v2 mount,
 * "unified".
 */

/** Whether the paths are cgroup v2's alone (a v2 host), not v1 hierarchies (with, on a hybrid host, the v2 mount beside them). */
export function unifiedOnly(paths: Record<string, string>): boolean {
  return Object.keys(paths).join() === 'unified';
}
