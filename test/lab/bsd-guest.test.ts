/**
 * The BSD-guest path of `lab up` as far as it runs without a BSD image: a disk that never
 * boots must end in a clear boot-timeout error (exit 7), with the console logs kept for the
 * user, and nothing left running or on disk from the lab itself.
 */
import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { testNeeding } from '../support/require.js';
import { cli, distBuilt, isolatedLab, processesMentioning } from './support/cli.js';

const { root, name } = await isolatedLab(test, 'lb');

testNeeding(
  test,
  'lab up --guest freebsd with an image that never boots: boot timeout, logs kept, nothing left running',
  { tools: ['qemu-system-x86_64', 'xorriso', 'ssh-keygen'] },
  async (t) => {
    t.true(distBuilt(), 'dist/ is built');
    const image = path.join(root, 'blank.raw');
    fs.writeFileSync(image, Buffer.alloc(1 << 20));
    const r = await cli(
      ['lab', 'up', '--name', name, '--guest', 'freebsd', '--image', image, '--nics', 'virtio,e1000', '--timeout', '15', '--peer', 'vm', '--json'],
      { LAGGKIT_LAB_DIR: root },
    );
    t.is(r.code, 7, r.stdout + r.stderr);
    t.regex(r.json?.error?.code ?? '', /^E_LAB_(BOOT_TIMEOUT|CONSOLE_TIMEOUT)$/);
    t.regex(r.json?.error?.message ?? '', /console logs kept in/);
    const dir = path.join(root, name);
    t.false(fs.existsSync(dir), 'the lab folder is gone');
    t.true(fs.existsSync(`${dir}.failed-logs`), 'the console logs are kept');
    t.deepEqual(processesMentioning(dir), [], 'no QEMU left running');
    t.deepEqual(fs.readFileSync(image), Buffer.alloc(1 << 20), 'the user image was not written (snapshot=on)');
  },
);
