// A CRI v1 client for the tests (@grpc/grpc-js with our subset of the API,
// api.proto), and a private containerd with its CRI plugin serving it.
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { busyboxRootfsTar, project, stopDaemon, TEST_IMAGE, waitUntil } from '../helpers.js';

export const SANDBOX_IMAGE = 'localhost/ocirun-test-pause:latest';

type Call = (request: object, timeoutMs?: number) => Promise<any>;
/** The RuntimeService and ImageService methods, promised; names as in the API. */
export type CriClient = Record<string, Call> & { close(): void };

export function criClient(socket: string): CriClient {
  const definition = protoLoader.loadSync(path.join(__dirname, 'api.proto'), { keepCase: true, longs: Number, enums: String, defaults: true });
  const api = (grpc.loadPackageDefinition(definition) as any).runtime.v1;
  const services = [new api.RuntimeService(`unix://${socket}`, grpc.credentials.createInsecure()), new api.ImageService(`unix://${socket}`, grpc.credentials.createInsecure())];
  const client: Record<string, unknown> = {};
  for (const service of services) {
    for (const name of Object.keys(Object.getPrototypeOf(service)).filter((n) => /^[A-Z]/.test(n))) {
      client[name] = (request: object, timeoutMs = 60_000) =>
        new Promise((resolve, reject) => service[name](request, { deadline: Date.now() + timeoutMs }, (err: Error | null, reply: unknown) => (err ? reject(err) : resolve(reply))));
    }
  }
  client.close = () => services.forEach((s) => s.close());
  return client as CriClient;
}

export interface CriContainerd {
  cri: CriClient;
  /** Its directory: config, root, state, socket, log, CNI config. */
  dir: string;
  log(): string;
  stop(): Promise<void>;
}

/**
 * A private containerd 1.6 with its built-in CRI plugin: config, root,
 * state and unix socket under a temp dir, in a network namespace of its own
 * (the CRI streaming server listens on TCP; it listens there, not on the
 * host). `handlers` name runtimes by their binary, each through the runc
 * shim as a RuntimeClass handler would; the first is the default. CNI: the
 * `static` plugin reports 127.0.0.1/8 (containerd wants an address for the
 * pod) and `loopback` brings up lo, so a pod's namespace has only lo.
 * The sandbox image runs a pause program; the app image is the busybox
 * test image. With `systemdCgroup`, the shim runs each runtime with
 * --systemd-cgroup (the kubelet's systemd driver: pods under slices).
 * `baseDir` holds the daemon's directories (the snapshotter's overlay
 * needs a file system that can be an upper layer).
 */
export async function startCriContainerd(handlers: Record<string, string>, opts: { systemdCgroup?: boolean; baseDir?: string } = {}): Promise<CriContainerd> {
  const dir = fs.mkdtempSync(path.join(opts.baseDir ?? os.tmpdir(), 'ocirun-cri-'));
  const cri = 'plugins."io.containerd.grpc.v1.cri"';
  const names = Object.keys(handlers);
  fs.mkdirSync(path.join(dir, 'cni'));
  fs.writeFileSync(
    path.join(dir, 'cni/10-test.conflist'),
    JSON.stringify({ cniVersion: '0.4.0', name: 'ocirun-test', plugins: [{ type: 'static', ipam: { type: 'static', addresses: [{ address: '127.0.0.1/8' }] } }, { type: 'loopback' }] }),
  );
  fs.writeFileSync(
    path.join(dir, 'config.toml'),
    [
      'version = 2',
      `root = "${dir}/root"`,
      `state = "${dir}/state"`,
      `[grpc]\n  address = "${dir}/c.sock"`,
      `[ttrpc]\n  address = "${dir}/c.sock.ttrpc"`,
      '[debug]\n  address = ""',
      '[metrics]\n  address = ""',
      `[${cri}]`,
      `  sandbox_image = "${SANDBOX_IMAGE}"`,
      // Root on these machines lacks CAP_SYS_RESOURCE: lowering the
      // sandbox's oom_score_adj below the daemon's own would fail.
      '  restrict_oom_score_adj = true',
      '  stream_server_address = "127.0.0.1"',
      '  stream_server_port = "0"',
      `[${cri}.containerd]`,
      `  default_runtime_name = "${names[0]}"`,
      ...names.flatMap((name) => [
        `[${cri}.containerd.runtimes.${name}]`,
        '  runtime_type = "io.containerd.runc.v2"',
        `[${cri}.containerd.runtimes.${name}.options]`,
        `  BinaryName = "${handlers[name]}"`,
        `  SystemdCgroup = ${opts.systemdCgroup ?? false}`,
      ]),
      `[${cri}.cni]`,
      '  bin_dir = "/usr/lib/cni"',
      `  conf_dir = "${dir}/cni"`,
      '',
    ].join('\n'),
  );
  const logFile = path.join(dir, 'containerd.log');
  const log = fs.openSync(logFile, 'w');
  // lo comes up first so that the streaming server can bind 127.0.0.1.
  const daemon = spawn('unshare', ['--net', 'sh', '-c', 'ip link set lo up && exec containerd --config "$0"', path.join(dir, 'config.toml')], { stdio: ['ignore', log, log] });
  fs.closeSync(log);
  const ctr = (args: string[]) => spawnSync('ctr', ['-a', path.join(dir, 'c.sock'), '-n', 'k8s.io', ...args], { encoding: 'utf8', timeout: 60_000 });
  let client: CriClient | undefined;
  const stop = async () => {
    client?.close();
    await stopDaemon(daemon);
    spawnSync('umount', ['-R', '-l', path.join(dir, 'root')]);
    fs.rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitUntil(() => fs.existsSync(path.join(dir, 'c.sock')), 'containerd listening', 15_000);
    const pause = fs.mkdtempSync(path.join(dir, 'pause-'));
    execFileSync('gcc', ['-static', '-O2', '-o', path.join(pause, 'pause'), path.join(project, 'test/fixtures/pause.c')]);
    execFileSync('tar', ['-C', pause, '-cf', `${pause}.tar`, '.']);
    importImage(ctr, SANDBOX_IMAGE, `${pause}.tar`, ['/pause']);
    busyboxRootfsTar(path.join(dir, 'busybox.tar'));
    importImage(ctr, TEST_IMAGE, path.join(dir, 'busybox.tar'), ['sh']);
    client = criClient(path.join(dir, 'c.sock'));
    const version = await client.Version({});
    if (!version.runtime_api_version) throw new Error('CRI Version: no runtime_api_version');
  } catch (err) {
    const text = fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8').slice(-3000) : '';
    await stop();
    throw new Error(`${(err as Error).message}\n${text}`);
  }
  return { cri: client, dir, log: () => fs.readFileSync(logFile, 'utf8'), stop };
}

/**
 * Makes an image of a rootfs tar through podman (import with the command,
 * then save as an OCI archive) and imports it into containerd's k8s.io
 * namespace, where the CRI plugin looks.
 */
function importImage(ctr: (args: string[]) => ReturnType<typeof spawnSync>, name: string, tar: string, cmd: string[]): void {
  const archive = `${tar}.oci`;
  execFileSync('podman', ['import', '-q', '--change', `CMD ${JSON.stringify(cmd)}`, tar, name]);
  execFileSync('podman', ['save', '-q', '--format', 'oci-archive', '-o', archive, name]);
  const imported = ctr(['images', 'import', archive]);
  if (imported.status !== 0) throw new Error(`ctr images import ${name}: ${imported.stderr}`);
  fs.rmSync(archive);
}
