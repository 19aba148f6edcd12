/**
 * Connected sessions: one ssh2 Client per hop (ProxyJump hops are tunnelled with forwardOut),
 * host keys judged against known_hosts before authentication, and the SshSession methods:
 * exec with per-command timeouts, SFTP file access and atomic writes.
 */
import { Client } from 'ssh2';
import type { ClientChannel } from 'ssh2';
import type { Duplex } from 'node:stream';
import { SshError, RemoteCommandError } from './errors.js';
import { planAuth } from './auth.js';
import { resolveTarget } from './config.js';
import { appendKnownHost, fingerprintSha256, judgeHostKey, keyTypeOfBlob, knownHostsName, loadKnownHosts, preferredHostKeyAlgorithms } from './known-hosts.js';
import { SftpFiles } from './sftp.js';
import { quoteArgv } from './quote.js';
import type { ConnectOptions, ExecOptions, ExecResult, SshHop, SshSession, SshTarget, UploadResult, WriteOptions, WriteResult, RemoteStat } from './types.js';

/** Prefix of the line a timed command's shell prints first on stderr: its pid. */
const PID_MARK = 'laggkit-pid:';

const TRUST_HINT = 'pass --trust-new-host-key (API: trustNewHostKey) to accept it';

function hostKeyError(hop: SshHop, verdict: ReturnType<typeof judgeHostKey>, key: Buffer): SshError {
  const fp = fingerprintSha256(key);
  const type = keyTypeOfBlob(key);
  const name = knownHostsName(hop.host, hop.port);
  switch (verdict.status) {
    case 'revoked':
      return new SshError(
        'E_SSH_HOST_KEY_REVOKED',
        `The ${type} host key of ${name} (${fp}) is marked @revoked in ${verdict.entry.file}:${verdict.entry.line}`,
        'Do not connect: the key was revoked on purpose. Ask the host administrator for its new key.',
      );
    case 'changed': {
      const where = verdict.entries.map((e) => `${e.file}:${e.line}`).join(', ');
      return new SshError(
        'E_SSH_HOST_KEY_CHANGED',
        `The ${type} host key of ${name} has CHANGED: it is now ${fp}, known_hosts (${where}) has another key. This may be an attack (man in the middle) or a reinstalled host`,
        `If the change is expected, remove the old line with: ssh-keygen -R '${name}'${verdict.entries[0] ? ` -f ${verdict.entries[0].file}` : ''}, then connect with --trust-new-host-key. The trust flag never replaces a changed key.`,
      );
    }
    default:
      return new SshError(
        'E_SSH_UNKNOWN_HOST',
        `The authenticity of ${name} can't be established: its ${type} key fingerprint is ${fp} and it is not in ${hop.knownHostsFiles.join(', ')}` +
          (verdict.status === 'unknown' && verdict.otherTypes.length > 0 ? ` (known key types for it: ${verdict.otherTypes.join(', ')})` : ''),
        `Check the fingerprint on the host (ssh-keygen -lf /etc/ssh/ssh_host_${type.replace(/^ssh-|-.*$/g, '')}_key.pub), then ${TRUST_HINT}.`,
      );
  }
}

function mapConnectError(hop: SshHop, err: Error & { level?: string; code?: string }, encrypted: string[], tried: string[]): SshError {
  const where = `${hop.user}@${knownHostsName(hop.host, hop.port)}`;
  if (err.level === 'client-authentication') {
    if (encrypted.length > 0) {
      return new SshError(
        'E_SSH_KEY_ENCRYPTED',
        `Login to ${where} failed; the identity file ${encrypted.join(', ')} is encrypted and no passphrase was given`,
        'Add the key to ssh-agent (ssh-add) or pass its passphrase.',
        { cause: err },
      );
    }
    return new SshError(
      'E_SSH_AUTH',
      `Login to ${where} was refused (tried: ${tried.join(', ')})`,
      'Install your public key in the remote authorized_keys, or point IdentityFile at the right key.',
      { cause: err },
    );
  }
  if (err.level === 'client-timeout') {
    return new SshError('E_SSH_TIMEOUT', `No SSH handshake with ${where} within the timeout`, 'Check that the host is up and that sshd listens on that port.', {
      cause: err,
    });
  }
  return new SshError('E_SSH_CONNECT', `Cannot connect to ${where}: ${err.message}`, 'Check the host name, port and network path (and ProxyJump, if any).', {
    cause: err,
  });
}

