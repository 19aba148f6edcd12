/**
 * Traffic across an aggregate between two namespaces, for the interoperability tests: a ping
 * that must be answered and a TCP transfer whose bytes are checked end to end (sha256 of what
 * was sent against what arrived), so a path that drops or corrupts frames cannot pass.
 */
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { sleep, type Host } from './netns.js';

/** ping -c count; returns the number of replies received. */
export async function pingReplies(from: Host, addr: string, count = 5, intervalS = 0.2): Promise<number> {
  const r = await from.exec(['ping', '-n', '-q', '-c', String(count), '-i', String(intervalS), '-W', '2', addr], { timeoutMs: 30_000 });
  const m = /(\d+) received/.exec(r.stdout);
  return m ? Number(m[1]) : 0;
}

/** Wait until `addr` answers a ping (ARP and LACP settle first), or give up after timeoutMs. */
export async function waitPing(from: Host, addr: string, timeoutMs = 15_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if ((await pingReplies(from, addr, 1, 0.2)) === 1) return true;
    await sleep(200);
  }
  return false;
}

export interface TransferResult {
  bytes: number;
  sentSha: string;
  receivedSha: string;
  receivedBytes: number;
}

/**
 * Send `bytes` random bytes over TCP from `from` to `to` (listening on addr:port) with
 * netcat; the receiver writes them to a file whose hash is compared with the sender's.
 */
export async function tcpTransfer(from: Host, to: Host, addr: string, bytes = 4 * 1024 * 1024, port = 5601): Promise<TransferResult> {
  const payload = randomBytes(bytes);
  const src = from.writeTemp(`tx-${port}.bin`, payload);
  const dst = path.join(path.dirname(src), `${to.label}-rx-${port}.bin`);
  const listener = to.spawn(['sh', '-c', `exec nc -l -N ${addr} ${port} > ${dst}`]);
  const done = new Promise<void>((resolve) => listener.on('close', () => resolve()));
  // The listener needs a moment to bind; retry the connect rather than guess a delay.
  let sent = false;
  for (let i = 0; i < 50 && !sent; i++) {
    const r = await from.exec(['sh', '-c', `nc -N -w 10 ${addr} ${port} < ${src}`], { timeoutMs: 60_000 });
    sent = r.code === 0;
    if (!sent) await sleep(100);
  }
  await Promise.race([done, sleep(15_000)]);
  if (listener.exitCode === null) listener.kill('SIGKILL');
  let received = Buffer.alloc(0);
  try {
    received = readFileSync(dst);
  } catch {
    /* nothing arrived */
  }
  const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
  return { bytes, sentSha: sha(payload), receivedSha: sha(received), receivedBytes: received.length };
}
