/**
 * `lab up --peer netns`: one Linux guest whose links end in TAP devices inside a network
 * namespace the lab creates (root only). Checks traffic between the namespace and the guest on
 * both a virtio and an e1000 link, carrier loss on both sides through `lab link`, and that
 * `lab down` removes the TAPs and the namespace.
 */
import test from 'ava';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { testNeeding } from '../support/require.js';
import { guestScript } from '../../src/lab/guest-ssh.js';
import { labDown, labLink, labUp } from '../../src/lab/lab.js';
import { linkExists, netnsExists } from '../../src/lab/netns-peer.js';
import { processesMentioning, waitFor, isolatedLab } from './support/cli.js';

const { name: NAME } = await isolatedLab(test, 'ln');

const nsRun = (ns: string, args: string[]): string =>
  execFileSync('ip', ['netns', 'exec', ns, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
const nsPing = (ns: string, addr: string): boolean => {
  try {
    nsRun(ns, ['ping', '-c1', '-W2', addr]);
    return true;
  } catch {
    return false;
  }
};

testNeeding(
  test,
  'a guest against a namespace peer: traffic, carrier on both sides, and nothing left after lab down',
  { root: true, tools: ['qemu-system-x86_64', 'ip', 'dropbearkey', 'ping'] },
  async (t) => {
    const s = await labUp({ name: NAME, nics: ['virtio', 'e1000'], peer: 'netns' });
    t.log(`accelerator ${s.accel}; guest A boot-to-SSH ${((s.vms[0]!.bootToSshMs ?? 0) / 1000).toFixed(1)} s`);
    t.is(s.vms.length, 1);
    const ns = s.netns!;
    t.true(netnsExists(ns));
    t.is(s.taps.length, 2);
    for (const tap of s.taps) t.true(linkExists(tap, ns), `${tap} is in ${ns}`);

    t.true(nsPing(ns, '10.99.1.1'), 'namespace -> guest over the virtio link');
    t.true(nsPing(ns, '10.99.2.1'), 'namespace -> guest over the e1000 link');

    const r = await labLink(NAME, 'A', 'em0', 'down');
    t.deepEqual(r.changed, ['A:em0', `${ns}:${s.taps[1]}`]);
    await waitFor(
      'guest em0 carrier loss',
      async () => ((await guestScript(s, 'A', 'cat /sys/class/net/em0/carrier')).stdout.trim() === '0' ? true : undefined),
      8000,
    );
    t.regex(nsRun(ns, ['ip', 'link', 'show', s.taps[1]!]), /NO-CARRIER|state DOWN/, 'the namespace side lost carrier too');
    t.false(nsPing(ns, '10.99.2.1'), 'no traffic on the pulled link');
    t.true(nsPing(ns, '10.99.1.1'), 'the other link still works');

    await labLink(NAME, 'A', 'em0', 'up');
    await waitFor(
      'guest em0 carrier back',
      async () => ((await guestScript(s, 'A', 'cat /sys/class/net/em0/carrier')).stdout.trim() === '1' ? true : undefined),
      8000,
    );
    await waitFor('ping over em0 again', async () => (nsPing(ns, '10.99.2.1') ? true : undefined), 10_000);

    const pid = s.vms[0]!.pid;
    const down = await labDown(NAME);
    t.deepEqual(down.stopped, ['A']);
    t.throws(() => process.kill(pid, 0));
    t.false(netnsExists(ns), 'namespace removed');
    for (const tap of s.taps) t.false(linkExists(tap) || linkExists(tap, ns), `${tap} removed`);
    t.deepEqual(processesMentioning(s.dir), []);
    t.false(fs.existsSync(s.dir));
  },
);
