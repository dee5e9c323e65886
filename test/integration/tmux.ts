// A terminal a test can type into and read: a tmux session on a private
// server socket, so the tests never touch a user's tmux.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export class Terminal {
  private readonly socket: string;
  constructor(
    readonly name: string,
    command: string,
    size = { cols: 100, rows: 30 },
  ) {
    this.socket = `ocirun-test-${process.pid}-${name}`;
    // `remain-on-exit` keeps the pane (and what it printed) after the command ends.
    this.tmux(['new-session', '-d', '-s', name, '-x', String(size.cols), '-y', String(size.rows), command]);
    this.tmux(['set-option', '-t', name, 'remain-on-exit', 'on']);
  }

  private tmux(args: string[]): string {
    return execFileSync('tmux', ['-L', this.socket, ...args], { encoding: 'utf8', timeout: 10_000 });
  }

  /** Types text; `keys` are tmux key names (Enter, C-c, C-d). */
  type(text: string, ...keys: string[]): void {
    if (text) this.tmux(['send-keys', '-t', this.name, '-l', text]);
    if (keys.length) this.tmux(['send-keys', '-t', this.name, ...keys]);
  }

  resize(cols: number, rows: number): void {
    this.tmux(['resize-window', '-t', this.name, '-x', String(cols), '-y', String(rows)]);
  }

  screen(): string {
    return this.tmux(['capture-pane', '-p', '-J', '-S', '-200', '-t', this.name]);
  }

  /** Waits until the screen matches; returns the match, or throws with the screen. */
  async waitFor(pattern: RegExp, timeoutMs = 20_000): Promise<RegExpMatchArray> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const text = this.screen();
      const m = text.match(pattern);
      if (m) return m;
      if (Date.now() > until) throw new Error(`terminal ${this.name}: ${pattern} did not appear; screen:\n${text}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  close(): void {
    spawnSync('tmux', ['-L', this.socket, 'kill-server'], { timeout: 10_000 });
    // A killed server leaves its socket file behind.
    fs.rmSync(path.join(process.env.TMUX_TMPDIR ?? '/tmp', `tmux-${process.getuid!()}`, this.socket), { force: true });
  }
}
