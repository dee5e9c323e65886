/**
 * linux.intelRdt through the resctrl filesystem, as runc's intelrdt
 * package: a group per container (its id, or the given closID), the
 * schemata written into it, the init's pid in its `tasks`, and with
 * enableMonitoring a monitoring group `mon_groups/<id>` of its own. Only a
 * group ocirun made is removed at delete; a closID group is someone else's.
 * Every path here is under `root`, the resctrl mount, so the unit tests run
 * the same code against a directory that looks like one.
 */
import fs from 'node:fs';
import path from 'node:path';
import { ConfigError, RuntimeError } from '../errors.js';
import type { Config } from '../config/schema.js';
import { parseMountinfo } from '../rootfs/mountinfo.js';

export type IntelRdtConfig = NonNullable<NonNullable<Config['linux']>['intelRdt']>;

/** The resctrl mount point in a mountinfo text, or undefined. */
export function resctrlRoot(mountinfo: string): string | undefined {
  return parseMountinfo(mountinfo).find((m) => m.fstype === 'resctrl')?.mountPoint;
}

/** runc's intelrdtCheck: resctrl there, a closID that names one directory, and the features the schemata need. */
export function checkIntelRdt(rdt: IntelRdtConfig, root: string | undefined): void {
  if (!root) throw new ConfigError('linux.intelRdt', 'Intel RDT needs the resctrl filesystem (mount -t resctrl resctrl /sys/fs/resctrl), which this host does not have');
  const clos = rdt.closID;
  if (clos !== undefined && (clos === '' || clos === '.' || clos === '..' || clos.includes('/'))) throw new ConfigError('linux.intelRdt.closID', `invalid closID ${JSON.stringify(clos)}`);
  if (rdt.l3CacheSchema && !fs.existsSync(path.join(root, 'info/L3'))) throw new ConfigError('linux.intelRdt.l3CacheSchema', 'set, but Intel RDT/CAT is not enabled (no info/L3 in resctrl)');
  if (rdt.memBwSchema && !fs.existsSync(path.join(root, 'info/MB'))) throw new ConfigError('linux.intelRdt.memBwSchema', 'set, but Intel RDT/MBA is not enabled (no info/MB in resctrl)');
  if (rdt.enableMonitoring && !fs.existsSync(path.join(root, 'info/L3_MON'))) throw new ConfigError('linux.intelRdt.enableMonitoring', 'set, but resctrl has no monitoring (no info/L3_MON)');
}

/** What apply made, kept in the state so that delete undoes exactly that. */
export interface ResctrlGroup {
  path: string;
  /** ocirun made `path` (no closID, or a closID that did not exist): delete removes it. */
  created: boolean;
  monPath?: string;
}

/** A failed resctrl write, with what the kernel said about it (info/last_cmd_status). */
function failed(root: string, what: string, err: unknown): RuntimeError {
  let status = '';
  try {
    status = fs.readFileSync(path.join(root, 'info/last_cmd_status'), 'utf8').trim();
  } catch {
    /* none */
  }
  return new RuntimeError('intel RDT', `${what}: ${(err as Error).message}${status ? `, last_cmd_status: ${status}` : ''}`, { cause: err });
}

export function applyIntelRdt(root: string, id: string, rdt: IntelRdtConfig, pid: number): ResctrlGroup {
  const dir = path.join(root, rdt.closID || id);
  const schemata = [rdt.l3CacheSchema, rdt.memBwSchema, ...(rdt.schemata ?? [])].filter(Boolean);
  // A closID without schemata names a group that must exist already (the spec's pre-configured CLOS).
  if (rdt.closID && !schemata.length && !fs.existsSync(dir)) throw new RuntimeError('intel RDT', `${dir}: the closID group must exist when no schemata are given`);
  let created = false;
  try {
    fs.mkdirSync(dir, { mode: 0o755 });
    created = true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw failed(root, `mkdir ${dir}`, err);
  }
  const group: ResctrlGroup = { path: dir, created };
  try {
    if (schemata.length) {
      try {
        fs.writeFileSync(path.join(dir, 'schemata'), schemata.join('\n') + '\n');
      } catch (err) {
        throw failed(root, `write ${JSON.stringify(schemata.join('\n'))} to ${path.join(dir, 'schemata')}`, err);
      }
    }
    const addTask = (d: string) => {
      try {
        fs.writeFileSync(path.join(d, 'tasks'), String(pid));
      } catch (err) {
        throw failed(root, `add pid ${pid} to ${path.join(d, 'tasks')}`, err);
      }
    };
    addTask(dir);
    if (rdt.enableMonitoring) {
      const mon = path.join(dir, 'mon_groups', id);
      try {
        // (resctrl makes mon_groups with the group; recursive is for a tree that only looks like resctrl.)
        fs.mkdirSync(mon, { mode: 0o755, recursive: true });
      } catch (err) {
        throw failed(root, `mkdir ${mon}`, err);
      }
      group.monPath = mon;
      addTask(mon);
    }
    return group;
  } catch (err) {
    removeIntelRdt(group);
    throw err;
  }
}

/** Undoes applyIntelRdt: our group, or else only our monitoring group in someone else's. */
export function removeIntelRdt(group: ResctrlGroup): void {
  const rm = (d: string) => {
    try {
      fs.rmdirSync(d);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new RuntimeError('intel RDT', `remove ${d}: ${(err as Error).message}`, { cause: err });
    }
  };
  if (group.created) rm(group.path);
  else if (group.monPath) rm(group.monPath);
}
