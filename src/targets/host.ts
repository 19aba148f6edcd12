/**
 * A host as target adapters see it: commands as argv lists (quoted by the SSH layer's one
 * function), prepared scripts, and whole-file reads and writes, each run as root either
 * directly or through `--become sudo|doas` for a non-root login.
 *
 * Files are read and written through the same (privileged) commands rather than SFTP, which
 * runs as the login user and which minimal hosts (dropbear, embedded images) do not have: a
 * write is `cat > tmp; mv tmp path` with the bytes on stdin.
 */
import path from 'node:path';
import { LaggkitError } from '../cli/errors.js';
import { connect, quoteArgv, resolveTarget, shQuote, type ConnectOptions, type ExecOptions, type ExecResult, type SshSession } from '../ssh/index.js';

export type Become = 'sudo' | 'doas';

/**
 * Exec options; `check` turns a non-zero exit into an error naming the command and its stderr.
 * Commands are killed after timeoutMs (120 s unless given; 0: never).
 */
export type HostExecOptions = Omit<ExecOptions, 'check' | 'timeoutMs'> & { check?: boolean; timeoutMs?: number };

export class RemoteHost {
  constructor(
    readonly session: SshSession,
    readonly become?: Become,
  ) {}

  get name(): string {
    return this.session.target.alias;
  }

  /** The prefix that makes a command run as root. */
  private wrap(script: string): string {
    if (!this.become) return script;
    // -n: never prompt; a password prompt over a non-interactive channel would hang.
    return this.become === 'sudo' ? `sudo -n sh -c ${shQuote(script)}` : `doas -n sh -c ${shQuote(script)}`;
  }

  /** One command; `check` turns a non-zero exit into an error naming the command and its stderr. */
  async run(argv: readonly string[], opts: HostExecOptions = {}): Promise<ExecResult> {
    return this.script(`exec ${quoteArgv(argv)}`, opts, quoteArgv(argv));
  }

  /** A prepared script; any interpolated value must already be quoted with shQuote/quoteArgv. */
  async script(script: string, opts: HostExecOptions = {}, shown = script.split('\n')[0] ?? script): Promise<ExecResult> {
    const { check, timeoutMs = 120_000, ...execOpts } = opts;
    const r = await this.session.execScript(this.wrap(script), { ...execOpts, ...(timeoutMs > 0 ? { timeoutMs } : {}) });
    if (check && r.code !== 0) {
      throw new LaggkitError(
        'remote',
        'E_REMOTE_COMMAND',
        `${shown} on ${this.name} failed (${r.code === null ? `signal ${r.signal}` : `exit ${r.code}`})${r.stderr.trim() ? `: ${r.stderr.trim().split('\n').slice(0, 5).join(' | ')}` : ''}`,
        'Run the command on the host by hand to see more.',
      );
    }
    return r;
  }

  /** The file's bytes, or null when it does not exist (base64 on the way: stdout is text). */
  async readFile(path: string): Promise<Buffer | null> {
    const r = await this.script(`if [ -e ${shQuote(path)} ]; then base64 < ${shQuote(path)}; else echo LAGGKIT-ABSENT; fi`, { check: true });
    return r.stdout.trim() === 'LAGGKIT-ABSENT' ? null : Buffer.from(r.stdout.replace(/\s+/g, ''), 'base64');
  }

  async exists(path: string): Promise<boolean> {
    return (await this.script(`[ -e ${shQuote(path)} ]`)).code === 0;
  }

  /** Atomic replace: the bytes on stdin into a temp file beside the target, then rename. */
  async writeFile(path: string, data: string | Buffer, mode = 0o644): Promise<void> {
    const tmp = shQuote(`${path}.laggkit-tmp`);
    await this.script(
      `umask 077; cat > ${tmp} && chmod ${mode.toString(8)} ${tmp} && mv -f ${tmp} ${shQuote(path)}`,
      { check: true, stdin: Buffer.from(data) },
      `write ${path}`,
    );
  }

  /** A local folder copied to the host as a tar stream (no SFTP needed). */
  async uploadTree(localDir: string, remoteDir: string): Promise<void> {
    const { execa } = await import('execa');
    const tar = await execa('tar', ['-C', localDir, '--exclude=build', '--exclude=*.o', '--exclude=*.ko', '-cf', '-', '.'], { encoding: 'buffer' });
    await this.script(
      `mkdir -p ${shQuote(remoteDir)} && tar -xf - -C ${shQuote(remoteDir)}`,
      { check: true, stdin: Buffer.from(tar.stdout) },
      `unpack into ${remoteDir}`,
    );
  }

  async close(): Promise<void> {
    await this.session.close();
  }
}

export interface HostOptions {
  host: string;
  sshConfig?: string | undefined;
  identity?: string | undefined;
  trustNewHostKey?: boolean | undefined;
  become?: Become | undefined;
}

/** Connect to a host with the SSH flags every remote command shares (src/cli/host-flags.ts). */
export async function openHost(o: HostOptions): Promise<RemoteHost> {
  const opts: ConnectOptions = {
    ...(o.sshConfig !== undefined ? { configFile: o.sshConfig } : {}),
    ...(o.trustNewHostKey ? { trustNewHostKey: true } : {}),
  };
  const target = await resolveTarget(o.host, opts);
  // -i FILE, as ssh -i: tried before the keys ssh_config names.
  if (o.identity !== undefined) target.identityFiles = [path.resolve(o.identity), ...target.identityFiles];
  return new RemoteHost(await connect(target, opts), o.become);
}