function forwardOut(client: Client, host: string, port: number): Promise<ClientChannel> {
  return new Promise((resolve, reject) => {
    client.forwardOut('127.0.0.1', 0, host, port, (err, stream) => (err ? reject(err) : resolve(stream)));
  });
}

async function connectHop(hop: SshHop, opts: ConnectOptions, sock: Duplex | undefined): Promise<Client> {
  const entries = await loadKnownHosts([...hop.knownHostsFiles, ...(hop.globalKnownHostsFiles ?? [])]);
  const agentSocket = opts.agentSocket ?? process.env.SSH_AUTH_SOCK;
  const auth = planAuth(hop, agentSocket, opts.passphrase);
  const client = new Client();
  let keyError: SshError | undefined;
  let toTrust: Buffer | undefined;
  return new Promise((resolve, reject) => {
    let settled = false;
    client.on('ready', () => {
      const finish = () => {
        settled = true;
        resolve(client);
      };
      if (toTrust === undefined) return finish();
      const file = hop.knownHostsFiles[0];
      if (file === undefined) return finish();
      appendKnownHost(file, hop.host, hop.port, toTrust, hop.hashKnownHosts ?? false).then(finish, (err: Error) => {
        settled = true;
        client.end();
        reject(new SshError('E_SSH_KNOWN_HOSTS_WRITE', `Cannot add the host key to ${file}: ${err.message}`, 'Check the permissions of the known_hosts file.'));
      });
    });
    client.on('error', (err: Error & { level?: string }) => {
      if (settled) return;
      settled = true;
      client.end();
      reject(keyError ?? mapConnectError(hop, err, auth.encrypted, auth.tried));
    });
    client.on('close', () => {
      if (settled) return;
      settled = true;
      reject(keyError ?? new SshError('E_SSH_CONNECT', `The connection to ${hop.alias} closed during the handshake`, 'Check the sshd logs on the host.'));
    });
    client.connect({
      host: hop.host,
      port: hop.port,
      username: hop.user,
      ...(sock ? { sock } : {}),
      readyTimeout: opts.readyTimeoutMs ?? 20_000,
      keepaliveInterval: opts.keepaliveIntervalMs ?? 15_000,
      keepaliveCountMax: 3,
      algorithms: { serverHostKey: preferredHostKeyAlgorithms(entries, hop.host, hop.port) as never },
      authHandler: auth.handler,
      hostVerifier: (key: Buffer): boolean => {
        const verdict = judgeHostKey(entries, hop.host, hop.port, key);
        if (verdict.status === 'trusted') return true;
        if (verdict.status === 'unknown' && opts.trustNewHostKey) {
          toTrust = key;
          return true;
        }
        keyError = hostKeyError(hop, verdict, key);
        return false;
      },
    });
  });
}

/**
 * Send the "signal" channel request. ssh2's ClientChannel.signal() stays silent once our side
 * has sent EOF (we always close stdin so commands never wait for input), but the request is
 * still valid on the open channel, so it is sent through the protocol object directly.
 */
function sendKill(stream: ClientChannel): void {
  const internal = stream as unknown as { outgoing?: { id: number; state: string }; _client?: { _protocol?: { signal(id: number, sig: string): void } } };
  const proto = internal._client?._protocol;
  if (proto && (internal.outgoing?.state === 'open' || internal.outgoing?.state === 'eof')) proto.signal(internal.outgoing.id, 'KILL');
  else stream.signal('KILL');
}

class Session implements SshSession {
  private readonly files: SftpFiles;
  /** Set once the connection is gone; then every command still waiting is failed, see run(). */
  private lost: SshError | undefined;
  private readonly waiting = new Set<(err: SshError) => void>();
  /** Clients whose connection has closed (by us or by the peer). */
  private readonly closedClients = new WeakSet<Client>();

  constructor(
    readonly target: SshTarget,
    private readonly clients: Client[],
    private readonly defaultTimeoutMs: number | undefined,
  ) {
    const last = clients[clients.length - 1];
    if (!last) throw new Error('session without a client');
    for (const c of clients) c.once('close', () => this.closedClients.add(c));
    this.files = new SftpFiles(last);
    // A cut connection (a deploy that took the management NIC, a peer gone silent past the
    // keepalives) does not always close its channels: without this a command on it would wait
    // forever, and a CLI with nothing else pending would simply end, its work half-reported.
    last.on('close', () => {
      this.lost = new SshError(
        'E_SSH_LOST',
        `The connection to ${this.target.alias} was lost`,
        "Check that the host is up and its SSH path is not cut; laggkit deploy's guard rolls a cut host back by itself.",
      );
      // Channels that did finish report it first; only the ones still open are failed. With
      // none waiting (a normal close) there is no timer: it would hold every CLI run open for a
      // second after its work was done.
      if (this.waiting.size === 0) return;
      setTimeout(() => {
        for (const fail of this.waiting) fail(this.lost as SshError);
        this.waiting.clear();
      }, 1000);
    });
    last.on('error', () => {}); // reported through 'close' and the waiting commands
    // Anything the server sends proves the connection alive; see stallWatch().
    const internal = last as unknown as { _sock?: NodeJS.EventEmitter; _protocol?: { ping(): void } };
    internal._sock?.on('data', () => {
      this.lastHeard = Date.now();
    });
    this.ping = () => internal._protocol?.ping();
  }

