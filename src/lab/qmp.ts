/**
 * A minimal QMP (QEMU Machine Protocol) client over the guest's unix socket: connect, leave
 * capabilities negotiation, run commands, close. Asynchronous events that arrive between
 * replies are collected, not mistaken for answers.
 */
import net from 'node:net';
import { LabError } from './errors.js';

export interface QmpEvent {
  event: string;
  data?: unknown;
}

export class QmpClient {
  private buffer = '';
  private waiters: Array<(msg: Record<string, unknown>) => void> = [];
  readonly events: QmpEvent[] = [];

  private constructor(private readonly sock: net.Socket) {
    sock.setEncoding('utf8');
    sock.on('data', (chunk: string) => {
      this.buffer += chunk;
      let nl: number;
      while ((nl = this.buffer.indexOf('\n')) >= 0) {
        const line = this.buffer.slice(0, nl).trim();
        this.buffer = this.buffer.slice(nl + 1);
        if (!line) continue;
        const msg = JSON.parse(line) as Record<string, unknown>;
        if (typeof msg.event === 'string') this.events.push({ event: msg.event, data: msg.data });
        else this.waiters.shift()?.(msg);
      }
    });
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
        reject(new LabError('E_LAB_QMP', `cannot connect to the QMP socket ${socketPath}: ${err.message}`, 'Is the guest running? See laggkit lab status.', { cause: err }));
      });
    });
    const client = new QmpClient(sock);
    await client.next(); // the greeting
    await client.execute('qmp_capabilities');
    return client;
  }

  private next(): Promise<Record<string, unknown>> {
    return new Promise((resolve, reject) => {
      const onClose = (): void => reject(new LabError('E_LAB_QMP', 'QMP connection closed'));
      this.sock.once('close', onClose);
      this.waiters.push((msg) => {
        this.sock.off('close', onClose);
        resolve(msg);
      });
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
