/**
 * A cpu (or NUMA node) list as the kernel writes them ("0-3,7"): numbers
 * below 1024. The one parser: ./validate.ts refuses what it cannot read,
 * ./plan.ts converts what was accepted.
 */

/** The numbers of `text`; [] when it lists none, undefined when it is not such a list. */
export function parseCpuList(text: string): number[] | undefined {
  const cpus: number[] = [];
  for (const part of text.replace(/\s+/g, '').split(',').filter(Boolean)) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    const lo = m ? Number(m[1]) : NaN;
    const hi = m?.[2] !== undefined ? Number(m[2]) : lo;
    if (!m || hi < lo || hi >= 1024) return undefined;
    for (let c = lo; c <= hi; c++) cpus.push(c);
  }
  return cpus;
}
