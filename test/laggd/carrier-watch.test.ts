/**
 * laggd's carrier watch (kmod/posix/laggd_carrier.c): a member whose cable flaps faster than
 * the kernel's link-watch reports is still seen going down every time.
 *
 * The topology's veth ends have equal ifindexes in their namespaces, as a NIC's do, so the
 * kernel's link-watch treats their carrier changes as it treats a NIC's: the first at once,
 * the next ones a second after the last report, with whatever happened in between folded
 * into one message. A member flapped every 200 ms is then reported down about once a second.
 * With the watch (the default), every flap reaches the core; `laggd -m 0` (rtnetlink only)
 * is run alongside as the control that shows the folding this test depends on.
 */
import test, { type ExecutionContext } from 'ava';
import { testNeeding } from '../support/require.js';
import { laggPair, sleep, waitFor, type Laggd } from './support/netns.js';

const needs = { root: true, tools: ['ip', 'tc'] };
const FLAPS = 6;

async function linkDowns(d: Laggd, port: string): Promise<number> {
  const events = await d.ctlOk('laggkit0', 'events');
  return events.split('\n').filter((l) => l.includes(port) && /link down/i.test(l)).length;
}

/** Link-down events a's laggd recorded for veth1 while its cable was flapped FLAPS times. */
async function flapped(t: ExecutionContext, poll: 'watch' | 'rtnetlink only'): Promise<number> {
  const { topo, la } = await laggPair(t, 'loadbalance', {
    links: 2,
    tag: poll === 'watch' ? 'cww' : 'cwr',
    ...(poll === 'watch' ? {} : { laggd: { args: ['-m', '0'] } }),
  });
  await waitFor('both ports active', async () => Object.values(await la.portFlags()).every((f) => f.includes('ACTIVE')), 15_000);
  const before = await linkDowns(la, 'veth1');
  // b's end goes down and up: a's veth1 loses and regains its carrier, as a pulled cable.
  for (let i = 0; i < FLAPS; i++) {
    await topo.setLink('b', 'veth1', 'down');
    await sleep(200);
    await topo.setLink('b', 'veth1', 'up');
    await sleep(200);
  }
  // link-watch's last, late message; then the port is back in either case
  await sleep(1500);
  await waitFor('veth1 active again', async () => (await la.portFlags()).veth1?.includes('ACTIVE') ?? false, 10_000);
  t.true(la.running, 'laggd still running');
  return (await linkDowns(la, 'veth1')) - before;
}

testNeeding(
  test,
  `a member flapped ${FLAPS} times in 200 ms steps is seen going down ${FLAPS} times (carrier watch; rtnetlink alone folds them)`,
  needs,
  async (t) => {
    const watched = await flapped(t, 'watch');
    const control = await flapped(t, 'rtnetlink only');
    t.log(`link-down events for ${FLAPS} pulls: ${watched} with the carrier watch, ${control} with rtnetlink only (laggd -m 0)`);
    t.true(watched >= FLAPS, `every pull reached the core with the watch (${watched} of ${FLAPS})`);
    t.true(control < FLAPS, `the control: rtnetlink alone reported fewer pulls (${control} of ${FLAPS}), so the watch is what saw them`);
  },
);
