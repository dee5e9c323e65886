import { describe, expect, it } from 'vitest';
import { listenFdCount, withListenFds } from '../../src/systemd/activation.js';
import { withNotifySocket } from '../../src/systemd/notify.js';
import { defaultSpec } from '../../src/config/default.js';

describe('socket activation (runc activation.Files)', () => {
  it('counts LISTEN_FDS only when LISTEN_PID is our own pid', () => {
    expect(listenFdCount({ LISTEN_PID: '42', LISTEN_FDS: '3' }, 42)).toBe(3);
    expect(listenFdCount({ LISTEN_PID: '43', LISTEN_FDS: '3' }, 42)).toBe(0);
    expect(listenFdCount({ LISTEN_FDS: '3' }, 42)).toBe(0);
    expect(listenFdCount({ LISTEN_PID: '42', LISTEN_FDS: '3x' }, 42)).toBe(0);
    expect(listenFdCount({ LISTEN_PID: '42x', LISTEN_FDS: '3' }, 42)).toBe(0);
  });
  it('tells the process the count and that it is the listener', () => {
    const c = withListenFds(defaultSpec(), 2);
    expect(c.process!.env!.slice(-2)).toEqual(['LISTEN_FDS=2', 'LISTEN_PID=1']);
  });
});

describe('NOTIFY_SOCKET (runc notify_socket.go setupSpec)', () => {
  it('bind-mounts the socket directory read-only at /run/notify and points the process at it, leaving the input alone', () => {
    const spec = defaultSpec();
    const c = withNotifySocket(spec, '/run/ocirun', 'web');
    expect(c.mounts!.at(-1)).toEqual({ destination: '/run/notify', source: '/run/ocirun/web/notify', options: ['bind', 'nosuid', 'noexec', 'nodev', 'ro'] });
    expect(c.process!.env!.at(-1)).toBe('NOTIFY_SOCKET=/run/notify/notify.sock');
    expect(spec.mounts!.some((m) => m.destination === '/run/notify')).toBe(false);
  });
});