  /** When the server last sent anything (a reply, output, a keepalive answer). */
  private lastHeard = Date.now();
  private readonly ping: () => void;

  /**
   * The deadline of a command on a link that may have gone silent. runOnOpen's own timer starts
   * once the channel is open, and its kill needs the server too; on a link that went silent
   * neither ever answers. So from the command's start, once its own timeout has passed, the
   * server is pinged: a server that answers nothing for SILENCE_MS fails the command with
   * E_SSH_LOST; one that answers is alive (only slow: a loaded host, a kill still on its way)
   * and the command keeps waiting for its own timeout handling.
   */
  private stallWatch(timeoutMs: number, onSilent: () => void): () => void {
    const SILENCE_MS = 10_000;
    let timer: NodeJS.Timeout;
    const check = (): void => {
      const quiet = Date.now() - this.lastHeard;
      if (quiet >= SILENCE_MS) {
        onSilent();
        return;
      }
      this.ping();
      timer = setTimeout(check, SILENCE_MS - quiet);
    };
    timer = setTimeout(() => {
      this.ping();
      timer = setTimeout(check, SILENCE_MS);
    }, timeoutMs);
    return () => clearTimeout(timer);
  }

  private get client(): Client {
    return this.clients[this.clients.length - 1] as Client;
  }

  exec(argv: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
    // `exec` makes the program replace the remote shell, so a timeout signal reaches it directly.
    return this.run(`exec ${quoteArgv(argv)}`, quoteArgv(argv), opts);
  }

  execScript(script: string, opts: ExecOptions = {}): Promise<ExecResult> {
    return this.run(script, script, opts);
  }

  private run(command: string, shown: string, opts: ExecOptions): Promise<ExecResult> {
    if (this.lost) return Promise.reject(this.lost);
    const timeoutMs = opts.timeoutMs ?? this.defaultTimeoutMs;
    return new Promise((resolve, reject) => {
      this.waiting.add(reject);
      const stopWatch =
        timeoutMs !== undefined
          ? this.stallWatch(timeoutMs, () =>
              reject(
                new SshError(
                  'E_SSH_LOST',
                  `${shown} on ${this.target.alias} got no answer: the connection has gone silent`,
                  'Check that the host is up and its SSH path is not cut.',
                ),
              ),
            )
          : undefined;
      this.runStarted(command, shown, opts)
        .then(resolve, reject)
        .finally(() => {
          stopWatch?.();
          this.waiting.delete(reject);
        });
    });
  }

