/**
 * laggctl's help is its own: it must work on a machine where laggd is not running (the first
 * thing a new user types), and list the ifconfig(8) lagg vocabulary laggd accepts.
 */
import test from 'ava';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const laggctl = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'kmod', 'posix', 'build', 'laggctl');

for (const flag of ['-h', '--help']) {
  test(`laggctl ${flag} works without laggd and lists the lagg words`, (t) => {
    const r = spawnSync(laggctl, [flag], { encoding: 'utf8', env: { ...process.env, LAGGD_SOCKET: '/nonexistent/laggd.sock' } });
    t.is(r.status, 0, r.stderr);
    for (const word of ['laggproto', 'laggport', 'lagghash', 'rr_limit', 'lacp_fast_timeout', 'lagglacp maxports', 'laggfailover rx-all', 'announce']) {
      t.true(r.stdout.includes(word), `help lacks ${word}`);
    }
  });
}

test('laggctl without a reachable laggd says so and fails', (t) => {
  const r = spawnSync(laggctl, ['laggkit0'], { encoding: 'utf8', env: { ...process.env, LAGGD_SOCKET: '/nonexistent/laggd.sock' } });
  t.is(r.status, 1);
  t.regex(r.stderr, /cannot reach laggd at \/nonexistent\/laggd\.sock/);
});

// laggd's own flags: a bad carrier-watch interval is refused before anything starts.
const laggd = path.join(path.dirname(laggctl), 'laggd');
for (const bad of ['', 'x', '-5', '10ms', '10001']) {
  test(`laggd -m '${bad}' is refused with the allowed range and the usage`, (t) => {
    const r = spawnSync(laggd, ['-f', '-m', bad, '-s', '/nonexistent/laggd.sock'], { encoding: 'utf8', timeout: 10_000 });
    t.is(r.status, 2, r.stderr);
    t.regex(r.stderr, /-m .*milliseconds from 0 to 10000/);
    t.regex(r.stderr, /-m ms +read every member's carrier/);
  });
}
