/**
 * The QMP client against a peer on a real unix socket that speaks QMP the way QEMU does, and
 * then the ways a broken or foreign peer might: messages split byte by byte or several to a
 * read, events between replies, a line that is not JSON, JSON that is not an object, a socket
 * that never greets, a connection dropped mid-reply. Every failure is a LabError (E_LAB_QMP) on
 * the waiting call; nothing is thrown out of the event loop (ava fails a test on an uncaught
 * exception).
 */
import test from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { LabError } from '../../src/lab/errors.js';
import { QmpClient, qmpOnce } from '../../src/lab/qmp.js';

const GREETING = '{"QMP": {"version": {"qemu": {"micro": 0, "minor": 2, "major": 7}}, "capabilities": ["oob"]}}\r\n';

/** A QMP peer: greets with `greeting`, then answers each command line with answer(cmd). */
async function peer(t: { teardown(fn: () => void): void }, opts: { greeting?: string | null; answer: (cmd: { execute: string }, sock: net.Socket) => void }) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'laggkit-qmp-'));
  const socketPath = path.join(dir, 'qmp.sock');
  const server = net.createServer((sock) => {
    if (opts.greeting !== null) sock.write(opts.greeting ?? GREETING);
    let buf = '';
    sock.on('data', (d) => {
      buf += d.toString();
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        opts.answer(JSON.parse(line) as { execute: string }, sock);
      }
    });
    sock.on('error', () => {});
  });
  await new Promise<void>((resolve) => server.listen(socketPath, resolve));
  t.teardown(() => {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return socketPath;
}

/** Write `text` one byte per write, as a slow pipe might deliver it. */
async function dribble(sock: net.Socket, text: string): Promise<void> {
  for (const ch of text) {
    sock.write(ch);
    await new Promise((r) => setImmediate(r));
  }
}

test('split and batched messages, with events between replies', async (t) => {
  const socketPath = await peer(t, {
    answer: (cmd, sock) => {
      if (cmd.execute === 'qmp_capabilities') void dribble(sock, '{"return": {}}\r\n');
      else
        sock.write(
          '{"event": "NIC_RX_FILTER_CHANGED", "data": {"name": "n1"}, "timestamp": {"seconds": 1, "microseconds": 2}}\r\n{"return": {"status": "running", "running": true}}\r\n',
        );
    },
  });
  const c = await QmpClient.connect(socketPath);
  try {
    t.deepEqual(await c.execute('query-status'), { status: 'running', running: true });
    t.deepEqual(
      c.events.map((e) => e.event),
      ['NIC_RX_FILTER_CHANGED'],
    );
  } finally {
    c.close();
  }
});

test('an error reply names the QMP error', async (t) => {
  const socketPath = await peer(t, {
    answer: (cmd, sock) =>
      sock.write(cmd.execute === 'qmp_capabilities' ? '{"return": {}}\n' : '{"error": {"class": "DeviceNotFound", "desc": "Device \'n9\' not found"}}\n'),
  });
  const err = await t.throwsAsync(qmpOnce(socketPath, 'set_link', { name: 'n9', up: false }), { instanceOf: LabError });
  t.is(err?.code, 'E_LAB_QMP');
  t.regex(err?.message ?? '', /n9' not found/);
});

for (const [what, reply] of [
  ['a line that is not JSON', '{"return": {"status": "runn\n'],
  ['JSON that is not an object', '[1, 2, 3]\n'],
  ['a JSON null', 'null\n'],
] as const) {
  test(`${what} fails the waiting command and the connection, without an uncaught exception`, async (t) => {
    const socketPath = await peer(t, { answer: (cmd, sock) => sock.write(cmd.execute === 'qmp_capabilities' ? '{"return": {}}\n' : reply) });
    const c = await QmpClient.connect(socketPath);
    try {
      const err = await t.throwsAsync(c.execute('query-status'), { instanceOf: LabError });
      t.is(err?.code, 'E_LAB_QMP');
      t.regex(err?.message ?? '', /not a JSON object/);
      // The connection is spent: later calls fail at once rather than wait forever.
      await t.throwsAsync(c.execute('query-status'), { instanceOf: LabError });
    } finally {
      c.close();
    }
  });
}

test('a garbled greeting, a silent socket and a dropped connection are E_LAB_QMP errors', async (t) => {
  const garbled = await peer(t, { greeting: 'SSH-2.0-OpenSSH_9.2\r\n', answer: () => {} });
  t.is((await t.throwsAsync(QmpClient.connect(garbled), { instanceOf: LabError }))?.code, 'E_LAB_QMP');
  const notQmp = await peer(t, { greeting: '{"hello": 1}\n', answer: () => {} });
  t.regex((await t.throwsAsync(QmpClient.connect(notQmp), { instanceOf: LabError }))?.message ?? '', /no QMP greeting/);
  const silent = await peer(t, { greeting: null, answer: () => {} });
  t.regex((await t.throwsAsync(QmpClient.connect(silent, 300), { instanceOf: LabError }))?.message ?? '', /no QMP greeting/);
  const dropping = await peer(t, {
    answer: (cmd, sock) => (cmd.execute === 'qmp_capabilities' ? sock.write('{"return": {}}\n') : sock.end('{"return": {"sta')),
  });
  const c = await QmpClient.connect(dropping);
  try {
    t.regex((await t.throwsAsync(c.execute('query-status'), { instanceOf: LabError }))?.message ?? '', /closed/);
  } finally {
    c.close();
  }
});
