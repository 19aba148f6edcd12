/**
 * The `laggkit lab` commands' contract without starting a VM: bad flags are usage errors
 * (exit 2) that name the bad value, a missing lab is a lab error (exit 7), and --json output
 * is exactly one document on stdout.
 */
import test from 'ava';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { cli, distBuilt } from './support/cli.js';

const env = { LAGGKIT_LAB_DIR: fs.mkdtempSync(path.join(os.tmpdir(), 'lk-labc-')) };
test.after.always(() => fs.rmSync(env.LAGGKIT_LAB_DIR, { recursive: true, force: true }));

test.before((t) => {
  if (!distBuilt()) t.log('dist/ is missing: run npm run build (npm run test:lab does)');
});

const cases: Array<[string, string[], number, string, RegExp]> = [
  ['unknown NIC model', ['lab', 'up', '--nics', 'virtio,rtl8139'], 2, 'E_LAB_NICS', /rtl8139/],
  ['unknown guest', ['lab', 'up', '--guest', 'openbsd'], 2, 'E_LAB_GUEST', /openbsd/],
  ['BSD guest without an image', ['lab', 'up', '--guest', 'freebsd'], 2, 'E_LAB_IMAGE', /--image/],
  ['missing image file', ['lab', 'up', '--guest', 'netbsd', '--image', '/nonexistent/netbsd.img'], 2, 'E_LAB_IMAGE', /nonexistent/],
  ['--image with the built linux guest', ['lab', 'up', '--image', 'x.qcow2'], 2, 'E_LAB_IMAGE', /x\.qcow2/],
  ['bad peer', ['lab', 'up', '--peer', 'switch'], 2, 'E_LAB_PEER', /switch/],
  ['bad accelerator', ['lab', 'up', '--accel', 'xen'], 2, 'E_LAB_ACCEL', /xen/],
  ['hostile lab name', ['lab', 'status', '--name', '../etc'], 2, 'E_LAB_NAME', /\.\.\/etc/],
  ['no such lab', ['lab', 'status', '--name', 'nolab'], 7, 'E_LAB_NOT_FOUND', /nolab/],
  ['link on no lab', ['lab', 'link', 'A', 'em0', 'down', '--name', 'nolab'], 7, 'E_LAB_NOT_FOUND', /nolab/],
  ['unknown image id', ['lab', 'fetch-image', 'plan9-4'], 2, 'E_LAB_IMAGE_ID', /plan9-4/],
];

for (const [title, args, code, errCode, msg] of cases) {
  test(`lab CLI: ${title} -> exit ${code}, ${errCode}`, async (t) => {
    const r = await cli([...args, '--json'], env);
    t.is(r.code, code, r.stdout + r.stderr);
    t.is(r.stdout.trim().split('\n').length, 1, 'one JSON document on stdout');
    t.false(r.json?.ok);
    t.is(r.json?.error?.code, errCode);
    t.regex(r.json?.error?.message ?? '', msg);
  });
}

test('lab fetch-image --list names the official images without downloading', async (t) => {
  const r = await cli(['lab', 'fetch-image', '--list', '--json'], env);
  t.is(r.code, 0, r.stderr);
  const ids = ((r.json?.result ?? []) as Array<{ id: string; url: string }>).map((x) => x.id);
  t.true(ids.includes('freebsd-14') && ids.includes('netbsd-10'));
});

test('lab down --all with no lab running reports an empty list', async (t) => {
  const r = await cli(['lab', 'down', '--all', '--json'], env);
  t.is(r.code, 0, r.stderr);
  t.deepEqual(r.json?.result, []);
});
