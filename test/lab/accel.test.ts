/**
 * The accelerator decision: the probe really boots the guest kernel (under TCG it must find
 * the init's marker), the verdict for KVM is cached with its reason and reused, and an
 * explicit choice overrides the probe. Whether KVM works is this machine's business; the test
 * logs the verdict and checks that it is consistent, not which one it is.
 */
import test from 'ava';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { testNeeding } from '../support/require.js';
import { decideAccel, probeBoot } from '../../src/lab/accel.js';
import { buildLinuxImage, defaultInputs } from '../../src/lab/linux-image.js';

const cache = fs.mkdtempSync(path.join(os.tmpdir(), 'lk-accel-'));
process.env.LAGGKIT_CACHE_DIR = cache;
delete process.env.LAGGKIT_ACCEL;
test.after.always(() => fs.rmSync(cache, { recursive: true, force: true }));

const needs = { tools: ['qemu-system-x86_64', 'busybox', 'xz'] };

testNeeding(test.serial, 'the probe boots the guest kernel under TCG and sees its marker', needs, async (t) => {
  const img = buildLinuxImage(defaultInputs({ withLaggd: false }));
  const r = await probeBoot('tcg', img.kernel, img.initramfs, 90_000);
  t.true(r.ok, r.detail);
  t.regex(r.detail, /booted the guest kernel in \d+ ms/);
});

testNeeding(test.serial, 'the KVM verdict is probed once, cached with its reason, and overridable', needs, async (t) => {
  const img = buildLinuxImage(defaultInputs({ withLaggd: false }));
  const probe = { kernel: img.kernel, initrd: img.initramfs, hash: img.hash };
  const first = await decideAccel(probe);
  t.log(`verdict: ${first.accel} (${first.reason})`);
  t.true(['kvm', 'tcg'].includes(first.accel));
  const kvmAccessible = (() => {
    try {
      fs.accessSync('/dev/kvm', fs.constants.R_OK | fs.constants.W_OK);
      return true;
    } catch {
      return false;
    }
  })();
  if (kvmAccessible) {
    t.regex(first.reason, /KVM probe/);
    t.false(first.cached);
    const cached = JSON.parse(fs.readFileSync(path.join(cache, 'accel.json'), 'utf8'));
    t.is(cached.accel, first.accel);
    const second = await decideAccel(probe);
    t.true(second.cached, 'the second decision comes from the cache');
    t.is(second.accel, first.accel);
    // A different guest kernel (hash) is probed again, not trusted from the cache.
    const other = await decideAccel({ ...probe, hash: 'another-kernel' });
    t.false(other.cached);
  } else {
    t.is(first.accel, 'tcg');
    t.regex(first.reason, /\/dev\/kvm/);
  }
  const forced = await decideAccel(probe, 'tcg');
  t.is(forced.accel, 'tcg');
  t.regex(forced.reason, /--accel/);
  process.env.LAGGKIT_ACCEL = 'tcg';
  try {
    t.regex((await decideAccel(probe)).reason, /LAGGKIT_ACCEL/);
  } finally {
    delete process.env.LAGGKIT_ACCEL;
  }
});
