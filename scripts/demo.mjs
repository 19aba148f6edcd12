#!/usr/bin/env node
/**
 * The laggkit demo (npm run demo): the main job on the built-in VM lab.
 *
 *   1. two Linux guests, joined by two virtio and two e1000 links (laggkit lab up)
 *   2. laggkit deploy to both guests at once: laggd built, installed, started, LACP laggkit0
 *      over all four links, verified, confirmed over a new SSH connection, persisted
 *   3. the aggregate (the port flags a BSD engineer knows from ifconfig) and ping across
 *   4. one cable pulled (laggkit lab link A em0 down) during a 100-per-second numbered ping
 *      stream: the measured gap, and the aggregate carrying on with three ports
 *   5. the cable back: four ports again; laggkit status; a second deploy that changes nothing
 *   6. laggkit undeploy on both guests, then laggkit lab down: nothing left running
 *
 * Every laggkit command is printed before it runs, as you would type it. Timings at the end.
 * A missing prerequisite is named, and the demo exits non-zero.
 */
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
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
if (process.platform !== 'linux')
  fail(
    `the built-in lab runs Linux guests under QEMU on a Linux host (this is ${process.platform})`,
    'On FreeBSD use the Vagrantfile or `laggkit lab up --guest freebsd --image ...`.',
  );
for (const [tool, pkg] of [
  ['qemu-system-x86_64', 'qemu-system-x86'],
  ['busybox', 'busybox-static'],
  ['dropbearkey', 'dropbear-bin'],
  ['ssh-keygen', 'openssh-client'],
  ['xz', 'xz-utils'],
  ['make', 'make'],
]) {
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
  fail(
    `laggd/laggctl do not build: ${String(err.stderr ?? err.message)
      .trim()
      .split('\n')
      .slice(-5)
      .join('\n  ')}`,
    'Fix the build: make -C kmod/posix static',
  );
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
  console.log(dim("   The Linux guests are built from this machine's Debian kernel, busybox, dropbear and laggd."));
  labStarted = true;
  await timed('lab up (both guests answering SSH)', () => laggkit(['lab', 'up', '--name', LAB, '--nics', 'virtio,virtio,e1000,e1000']));
  const status = JSON.parse(await laggkit(['lab', 'status', '--name', LAB, '--json'], { quiet: true })).result;
  for (const v of status.vms) timings.push([`guest ${v.name} boot-to-SSH (${status.accel})`, v.bootToSshMs]);

  heading('2. laggkit deploy to both guests: build, install, guard, configure, verify, confirm, persist');
  console.log(dim("   The lab's ssh_config reaches the guests with their host keys verified, as ssh -F would."));
  const sshConfig = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'laggkit-demo-')), 'lab.ssh_config');
  fs.writeFileSync(sshConfig, await laggkit(['lab', 'ssh-config', '--name', LAB], { quiet: true }));
  console.log(`${dim('$')} laggkit lab ssh-config --name ${LAB} > ${sshConfig}`);
  const deployArgs = (vm, n) => [
    'deploy',
    '--ssh-config',
    sshConfig,
    '--host',
    vm,
    '--laggproto',
    'lacp',
    ...PORTS.flatMap((p) => ['--laggport', p]),
    '--lacp-fast-timeout',
    '--opt',
    'lacp_multi_speed=1',
    '--inet',
    `10.77.0.${n}/24`,
  ];
  console.log(dim('   lacp_multi_speed: virtio runs at 10G and e1000 at 1G; without it LACP aggregates only one speed.'));
  console.log(dim('   LACP needs its partner, so both guests are deployed at the same time.'));
  await timed('deploy to both guests (probe to persist)', () => Promise.all([laggkit(deployArgs('A', 1)), laggkit(deployArgs('B', 2))]));
  console.log(green('   both guests deployed: every port distributing, guard confirmed, /etc/laggd.conf written'));

  heading('3. The aggregate on A, and ping to B over it');
  await inGuest('A', 'laggctl laggkit0');
  await inGuest('A', 'ping -c 3 10.77.0.2');

  heading('4. Pull a cable during a numbered ping stream: laggkit lab link A em0 down');
  console.log(dim('   100 pings a second from A to B; every lost one is 10 ms of outage. Linux e1000 notices'));
  console.log(dim('   carrier loss only in its 2-second watchdog (virtio within ms), which is the gap you see.'));
  const stream = inGuest('A', 'ping -q -i 0.01 -c 600 -W 1 10.77.0.2', { show: false });
  await new Promise((r) => setTimeout(r, 1500));
  await laggkit(['lab', 'link', 'A', 'em0', 'down', '--name', LAB]);
  const gone = await waitFor(
    'em0 to leave the aggregate',
    async () => {
      const ps = await lagPorts('A');
      return !distributing(ps.find((p) => p.name === 'em0')) && ps.filter(distributing).length === 3;
    },
    30_000,
  );
  timings.push(['em0 out of the aggregate after the cable pull', gone]);
  const sent = (await stream).stdout;
  const m = /(\d+) packets transmitted, (\d+) (?:packets )?received/.exec(sent);
  if (m) {
    const lost = Number(m[1]) - Number(m[2]);
    timings.push([`gap in the ping stream (${lost} of ${m[1]} lost, 10 ms each)`, lost * 10]);
    console.log(green(`   em0 left after ${secs(gone)}; the stream lost ${lost} of ${m[1]} pings: a gap of about ${lost * 10} ms`));
  }
  await inGuest('A', 'laggctl laggkit0 | grep laggport');

  heading('5. Plug it back; laggkit status; deploy again (nothing to do)');
  await laggkit(['lab', 'link', 'A', 'em0', 'up', '--name', LAB]);
  const back = await waitFor(
    'em0 back in the aggregate on both sides',
    async () => (await lagPorts('A')).filter(distributing).length === 4 && (await lagPorts('B')).filter(distributing).length === 4,
    60_000,
  );
  timings.push(['em0 back in the aggregate after the cable returns', back]);
  console.log(green(`   em0 is back after ${secs(back)}`));
  await laggkit(['status', '--ssh-config', sshConfig, '--host', 'A']);
  await timed('second deploy to A (no change)', () => laggkit(deployArgs('A', 1)));

  heading('6. laggkit undeploy on both guests');
  await timed('undeploy both guests', () =>
    Promise.all([laggkit(['undeploy', '--ssh-config', sshConfig, '--host', 'A']), laggkit(['undeploy', '--ssh-config', sshConfig, '--host', 'B'])]),
  );
  await inGuest('A', 'pidof laggd || echo "laggd: not running"; ls /etc/laggd.conf 2>&1; ip -4 addr show dev em0 | grep inet');

  heading('7. laggkit lab down');
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
