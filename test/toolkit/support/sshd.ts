/**
 * A real OpenSSH server for the SSH and config-editor tests: /usr/sbin/sshd in the foreground
 * (-D -e) on 127.0.0.1 and a free port, with host keys, a client key, authorized_keys, config
 * and pid file all in its own temp directory. Its log (LogLevel VERBOSE, or DEBUG1 on request) is kept so tests can
 * check what the server saw (e.g. a direct-tcpip forward for ProxyJump).
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { createServer, connect as tcpConnect } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';

export const SSHD_TOOLS = ['/usr/sbin/sshd', 'ssh-keygen'];

export interface SshdOptions {
  /** Host key types to generate (default ed25519 and ecdsa). */
  hostKeyTypes?: string[];
  /**
   * sshd LogLevel (default VERBOSE). DEBUG1 logs forwarded channels, but also leaks debug
   * lines into the stderr of commands run on that server.
   */
  logLevel?: string;
  /** Type of the generated client key (default ed25519). */
  clientKeyType?: string;
  /** Extra sshd_config lines. */
  extraConfig?: string[];
  /** Offer the SFTP subsystem (default true); minimal hosts such as dropbear have none. */
  sftp?: boolean;
  /** Folder to make the server's own folder in (default the OS temp folder). */
  dirBase?: string;
  /** Address and port to listen on (default 127.0.0.1 and a free port). */
  listenAddress?: string;
  port?: number;
  /** The command line that starts sshd, e.g. inside a network namespace (default as is). */
  wrap?: (argv: string[]) => string[];
  /** Signal that stops what `wrap` started (default SIGTERM; unshare --fork ignores that one). */
  stopSignal?: NodeJS.Signals;
}

export interface Sshd {
  dir: string;
  port: number;
  user: string;
  /** Private key authorised to log in (no passphrase). */
  clientKey: string;
  /** Host public key lines by type, e.g. hostPub('ed25519') -> "ssh-ed25519 AAAA...". */
  hostPub(type?: string): string;
  /** A known_hosts line for this server: `[127.0.0.1]:port type key`. */
  knownHostsLine(type?: string): string;
  /** Everything sshd wrote to stderr so far. */
  log(): string;
  /** Replace the host keys with new ones and restart on the same port. */
  regenerateHostKeys(): Promise<void>;
  /** Write an ssh_config with one Host block for this server; returns its path. */
  writeSshConfig(alias: string, knownHostsFile: string, extra?: string[]): string;
  stop(): Promise<void>;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

function waitForPort(host: string, port: number, child: ChildProcess, logOf: () => string): Promise<void> {
  const deadline = Date.now() + 15_000;
  return new Promise((resolve, reject) => {
    const attempt = () => {
      if (child.exitCode !== null) {
        reject(new Error(`sshd exited with ${child.exitCode}:\n${logOf()}`));
        return;
      }
      const s = tcpConnect(port, host);
      s.once('connect', () => {
        s.destroy();
        resolve();
      });
      s.once('error', () => {
        s.destroy();
        if (Date.now() > deadline) reject(new Error(`sshd did not listen on ${port}:\n${logOf()}`));
        else setTimeout(attempt, 50);
      });
    };
    attempt();
  });
}

function keygen(type: string, file: string, comment: string): void {
  rmSync(file, { force: true });
  rmSync(`${file}.pub`, { force: true });
  execFileSync('ssh-keygen', ['-q', '-t', type, '-N', '', '-C', comment, '-f', file], { stdio: 'ignore' });
}

export async function startSshd(prefix: string, opts: SshdOptions = {}): Promise<Sshd> {
  const dir = mkdtempSync(join(opts.dirBase ?? tmpdir(), `laggkit-${prefix}-sshd-`));
  const listen = opts.listenAddress ?? '127.0.0.1';
  const types = opts.hostKeyTypes ?? ['ed25519', 'ecdsa'];
  const hostKey = (t: string) => join(dir, `ssh_host_${t}_key`);
  for (const t of types) keygen(t, hostKey(t), `host-${t}`);
  const clientType = opts.clientKeyType ?? 'ed25519';
  const clientKey = join(dir, `client_${clientType}`);
  keygen(clientType, clientKey, 'laggkit-test-client');
  writeFileSync(join(dir, 'authorized_keys'), readFileSync(`${clientKey}.pub`));
  // sshd's privilege separation directory must exist when it runs as root.
  if (userInfo().uid === 0 && !existsSync('/run/sshd')) mkdirSync('/run/sshd', { mode: 0o755, recursive: true });
  const port = opts.port ?? (await freePort());
  const config = join(dir, 'sshd_config');
  writeFileSync(
    config,
    [
      `Port ${port}`,
      `ListenAddress ${listen}`,
      ...types.map((t) => `HostKey ${hostKey(t)}`),
      `PidFile ${join(dir, 'sshd.pid')}`,
      `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
      'StrictModes no',
      'UsePAM no',
      'PermitRootLogin prohibit-password',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'AllowTcpForwarding yes',
      'AllowAgentForwarding no',
      'X11Forwarding no',
      'PrintMotd no',
      // ava runs a file's tests concurrently: do not let sshd drop parallel handshakes.
      'MaxStartups 200',
      `LogLevel ${opts.logLevel ?? 'VERBOSE'}`,
      ...(opts.sftp === false ? [] : ['Subsystem sftp internal-sftp']),
      ...(opts.extraConfig ?? []),
      '',
    ].join('\n'),
  );
  let logText = '';
  let child: ChildProcess;
  const launch = async () => {
    const [cmd, ...args] = (opts.wrap ?? ((a) => a))(['/usr/sbin/sshd', '-D', '-e', '-f', config]);
    child = spawn(cmd!, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    child.stderr?.on('data', (d: Buffer) => {
      logText += d.toString();
    });
    await waitForPort(listen, port, child, () => logText);
  };
  const halt = () =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill(opts.stopSignal ?? 'SIGTERM');
    });
  await launch();
  const user = userInfo().username;
  const hostPub = (t = types[0] ?? 'ed25519') =>
    readFileSync(`${hostKey(t)}.pub`, 'utf8')
      .trim()
      .split(/\s+/)
      .slice(0, 2)
      .join(' ');
  return {
    dir,
    port,
    user,
    clientKey,
    hostPub,
    knownHostsLine: (t?: string) => `${port === 22 ? listen : `[${listen}]:${port}`} ${hostPub(t)}`,
    log: () => logText,
    async regenerateHostKeys() {
      await halt();
      for (const t of types) keygen(t, hostKey(t), `host-${t}-new`);
      await launch();
    },
    writeSshConfig(alias, knownHostsFile, extra = []) {
      const file = join(dir, `ssh_config_${alias}`);
      writeFileSync(
        file,
        [
          `Host ${alias}`,
          `  HostName ${listen}`,
          `  Port ${port}`,
          `  User ${user}`,
          `  IdentityFile ${clientKey}`,
          `  UserKnownHostsFile ${knownHostsFile}`,
          ...extra,
          '',
        ].join('\n'),
      );
      return file;
    },
    async stop() {
      await halt();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