  /**
   * A server may refuse to start a command (a busy or loaded host: dropbear answered "Unable to
   * exec" under load); the command never ran, so it is tried again, twice, a moment later.
   */
  private async runStarted(command: string, shown: string, opts: ExecOptions): Promise<ExecResult> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.runOnOpen(command, shown, opts);
      } catch (err) {
        if (this.lost) throw this.lost;
        if (!(err instanceof RemoteCommandError && err.code === 'E_REMOTE_EXEC') || attempt === 3) throw err;
        await new Promise((r) => setTimeout(r, 300 * attempt));
      }
    }
  }

  private runOnOpen(command: string, shown: string, opts: ExecOptions): Promise<ExecResult> {
    const timeoutMs = opts.timeoutMs ?? this.defaultTimeoutMs;
    // With a timeout, the remote shell first reports its pid on stderr: sshd makes every
    // session a new process group led by that shell, so `kill -KILL -- -PID` later ends the
    // whole command tree. (The SSH "signal" request would be simpler, but sshd refuses it for
    // root sessions, which is how laggkit usually logs in.)
    const wrapped = timeoutMs !== undefined ? `printf '${PID_MARK}%s\\n' "$$" >&2; ${command}` : command;
    return new Promise((resolve, reject) => {
      // ssh2 throws 'Not connected' from exec() itself when the socket has just gone, before
      // its 'close' event (which sets this.lost) has run: that is a lost connection too.
      const lostNow = (err: unknown) =>
        this.lost ??
        new SshError(
          'E_SSH_LOST',
          `The connection to ${this.target.alias} was lost before ${shown} could start (${(err as Error).message})`,
          'Check that the host is up and its sshd running; nothing was run.',
        );
      const exec = (cb: Parameters<Client['exec']>[1]) => {
        try {
          this.client.exec(wrapped, cb);
        } catch (err) {
          reject(lostNow(err));
        }
      };
      exec((err, stream) => {
        if (err) {
          // Refused by a server that is still there (tried again, see runStarted), or lost with
          // the connection (ssh2 says "Not connected", or the close came first).
          reject(
            this.lost ??
              (/not connected/i.test(err.message)
                ? lostNow(err)
                : new RemoteCommandError('E_REMOTE_EXEC', `Cannot start ${shown} on ${this.target.alias}: ${err.message}`, shown, null, '')),
          );
          return;
        }
        const out: Buffer[] = [];
        const errOut: Buffer[] = [];
        let code: number | null = null;
        let signal: string | null = null;
        let timedOut = false;
        let settled = false;
        const remotePid = () => new RegExp(`(?:^|\\n)${PID_MARK}(\\d+)\\n`).exec(Buffer.concat(errOut).toString('latin1'))?.[1];
        const stderrText = () => {
          const text = Buffer.concat(errOut).toString('utf8');
          return timeoutMs !== undefined ? text.replace(new RegExp(`(^|\\n)${PID_MARK}\\d+\\n`), '$1') : text;
        };
        const timeoutError = () =>
          new RemoteCommandError(
            'E_REMOTE_TIMEOUT',
            `The command ${shown} on ${this.target.alias} did not finish within ${timeoutMs} ms and was killed`,
            shown,
            code,
            stderrText(),
            'Raise the timeout if the command is expected to be slow.',
          );
        let giveUp: NodeJS.Timeout | undefined;
        let killSent = false;
        const killTree = () => {
          const pid = remotePid();
          // On a loaded host the pid line may still be on its way: try again when it arrives.
          if (killSent || pid === undefined) return;
          killSent = true;
          // Shells differ on `kill -SIG -PGID` vs `kill -SIG -- -PGID`: try both, then the pid.
          const killScript = [
            ['kill', '-KILL', `-${pid}`],
            ['kill', '-KILL', '--', `-${pid}`],
            ['kill', '-KILL', pid],
          ]
            .map((a) => `${quoteArgv(a)} 2>/dev/null`)
            .join(' || ');
          this.client.exec(killScript, (e, killer) => {
            if (e) {
              stream.close();
              return;
            }
            killer.on('data', () => {}).on('close', () => stream.close());
            killer.stderr.on('data', () => {});
            killer.end();
          });
        };
        const timer =
          timeoutMs !== undefined
            ? setTimeout(() => {
                timedOut = true;
                sendKill(stream);
                killTree();
                // A dead connection never reports the close: do not wait for it forever.
                giveUp = setTimeout(() => {
                  if (settled) return;
                  settled = true;
                  stream.close();
                  reject(timeoutError());
                }, 10_000);
              }, timeoutMs)
            : undefined;
        stream.on('data', (d: Buffer) => (opts.onStdout ? opts.onStdout(d) : out.push(d)));
        // Streamed stderr is held back until the pid line (see above) has gone by.
        let pidLinePending = timeoutMs !== undefined;
        let heldErr = Buffer.alloc(0);
        const forwardStderr = (d: Buffer) => {
          if (!opts.onStderr) return;
          if (!pidLinePending) {
            opts.onStderr(d);
            return;
          }
          heldErr = Buffer.concat([heldErr, d]);
          const nl = heldErr.indexOf(0x0a);
          if (nl < 0) return;
          pidLinePending = false;
          const rest = heldErr.subarray(0, nl).toString('latin1').startsWith(PID_MARK) ? heldErr.subarray(nl + 1) : heldErr;
          if (rest.length > 0) opts.onStderr(rest);
        };
        stream.stderr.on('data', (d: Buffer) => {
          errOut.push(d);
          forwardStderr(d);
          if (timedOut) killTree();
        });
        stream.on('exit', (c: number | null, s?: string) => {
          code = c;
          signal = s ?? null;
        });
        // The channel's close can overtake the last buffered stdout/stderr chunks: finish only
        // when both streams have ended too (or shortly after close, should one never end).
        let pending = 3;
        const oneDone = () => {
          if (--pending === 0) finish();
        };
        stream.once('end', oneDone);
        stream.stderr.once('end', oneDone);
        let lateEnd: NodeJS.Timeout | undefined;
        stream.on('close', () => {
          oneDone();
          if (pending <= 0) return;
          lateEnd = setTimeout(() => {
            pending = 0;
            finish();
          }, 1000);
        });
        const finish = () => {
          if (opts.stdin !== undefined && typeof opts.stdin !== 'string' && !Buffer.isBuffer(opts.stdin)) opts.stdin.unpipe(stream);
          // Every timer goes with the command: one left behind holds the CLI open after its work.
          clearTimeout(lateEnd);
          if (timer) clearTimeout(timer);
          if (giveUp) clearTimeout(giveUp);
          if (settled) return;
          settled = true;
          const stdout = Buffer.concat(out).toString('utf8');
          const stderr = stderrText();
          if (timedOut) {
            reject(timeoutError());
            return;
          }
          // sshd and dropbear always report how a command ended; a channel closed without an
          // exit status or signal is a connection that went away under it.
          if (code === null && signal === null) {
            reject(
              this.lost ??
                new SshError(
                  'E_SSH_LOST',
                  `The connection to ${this.target.alias} was lost while ${shown} ran`,
                  'Check that the host is up and its SSH path is not cut.',
                ),
            );
            return;
          }
          if (opts.check && code !== 0) {
            reject(
              new RemoteCommandError(
                'E_REMOTE_COMMAND',
                `The command ${shown} on ${this.target.alias} failed with ${code === null ? `signal ${signal}` : `exit status ${code}`}${stderr.trim() ? `: ${stderr.trim()}` : ''}`,
                shown,
                code,
                stderr,
              ),
            );
            return;
          }
          resolve({ stdout, stderr, code, signal });
        };
        if (opts.stdin === undefined) stream.end();
        else if (typeof opts.stdin === 'string' || Buffer.isBuffer(opts.stdin)) stream.end(opts.stdin);
        else opts.stdin.pipe(stream);
      });
    });
  }

  readFile(path: string): Promise<Buffer> {
    return this.files.readFile(path);
  }

  stat(path: string): Promise<RemoteStat | null> {
    return this.files.stat(path);
  }

  listDir(path: string): Promise<string[]> {
    return this.files.listDir(path);
  }

  writeFileAtomic(path: string, data: string | Buffer, opts: WriteOptions = {}): Promise<WriteResult> {
    return this.files.writeFileAtomic(path, data, opts);
  }

  uploadTree(localDir: string, remoteDir: string): Promise<UploadResult> {
    return this.files.uploadTree(localDir, remoteDir);
  }

  async close(): Promise<void> {
    this.files.close();
    for (const c of [...this.clients].reverse()) {
      // A connection the peer already closed sends no second 'close': waiting for one would
      // leave nothing pending but this wait, and node would end the CLI mid-await (exit 13).
      if (this.closedClients.has(c)) continue;
      await new Promise<void>((resolve) => {
        // A dead peer never sends close: give up after 2 s (a timer that holds the process,
        // for the same reason).
        const t = setTimeout(resolve, 2000);
        c.once('close', () => {
          clearTimeout(t);
          resolve();
        });
        c.end();
      });
    }
  }
}

