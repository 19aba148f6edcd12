#!/usr/bin/env node
/**
 * The laggkit demo (npm run demo): the main job on the built-in VM lab.
 *
 *   1. two Linux guests, joined by two virtio and two e1000 links (laggkit lab up)
 *   2. laggd in both, one LACP aggregate laggkit0 over all four links
 *   3. laggctl laggkit0 (the port flags a BSD engineer knows from ifconfig) and ping across
 *   4. one cable pulled (laggkit lab link A em0 down): the aggregate carries on with three
 *   5. the cable back: four ports again
 *   6. laggkit lab down: nothing left running
 *
 * Every laggkit command is printed before it runs, as you would type it. Timings at the end.
 * A missing prerequisite is named, and the demo exits non-zero.
 */
import { execFile, execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const LAB = 'demo';
const PORTS = ['vtnet0', 'vtnet1', 'em0', 'em1'];
const tty = process.stdout.isTTY && !process.env.NO_COLOR;
const c = (code, s) => (tty ? `\x1b[${code}m${s}\x1b[0m` : s);
const bold = (s) => c('1', s);
const dim = (s) => c('2', s);
const green = (s) => c('32', s);
const red = (s) => c('31', s);
const t0 = Date.now();
const timings = [];
const secs = (ms) => `${(ms / 1000).toFixed(1)} s`;

function heading(s) {
  console.log(`\n${bold(`== ${s}`)}`);
}

function fail(what, hint) {
  console.error(`\n${red('demo: cannot continue:')} ${what}`);
  if (hint) console.error(`  ${hint}`);
  process.exit(1);
}

function which(tool) {
  try {
    execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Run the laggkit CLI, echoing the command line; output goes straight to the terminal. */
function laggkit(args, { quiet = false } = {}) {
  if (!quiet) console.log(`${dim('$')} laggkit ${args.join(' ')}`);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(root, 'bin', 'run.js'), ...args], { stdio: quiet ? ['ignore', 'pipe', 'pipe'] : 'inherit' });
    let out = '';
    if (quiet) child.stdout.on('data', (d) => (out += d));
    child.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`laggkit ${args.join(' ')} exited ${code}`))));
  });
}

