/** v1 weights on v2's scales, as runc and crun convert them (files: ./resources.ts; systemd properties: ./systemd.ts). */

/** cpu.shares (2..262144) to cpu.weight (1..10000), the formula runc and crun use. */
export const sharesToWeight = (shares: number) => (shares === 0 ? 0 : 1 + Math.floor(((shares - 2) * 9999) / 262142));
/** blkio.weight (10..1000) to io.weight (1..10000). */
export const blkioToIoWeight = (w: number) => (w === 0 ? 0 : 1 + Math.floor(((w - 10) * 9999) / 990));
