/**
 * `laggkit lab console VM`: the guest's serial console on this terminal. QEMU serves the
 * console on a unix socket; node-pty runs socat between that socket and a pseudo-terminal so
 * the guest gets a proper raw terminal (line editing, Ctrl-C and job control belong to the
 * guest's shell). Ctrl-] detaches, as with telnet. Without socat, or without node-pty (an
 * optional dependency: it needs a compiler to install), a plain socket is used.
 * On bhyve the console is an nmdm(4) device, attached with cu(1) the same way.
 */
import fs from 'node:fs';
import net from 'node:net';
import { EnvironmentError } from '../cli/errors.js';
import { LabError } from './errors.js';

const DETACH = '\x1d'; // Ctrl-]

function hasSocat(): boolean {
  return ['/usr/bin/socat', '/usr/local/bin/socat', '/opt/homebrew/bin/socat'].some((p) => fs.existsSync(p));
}

export async function attachConsole(socketPath: string): Promise<void> {
  if (!fs.existsSync(socketPath)) throw new LabError('E_LAB_CONSOLE', `no console socket at ${socketPath}`, 'Is the guest running? See laggkit lab status.');
  const stdin = process.stdin;
  if (stdin.isTTY) stdin.setRawMode(true);
  stdin.resume();
  process.stderr.write('[console attached; Ctrl-] detaches]\r\n');
  try {
    // bhyve guests: the console is the B side of an nmdm(4) pair, read with cu(1).
    if (socketPath.startsWith('/dev/')) await viaPty('cu', ['-l', socketPath, '-s', '115200']);
    else if (hasSocat() && (await loadPty()) !== null) await viaPty('socat', ['-,raw,echo=0', `UNIX-CONNECT:${socketPath}`]);
    else await viaSocket(socketPath);
  } finally {
    if (stdin.isTTY) stdin.setRawMode(false);
    stdin.pause();
    process.stderr.write('\r\n[console detached]\n');
  }
}

type Pty = typeof import('node-pty');
let ptyModule: Pty | null | undefined;
let ptyProblem = '';

/** node-pty, or null when it is absent or not built for this Node (it is optional). */
async function loadPty(): Promise<Pty | null> {
  if (ptyModule !== undefined) return ptyModule;
  try {
    ptyModule = await import('node-pty');
  } catch (err) {
    ptyModule = null;
    ptyProblem = (err as Error).message.split('\n')[0] ?? '';
    process.stderr.write(`[node-pty is not installed (${ptyProblem}); using a plain socket: the guest gets no terminal size or raw mode]\r\n`);
  }
  return ptyModule;
}

async function viaPty(cmd: string, args: string[]): Promise<void> {
  const pty = await loadPty();
  if (pty === null) {
    throw new EnvironmentError(
      'E_LAB_PTY',
      `the console needs node-pty to run ${cmd} on a pseudo-terminal, and it is not usable: ${ptyProblem}`,
      'node-pty is an optional dependency that builds with a C++ compiler: install one (apt-get install g++ make python3), then run npm install node-pty.',
    );
  }
  const term = pty.spawn(cmd, args, {
    name: 'xterm',
    cols: process.stdout.columns ?? 80,
    rows: process.stdout.rows ?? 24,
  });
  await new Promise<void>((resolve) => {
    const onInput = (d: Buffer): void => {
      if (d.includes(DETACH)) {
        term.kill();
        return;
      }
      term.write(d.toString('binary'));
    };
    process.stdin.on('data', onInput);
    term.onData((d) => process.stdout.write(d));
    term.onExit(() => {
      process.stdin.off('data', onInput);
      resolve();
    });
  });
}

async function viaSocket(socketPath: string): Promise<void> {
  const sock = net.createConnection(socketPath);
  await new Promise<void>((resolve, reject) => {
    const onInput = (d: Buffer): void => {
      if (d.includes(DETACH)) sock.end();
      else sock.write(d);
    };
    process.stdin.on('data', onInput);
    sock.on('data', (d) => process.stdout.write(d));
    sock.on('error', reject);
    sock.on('close', () => {
      process.stdin.off('data', onInput);
      resolve();
    });
  });
}
