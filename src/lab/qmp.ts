/**
 * A minimal QMP (QEMU Machine Protocol) client over the guest's unix socket: connect, leave
 * capabilities negotiation, run commands, close. Asynchronous events that arrive between
 * replies are collected, not mistaken for answers. Messages may arrive split across reads or
 * several to a read; a line that is not a JSON object, or a socket error, fails the commands
 * waiting for an answer (E_LAB_QMP) and closes the connection instead of throwing out of the
 * event loop.
 */
import net from 'node:net';
import { LabError } from './errors.js';

export interface QmpEvent {
  event: string;
  data?: unknown;
}

export class QmpClient {
  private buffer = '';
  private waiters: Array<{ resolve: (msg: Record<string, unknown>) => void; reject: (err: LabError) => void }> = [];
  /** Why the connection is unusable, once it is. */
  private broken: LabError | undefined;
  readonly events: QmpEvent[] = [];

  private constructor(private readonly sock: net.Socket) {
    sock.setEncoding('utf8');
    sock.on('data', (chunk: string) => {
      this.buffer += chunk;
      let nl: number;
      while (!this.broken && (nl = this.buffer.indexOf('\n')) >= 0) {
        const line = this.buffer.slice(0, nl).trim();
        this.buffer = this.buffer.slice(nl + 1);
        if (line) this.receive(line);
      }
    });
    sock.on('error', (err) => this.fail(new LabError('E_LAB_QMP', `QMP connection failed: ${err.message}`, undefined, { cause: err })));
    sock.on('close', () => this.fail(new LabError('E_LAB_QMP', 'QMP connection closed')));
  }

  private receive(line: string): void {
    let msg: unknown;
    try {
      msg = JSON.parse(line);
    } catch {
      msg = undefined;
    }
    if (typeof msg !== 'object' || msg === null || Array.isArray(msg)) {
      this.fail(
        new LabError(
          'E_LAB_QMP',
          `QMP sent something that is not a JSON object: ${JSON.stringify(line.slice(0, 200))}`,
          'Is this socket really a QEMU QMP monitor? See laggkit lab status.',
        ),
      );
      this.sock.destroy();
      return;
    }
    const m = msg as Record<string, unknown>;
    if (typeof m.event === 'string') this.events.push({ event: m.event, data: m.data });
    else this.waiters.shift()?.resolve(m);
  }

  /** Mark the connection unusable and fail everyone waiting for an answer. */
  private fail(err: LabError): void {
    this.broken ??= err;
    for (const w of this.waiters.splice(0)) w.reject(this.broken);
  }

  static async connect(socketPath: string, timeoutMs = 5000): Promise<QmpClient> {
    const sock = await new Promise<net.Socket>((resolve, reject) => {
      const s = net.createConnection(socketPath);
      const timer = setTimeout(() => {
        s.destroy();
        reject(new LabError('E_LAB_QMP', `no answer on the QMP socket ${socketPath}`));
      }, timeoutMs);
      s.once('connect', () => {
        clearTimeout(timer);
        resolve(s);
      });
      s.once('error', (err) => {
        clearTimeout(timer);
        reject(
          new LabError('E_LAB_QMP', `cannot connect to the QMP socket ${socketPath}: ${err.message}`, 'Is the guest running? See laggkit lab status.', {
            cause: err,
          }),
        );
      });
    });
    const client = new QmpClient(sock);
    // A socket that accepts but never greets (not QEMU, or QEMU wedged) must not hang us.
    const silent = setTimeout(() => {
      client.fail(new LabError('E_LAB_QMP', `no QMP greeting on ${socketPath} within ${timeoutMs} ms`, 'Is the guest running? See laggkit lab status.'));
      sock.destroy();
    }, timeoutMs);
    try {
      const greeting = await client.next();
      if (!('QMP' in greeting)) throw new LabError('E_LAB_QMP', `no QMP greeting on ${socketPath}: ${JSON.stringify(greeting).slice(0, 200)}`);
      await client.execute('qmp_capabilities');
    } catch (err) {
      client.close();
      throw err;
    } finally {
      clearTimeout(silent);
    }
    return client;
  }

  private next(): Promise<Record<string, unknown>> {
    return new Promise((resolve, reject) => {
      if (this.broken) reject(this.broken);
      else this.waiters.push({ resolve, reject });
    });
  }

  async execute(command: string, args?: Record<string, unknown>): Promise<unknown> {
    const reply = this.next();
    this.sock.write(JSON.stringify(args ? { execute: command, arguments: args } : { execute: command }) + '\n');
    const msg = await reply;
    if (msg.error) {
      const e = msg.error as { class?: string; desc?: string };
      throw new LabError('E_LAB_QMP', `QMP ${command} failed: ${e.desc ?? e.class ?? 'unknown error'}`);
    }
    return msg.return;
  }

  close(): void {
    this.sock.end();
    this.sock.destroy();
  }
}

/** One command on a fresh connection (the CLI is short-lived; no connection is kept). */
export async function qmpOnce(socketPath: string, command: string, args?: Record<string, unknown>): Promise<unknown> {
  const c = await QmpClient.connect(socketPath);
  try {
    return await c.execute(command, args);
  } finally {
    c.close();
  }
}