/** Connect to a resolved target, verifying every hop's host key. */
export async function connect(target: SshTarget, opts: ConnectOptions = {}): Promise<SshSession> {
  const clients: Client[] = [];
  try {
    const hops = [...target.jumps, target];
    let sock: Duplex | undefined;
    for (let i = 0; i < hops.length; i++) {
      const hop = hops[i] as SshHop;
      if (i > 0) {
        const prev = clients[i - 1] as Client;
        try {
          sock = await forwardOut(prev, hop.host, hop.port);
        } catch (err) {
          throw new SshError(
            'E_SSH_JUMP',
            `The jump host ${(hops[i - 1] as SshHop).alias} could not open a connection to ${knownHostsName(hop.host, hop.port)}: ${(err as Error).message}`,
            'Check that the jump host can reach the target and allows TCP forwarding.',
          );
        }
      }
      clients.push(await connectHop(hop, opts, sock));
    }
    return new Session(target, clients, opts.commandTimeoutMs);
  } catch (err) {
    for (const c of clients.reverse()) c.end();
    throw err;
  }
}

/** Resolve a host string through ssh_config and connect: the usual entry point for commands. */
export async function connectHost(hostString: string, opts: ConnectOptions = {}): Promise<SshSession> {
  return connect(await resolveTarget(hostString, opts), opts);
}