/** A command in a guest, through laggkit lab ssh (host key checked against the lab's known_hosts). */
async function inGuest(vm, script, { show = true } = {}) {
  if (show) console.log(`${dim(`${vm}#`)} ${script.split('\n').join(`\n${dim(`${vm}#`)} `)}`);
  const out = await laggkit(['lab', 'ssh', vm, '--name', LAB, '--json', '--', 'sh', '-c', script], { quiet: true });
  const r = JSON.parse(out).result;
  if (show && (r.stdout || r.stderr)) console.log((r.stdout + r.stderr).trimEnd().replace(/^/gm, '    '));
  return r;
}

async function lagPorts(vm) {
  const r = await inGuest(vm, 'laggctl --json laggkit0', { show: false });
  return JSON.parse(r.stdout).ports;
}
const distributing = (p) => p && ['ACTIVE', 'COLLECTING', 'DISTRIBUTING'].every((f) => p.flags.includes(f));

async function waitFor(what, probe, timeoutMs) {
  const start = Date.now();
  while (Date.now() - start < timeoutMs) {
    if (await probe().catch(() => false)) return Date.now() - start;
    await new Promise((r) => setTimeout(r, 300));
  }
  throw new Error(`timed out after ${secs(timeoutMs)} waiting for ${what}`);
}

async function timed(label, fn) {
  const s = Date.now();
  const r = await fn();
  timings.push([label, Date.now() - s]);
  return r;
}

// ---- prerequisites: each one named, with the fix --------------------------------------------
if (process.platform !== 'linux') fail(`the built-in lab runs Linux guests under QEMU on a Linux host (this is ${process.platform})`, 'On FreeBSD use the Vagrantfile or `laggkit lab up --guest freebsd --image ...`.');
for (const [tool, pkg] of [['qemu-system-x86_64', 'qemu-system-x86'], ['busybox', 'busybox-static'], ['dropbearkey', 'dropbear-bin'], ['ssh-keygen', 'openssh-client'], ['xz', 'xz-utils'], ['make', 'make']]) {
  if (!which(tool)) fail(`'${tool}' is not installed`, `Install it: apt-get install ${pkg} (or run npm run setup as root).`);
}
if (!fs.existsSync(path.join(root, 'dist', 'commands', 'lab', 'up.js'))) fail('the CLI is not built (dist/ is missing)', 'Run: npm run build');
const { findKernel, findLaggd } = await import(path.join(root, 'dist', 'lab', 'linux-image.js'));
try {
  findKernel();
} catch (err) {
  fail(err.message, err.suggestion);
}
console.log(dim('building laggd and laggctl for the guests (make -C kmod/posix static) ...'));
try {
  execFileSync('make', ['-s', '-C', path.join(root, 'kmod', 'posix'), 'static'], { stdio: ['ignore', 'ignore', 'pipe'] });
} catch (err) {
  fail(`laggd/laggctl do not build: ${String(err.stderr ?? err.message).trim().split('\n').slice(-5).join('\n  ')}`, 'Fix the build: make -C kmod/posix static');
}
if (!findLaggd()) fail('static laggd/laggctl were not found in kmod/posix/build/static after the build', 'Run: make -C kmod/posix static');

let labStarted = false;
async function cleanup() {
  if (!labStarted) return;
  labStarted = false;
  await laggkit(['lab', 'down', '--name', LAB], { quiet: true }).catch(() => {});
}
process.on('SIGINT', () => cleanup().then(() => process.exit(130)));

try {
  // A demo lab left over from an interrupted run is removed first.
  await laggkit(['lab', 'down', '--name', LAB], { quiet: true }).catch(() => {});

  heading('1. Two guests, back to back over two virtio and two e1000 links');
  console.log(dim('   The Linux guests are built from this machine\'s Debian kernel, busybox, dropbear and laggd.'));
  labStarted = true;
  await timed('lab up (both guests answering SSH)', () => laggkit(['lab', 'up', '--name', LAB, '--nics', 'virtio,virtio,e1000,e1000']));
  const status = JSON.parse(await laggkit(['lab', 'status', '--name', LAB, '--json'], { quiet: true })).result;
  for (const v of status.vms) timings.push([`guest ${v.name} boot-to-SSH (${status.accel})`, v.bootToSshMs]);

  heading('2. laggd in both guests: laggkit0, LACP over all four ports');
  console.log(dim('   lagglacp multi-speed: virtio runs at 10G and e1000 at 1G; without it LACP aggregates only one speed.'));
  for (const [vm, n] of [['A', 1], ['B', 2]]) {
    await inGuest(vm, [
      `for p in ${PORTS.join(' ')}; do ip addr flush dev $p; done`,
      'laggd; sleep 0.3',
      `laggctl laggkit0 create laggproto lacp ${PORTS.map((p) => `laggport ${p}`).join(' ')} lacp_fast_timeout lagglacp multi-speed`,
      `ip link set laggkit0 up && ip addr add 10.77.0.${n}/24 dev laggkit0`,
    ].join('\n'));
  }
  const conv = await waitFor('all four ports ACTIVE,COLLECTING,DISTRIBUTING on both sides', async () => (await lagPorts('A')).filter(distributing).length === 4 && (await lagPorts('B')).filter(distributing).length === 4, 60_000);
  timings.push(['LACP: all four ports distributing on both sides', conv]);
  console.log(green(`   all four ports are ACTIVE,COLLECTING,DISTRIBUTING on both sides after ${secs(conv)}`));

  heading('3. The aggregate on A, and ping to B over it');
  await inGuest('A', 'laggctl laggkit0');
  await inGuest('A', 'ping -c 3 10.77.0.2');

  heading('4. Pull a cable: laggkit lab link A em0 down');
  console.log(dim('   Both ends lose carrier. Linux e1000 notices in its 2-second watchdog (virtio within ms).'));
  await laggkit(['lab', 'link', 'A', 'em0', 'down', '--name', LAB]);
  const gone = await waitFor('em0 to leave the aggregate', async () => {
    const ps = await lagPorts('A');
    return !distributing(ps.find((p) => p.name === 'em0')) && ps.filter(distributing).length === 3;
  }, 30_000);
  timings.push(['em0 out of the aggregate after the cable pull', gone]);
  console.log(green(`   em0 left the aggregate after ${secs(gone)}; three ports carry the traffic`));
  await inGuest('A', 'laggctl laggkit0 | grep laggport');
  await inGuest('A', 'ping -c 3 10.77.0.2');

  heading('5. Plug it back: laggkit lab link A em0 up');
  await laggkit(['lab', 'link', 'A', 'em0', 'up', '--name', LAB]);
  const back = await waitFor('em0 back in the aggregate on both sides', async () => (await lagPorts('A')).filter(distributing).length === 4 && (await lagPorts('B')).filter(distributing).length === 4, 60_000);
  timings.push(['em0 back in the aggregate after the cable returns', back]);
  console.log(green(`   em0 is back after ${secs(back)}`));
  await inGuest('A', 'laggctl laggkit0 | grep laggport');
  await inGuest('A', 'ping -c 2 10.77.0.2');

  heading('6. laggkit lab down');
  await timed('lab down', () => laggkit(['lab', 'down', '--name', LAB]));
  labStarted = false;

  heading('Timings');
  for (const [label, ms] of timings) console.log(`   ${label.padEnd(52)} ${secs(ms).padStart(7)}`);
  console.log(`   ${'whole demo'.padEnd(52)} ${secs(Date.now() - t0).padStart(7)}`);
  console.log(`   accelerator: ${status.accel} (${status.accelReason})`);
} catch (err) {
  console.error(`\n${red('demo failed:')} ${err.message}`);
  await cleanup();
  process.exit(1);
}
