/**
 * `laggkit lab console VM`: the guest's serial console on this terminal. QEMU serves the
 * console on a unix socket; node-pty runs socat between that socket and a pseudo-terminal so
 * the guest gets a proper raw terminal (line editing, Ctrl-C and job control belong to the
 * guest's shell). Ctrl-] detaches, as with telnet. Without socat, a plain socket is used.
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
    else if (hasSocat()) await viaPty('socat', ['-,raw,echo=0', `UNIX-CONNECT:${socketPath}`]);
    else await viaSocket(socketPath);
  } finally {
    if (stdin.isTTY) stdin.setRawMode(false);
    stdin.pause();
    process.stderr.write('\r\n[console detached]\n');
  }
}

async function viaPty(cmd: string, args: string[]): Promise<void> {
  let pty: typeof import('node-pty');
  try {
    pty = await import('node-pty');
  } catch (err) {
    throw new EnvironmentError('E_LAB_PTY', `node-pty is not usable: ${(err as Error).message}`, 'Reinstall dependencies: npm ci');
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
