/**
 * Deploy benchmark (npm run bench:deploy): `laggkit deploy` to a lab guest, timed step by step.
 *
 *   first      a full deploy of LACP over guest A's data links (B, deployed alongside A's first
 *              deploy and left up, is its partner), probe to persist; the build step is shown but left out of the
 *              total (a compile measures the compiler, and the local build is cached by id)
 *   no-op      the same deploy again: nothing to do, only probe and plan run
 *   undeploy   back to the guest as it was
 *
 * The peer, measured in the same run against the same guest, is the floor any SSH tool pays:
 * one OpenSSH login running `true` (median of BENCH_RUNS). Each deploy figure is printed as a
 * multiple of it, so a slower machine or a loaded one moves both sides alike.
 *
 * Each deploy runs BENCH_RUNS times (the first deploy after an undeploy), and the median is
 * reported. Prints a table and writes bench/results/deploy.json with the load at start and end.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { labDown, labUp } from '../../src/lab/lab.js';
import { repoRoot } from '../../src/lab/paths.js';
import { labSshConfig } from '../../src/lab/ssh-config.js';
import { lacpDeployArgs } from '../../test/lab/support/cli.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const LAB = 'bench-deploy';

interface Step {
  step: string;
  ok: boolean;
  ms: number;
  detail: string;
}
interface Run {
  code: number;
  ms: number;
  steps: Step[];
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? (s[Math.floor((s.length - 1) / 2)] as number) : NaN;
};

/** The CLI as a user runs it (a new node process each time: start-up is part of the figure). */
function laggkit(args: string[], env: NodeJS.ProcessEnv): Promise<Run> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [path.join(repoRoot(), 'bin', 'run.js'), ...args, '--json'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('exit', (code) => {
      const ms = performance.now() - t0;
      let steps: Step[] = [];
      try {
        steps = (JSON.parse(out) as { result?: { steps?: Step[] } }).result?.steps ?? [];
      } catch {
        // not JSON: the error text below says why
      }
      if (code !== 0) process.stderr.write(`laggkit ${args.join(' ')} exited ${code}\n${out}${err.slice(-2000)}\n`);
      resolve({ code: code ?? 1, ms, steps });
    });
  });
}

function stepMedians(runs: Run[]): Record<string, number> {
  const names = [...new Set(runs.flatMap((r) => r.steps.map((s) => s.step)))];
  return Object.fromEntries(names.map((n) => [n, median(runs.map((r) => r.steps.find((s) => s.step === n)?.ms ?? NaN).filter((x) => !Number.isNaN(x)))]));
}

async function main(): Promise<number> {
  const labDir = mkdtempSync(path.join(os.tmpdir(), 'laggkit-bench-deploy-'));
  const env = { ...process.env, LAGGKIT_LAB_DIR: labDir, NO_COLOR: '1' };
  process.env.LAGGKIT_LAB_DIR = labDir;
  const loadStart = os.loadavg().map((l) => Number(l.toFixed(2)));
  try {
    process.stderr.write('bench:deploy: starting a lab (two Linux guests, virtio + e1000 links)\n');
    const lab = await labUp({ name: LAB, nics: ['virtio', 'e1000'] });
    const sshConfig = path.join(labDir, 'ssh_config');
    writeFileSync(sshConfig, labSshConfig(lab));
    const ports = (lab.vms[0]?.nics ?? []).map((n) => n.name);
    const deployArgs = (vm: string) => lacpDeployArgs(sshConfig, vm, ports, '10.88.0', ['--build', 'local', '--opt', 'lacp_multi_speed=1', '--yes']);

    const sshFloor: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const t0 = performance.now();
      const r = spawnSync('ssh', ['-F', sshConfig, 'A', 'true'], { stdio: 'ignore' });
      if (r.status !== 0) throw new Error('ssh -F ssh_config A true failed: the lab guest does not answer');
      sshFloor.push(performance.now() - t0);
    }
    // virtio (10G) and e1000 (1G) in one aggregate need lacp_multi_speed, as in the lab tests.
    // B is A's LACP partner for the whole run: deployed (not measured) alongside A's first
    // deploy, since neither side of LACP verifies without the other, and left up after.
    const first: Run[] = [];
    const noop: Run[] = [];
    const undeploy: Run[] = [];
    for (let i = 0; i < RUNS; i++) {
      if (i === 0) {
        const [a, partner] = await Promise.all([laggkit(deployArgs('A'), env), laggkit(deployArgs('B'), env)]);
        if (partner.code !== 0) throw new Error('the partner deploy to B failed: see above');
        first.push(a);
      } else first.push(await laggkit(deployArgs('A'), env));
      noop.push(await laggkit(deployArgs('A'), env));
      undeploy.push(await laggkit(['undeploy', '--ssh-config', sshConfig, '--host', 'A'], env));
    }
    const failed = [...first, ...noop, ...undeploy].filter((r) => r.code !== 0).length;
    const floor = median(sshFloor);
    const firstSteps = stepMedians(first);
    const withoutBuild = median(first.map((r) => r.ms - (r.steps.find((s) => s.step === 'build')?.ms ?? 0)));
    const results = {
      date: new Date().toISOString(),
      host: { cpus: os.cpus().length, kernel: os.release(), loadavg_start: loadStart, loadavg_end: os.loadavg().map((l) => Number(l.toFixed(2))) },
      accel: lab.accel,
      runs: RUNS,
      peer: { name: 'one OpenSSH login running true', ms: floor },
      first: { total_ms_without_build: withoutBuild, steps_ms: firstSteps },
      noop: { total_ms: median(noop.map((r) => r.ms)), steps_ms: stepMedians(noop) },
      undeploy: { total_ms: median(undeploy.map((r) => r.ms)) },
      failed_runs: failed,
    };
    const x = (ms: number) => `${(ms / 1000).toFixed(2).padStart(7)} s  ${(ms / floor).toFixed(1).padStart(5)}x ssh`;
    console.log(`deploy to a lab guest (${lab.accel}), median of ${RUNS}; peer: one ssh login = ${(floor / 1000).toFixed(2)} s`);
    console.log('  first deploy, per step:');
    for (const [n, ms] of Object.entries(firstSteps)) console.log(`    ${n.padEnd(10)} ${x(ms)}${n === 'build' ? '  (cached; left out of the total)' : ''}`);
    console.log(`  first deploy, probe to persist without build ${x(withoutBuild)}`);
    console.log(`  no-op deploy (probe + plan)                  ${x(results.noop.total_ms)}`);
    for (const [n, ms] of Object.entries(results.noop.steps_ms)) console.log(`    ${n.padEnd(10)} ${x(ms)}`);
    console.log(`  undeploy                                     ${x(results.undeploy.total_ms)}`);
    if (failed) console.log(`  ${failed} run(s) failed: see stderr`);
    const out = path.join(repoRoot(), 'bench', 'results');
    mkdirSync(out, { recursive: true });
    writeFileSync(path.join(out, 'deploy.json'), JSON.stringify(results, null, 2) + '\n');
    console.log('  written: bench/results/deploy.json');
    return failed ? 1 : 0;
  } finally {
    await labDown(LAB).catch(() => {});
    rmSync(labDir, { recursive: true, force: true });
  }
}

process.exitCode = await main();
