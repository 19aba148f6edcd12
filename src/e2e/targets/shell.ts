/**
 * A shell on one machine, local or over SSH, as the `self` and `host` targets drive it: run a
 * prepared script as root, copy a file in, close. The same target code then works on this
 * machine and on a remote one.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import type { RemoteHost } from '../../targets/index.js';
import type { ExecResult } from '../../ssh/index.js';

export interface Shell {
  /** Where it runs, for reports and errors: "this machine", "root@a". */
  name: string;
  sh(script: string, timeoutMs?: number): Promise<ExecResult>;
  /** Copy a local file to `remote` on the machine, executable. */
  put(local: string, remote: string): Promise<void>;
  /** A file's bytes on the machine. */
  read(remote: string): Promise<Buffer>;
  /** Write bytes to `remote` on the machine with this mode. */
  write(remote: string, data: Buffer, mode: number): Promise<void>;
  close(): Promise<void>;
}

/**
 * A script whose background jobs cannot hold the caller's pipes open: the actions start
 * receivers, senders and samplers with `&`, and sshd (or Node) would otherwise wait for those
 * to end before the command returns. Output goes through files the script's jobs may keep.
 */
export function detachedOutput(script: string): string {
  return [
    'lk_o=$(mktemp) && lk_e=$(mktemp) || exit 125',
    `(\n${script}\n) >"$lk_o" 2>"$lk_e" </dev/null`,
    'lk_rc=$?',
    'cat "$lk_o"; cat "$lk_e" >&2; rm -f "$lk_o" "$lk_e"',
    'exit $lk_rc',
  ].join('\n');
}

/** sh on this machine; a script past its deadline is killed with its whole process group. */
export function localShell(): Shell {
  return {
    name: 'this machine',
    sh: (script, timeoutMs = 120_000) =>
      new Promise((resolve, reject) => {
        const child = spawn('sh', ['-c', detachedOutput(script)], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (d: Buffer) => {
          stdout += d.toString();
        });
        child.stderr.on('data', (d: Buffer) => {
          stderr += d.toString();
        });
        const timer = setTimeout(() => {
          try {
            if (child.pid) process.kill(-child.pid, 'SIGKILL');
          } catch {
            // already gone
          }
        }, timeoutMs);
        child.on('error', (err) => {
          clearTimeout(timer);
          reject(err);
        });
        child.on('close', (code, signal) => {
          clearTimeout(timer);
          resolve({ stdout, stderr, code, signal });
        });
      }),
    put: async (local, remote) => {
      fs.copyFileSync(local, remote);
      fs.chmodSync(remote, 0o755);
    },
    read: async (remote) => fs.readFileSync(remote),
    write: async (remote, data, mode) => fs.writeFileSync(remote, data, { mode }),
    close: async () => {},
  };
}

/** A remote machine through the SSH layer, as root (directly or by --become). */
export function remoteShell(host: RemoteHost): Shell {
  return {
    name: host.name,
    sh: (script, timeoutMs = 120_000) => host.script(detachedOutput(script), { timeoutMs }, script.split('\n')[0]),
    put: (local, remote) => host.writeFile(remote, fs.readFileSync(local), 0o755),
    read: async (remote) => {
      const data = await host.readFile(remote);
      if (data === null) throw new Error(`${host.name}: ${remote} does not exist`);
      return data;
    },
    write: (remote, data, mode) => host.writeFile(remote, data, mode),
    close: () => host.close(),
  };
}
