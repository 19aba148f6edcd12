/**
 * `laggkit deploy` as a pipeline of steps over one typed plan:
 *
 *   probe → plan → build → install + arm guard → load/configure → verify → confirm → persist
 *
 * Each step is timed and reported (onStep). The plan is data: --dry-run returns it, the JSON
 * output carries it, the tests read it. Nothing on the host changes before the plan has
 * refused or accepted every input; from "install + arm" on, the on-host guard (guard.ts) owns
 * the way back: a failed verify fires it at once, a lost management path lets it fire on its
 * own, and only a confirmation over a new SSH connection disarms it.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { confEdit, confGet, confKind } from '../conf/index.js';
import { EnvironmentError, LaggkitError, UsageError } from '../cli/errors.js';
import { shQuote } from '../ssh/index.js';
import { sourceHash } from '../targets/common.js';
import type { RemoteHost } from '../targets/host.js';
import type { Artifact, HostFacts, PersistEdit, RunningAggregate, TargetAdapter } from '../targets/types.js';
import { armGuard, confirmGuard, detached, fireGuard, guardReport, waitRestored } from './guard.js';
import { HostFiles, StagedFiles } from './host-files.js';
import { listHas, readRecord, sameSetting, writeRecord, type DeployRecord, type RecordedEdit } from './record.js';
import type { DeploySpec } from './spec.js';

export interface StepRecord {
  step: string;
  ok: boolean;
  ms: number;
  detail: string;
}

export interface DeployOptions {
  build: 'remote' | 'local';
  sysroot?: string;
  kernbuild?: string;
  confirmTimeoutSec: number;
  verifyTimeoutSec: number;
  verifyPing?: string;
  allowManagementPort: boolean;
  dryRun: boolean;
  onStep: (s: StepRecord) => void;
  progress: (line: string) => void;
  /** Asked before anything changes, with the plan (a prompt on a terminal); false stops here. */
  approve?: (plan: DeployPlan) => Promise<boolean>;
  /** Opens a new connection to the same host (confirm must not reuse the first one). */
  reconnect: () => Promise<RemoteHost>;
}

export interface PlannedAggregate {
  name: string;
  action: 'create' | 'reconfigure' | 'keep';
  differences: string[];
  ports: string[];
}

export interface DeployPlan {
  host: string;
  os: string;
  release: string;
  osreldate?: number;
  buildId: string;
  module: { install: boolean; load: boolean; reason: string };
  aggregates: PlannedAggregate[];
  persist: { path: string; diff: string }[];
  mgmt: HostFacts['mgmt'];
  changed: boolean;
}

export interface DeployResult {
  host: string;
  changed: boolean;
  dryRun: boolean;
  plan: DeployPlan;
  steps: StepRecord[];
  aggregates: { name: string; status: string; ports: { name: string; flags: string[] }[] }[];
  guard?: string;
}

async function step<T>(steps: StepRecord[], opts: DeployOptions, name: string, fn: () => Promise<{ value: T; detail: string }>): Promise<T> {
  const t0 = Date.now();
  opts.progress(`${name} ...`);
  try {
    const { value, detail } = await fn();
    const rec = { step: name, ok: true, ms: Date.now() - t0, detail };
    steps.push(rec);
    opts.onStep(rec);
    return value;
  } catch (err) {
    const rec = { step: name, ok: false, ms: Date.now() - t0, detail: (err as Error).message };
    steps.push(rec);
    opts.onStep(rec);
    throw err;
  }
}

/** Every check that can refuse the deploy, before anything changes. */
function refuse(spec: DeploySpec, facts: HostFacts, adapter: TargetAdapter, opts: DeployOptions, host: string): void {
  for (const a of spec.aggregates) {
    for (const p of a.ports) {
      const i = facts.interfaces[p.name];
      if (!i)
        throw new UsageError(
          'E_PORT_UNKNOWN',
          `${host} has no interface ${p.name} (laggport of ${a.name})`,
          `Interfaces there: ${Object.keys(facts.interfaces).join(' ')}`,
        );
      if (i.memberOf && i.memberOf !== `laggkit ${a.name}`)
        throw new UsageError(
          'E_PORT_BUSY',
          `${p.name} on ${host} is already in use (${i.memberOf}); it cannot also be a port of ${a.name}`,
          `Remove it there first, or choose another port.`,
        );
      if (p.name === facts.mgmt.iface && !opts.allowManagementPort) {
        throw new UsageError(
          'E_MGMT_PORT',
          `${p.name} carries this SSH session (${facts.mgmt.address}); adding it to ${a.name} would cut the management path`,
          'Use another port, or pass --allow-management-port: the on-host guard then rolls back unless the new configuration still answers SSH.',
        );
      }
    }
  }
  if (opts.build === 'remote' && !facts.srcTree.present) {
    if (adapter.os === 'linux')
      throw new EnvironmentError(
        'E_NO_TOOLCHAIN',
        `${host} has no ${facts.srcTree.path} for --build remote`,
        'Install a C compiler and make there (e.g. apt-get install build-essential), or build here with --build local.',
      );
    throw new EnvironmentError(
      'E_NO_SRC',
      `${host} has no kernel source tree at ${facts.srcTree.path} for --build remote`,
      "Install the sources matching the running kernel (e.g. from the release's src.txz), or build here with --build local --sysroot DIR.",
    );
  }
  if (adapter.os !== 'linux' && opts.build === 'remote') {
    if (facts.srcTree.matches === false)
      throw new EnvironmentError(
        'E_SRC_MISMATCH',
        `the source tree on ${host} (${facts.srcTree.version}) does not match the running kernel (${facts.osreldate})`,
        'A module built from it may not load; install the matching sources or use --build local with the matching tree.',
      );
  }
  if (adapter.os !== 'linux' && opts.build === 'local' && !opts.sysroot)
    throw new UsageError(
      'E_USAGE',
      "--build local needs --sysroot DIR (a source tree matching the host's kernel)",
      'Example: --build local --sysroot /usr/src --kernbuild /usr/obj/usr/src/amd64.amd64/sys/GENERIC',
    );
}

export async function planDeploy(
  host: RemoteHost,
  adapter: TargetAdapter,
  spec: DeploySpec,
  opts: DeployOptions,
  facts: HostFacts,
): Promise<{ plan: DeployPlan; edits: PersistEdit[] }> {
  refuse(spec, facts, adapter, opts, host.name);
  const buildId = `${sourceHash(adapter.sourceFiles())}${facts.osreldate ? `-${facts.osreldate}` : ''}`;
  const install = facts.module.installedBuildId !== buildId;
  const load = !facts.module.loaded || facts.module.buildId !== buildId;
  const aggregates: PlannedAggregate[] = spec.aggregates.map((a) => {
    const running = facts.aggregates.find((r) => r.name === a.name);
    if (!running) return { name: a.name, action: 'create', differences: ['not present'], ports: a.ports.map((p) => p.name) };
    const d = adapter.differences(a, running);
    return {
      name: a.name,
      action: d.length || load ? 'reconfigure' : 'keep',
      differences: load && !d.length ? ['module reloaded'] : d,
      ports: a.ports.map((p) => p.name),
    };
  });
  const edits: PersistEdit[] = [];
  for (const a of spec.aggregates) {
    for (const e of await adapter.persistEdits(a, facts, host)) {
      const same = edits.find((x) => sameSetting(x, e));
      // Host-wide settings (the module's load line, its default tunables) are written once; two
      // aggregates asking for different host-wide values cannot both be persisted.
      if (same && same.value !== e.value)
        throw new UsageError(
          'E_SPEC',
          `${a.name} needs ${e.kind} ${e.key}=${e.value}, another aggregate ${same.value}: that setting is host-wide`,
          'Give the aggregates the same value for it, or deploy them to different hosts.',
        );
      if (!same) edits.push(e);
    }
  }
  const staged = new StagedFiles(new HostFiles(host));
  for (const e of edits)
    await confEdit(staged, 'set', { kind: e.kind, key: e.key, value: e.value, ...(e.list ? { list: e.list } : {}), ...(e.file ? { file: e.file } : {}) });
  const persist = staged.diffs();
  const plan: DeployPlan = {
    host: host.name,
    os: facts.os,
    release: facts.release,
    ...(facts.osreldate ? { osreldate: facts.osreldate } : {}),
    buildId,
    module: {
      install,
      load,
      reason: install
        ? facts.module.installedBuildId
          ? `installed build ${facts.module.installedBuildId} differs`
          : 'not installed'
        : load
          ? facts.module.loaded
            ? `running build ${facts.module.buildId ?? 'unknown'} differs`
            : 'not loaded'
          : 'up to date',
    },
    aggregates,
    persist,
    mgmt: facts.mgmt,
    changed: install || load || aggregates.some((a) => a.action !== 'keep') || persist.length > 0,
  };
  return { plan, edits };
}

async function installArtifacts(host: RemoteHost, stateDir: string, artifacts: Artifact[]): Promise<{ path: string; existed: boolean; backup?: string }[]> {
  const out: { path: string; existed: boolean; backup?: string }[] = [];
  for (const a of artifacts) {
    const existed = await host.exists(a.path);
    let backup: string | undefined;
    if (existed) {
      backup = `${stateDir}/saved${a.path}`;
      await host.script(`[ -e ${shQuote(backup)} ] || { mkdir -p ${shQuote(path.posix.dirname(backup))} && cp -p ${shQuote(a.path)} ${shQuote(backup)}; }`, {
        check: true,
      });
    }
    // Folders deploy creates (/usr/local/sbin on a minimal host) are undone too, innermost first.
    const missing: string[] = [];
    for (let d = path.posix.dirname(a.path); d !== '/' && !(await host.exists(d)); d = path.posix.dirname(d)) missing.push(d);
    for (const d of missing) out.push({ path: `${d}/`, existed: false });
    await host.run(['mkdir', '-p', path.posix.dirname(a.path)], { check: true });
    if (a.remotePath)
      await host.script(
        `cp ${shQuote(a.remotePath)} ${shQuote(`${a.path}.laggkit-tmp`)} && chmod ${a.mode.toString(8)} ${shQuote(`${a.path}.laggkit-tmp`)} && mv -f ${shQuote(`${a.path}.laggkit-tmp`)} ${shQuote(a.path)}`,
        { check: true },
      );
    else await host.writeFile(a.path, a.localPath ? fs.readFileSync(a.localPath) : (a.content ?? ''), a.mode);
    out.push({ path: a.path, existed, ...(backup ? { backup } : {}) });
  }
  return out;
}

/** Content-equal installed files are skipped, so a no-op deploy writes nothing. */
async function artifactsToInstall(host: RemoteHost, artifacts: Artifact[], force: boolean): Promise<Artifact[]> {
  const out: Artifact[] = [];
  for (const a of artifacts) {
    if (force || a.remotePath) {
      out.push(a);
      continue;
    }
    const want = a.localPath ? fs.readFileSync(a.localPath) : Buffer.from(a.content ?? '');
    const have = await host.readFile(a.path);
    if (!have?.equals(want)) out.push(a);
  }
  return out;
}

/** The restore program the guard runs: undo this deploy's runtime changes, then the files. */
function restoreProgram(adapter: TargetAdapter, facts: HostFacts, spec: DeploySpec, previous: DeployRecord | null, plan: DeployPlan): string {
  const lines: string[] = ['# destroy what this deploy created or changed'];
  for (const a of plan.aggregates) if (a.action !== 'keep') lines.push(adapter.destroyScript(a.name));
  if (!facts.module.loaded) lines.push('# the module was not loaded before: unload it', adapter.unloadScript());
  lines.push('# ports and every interface as they were');
  const touched = new Set<string>(spec.aggregates.flatMap((a) => a.ports.map((p) => p.name)));
  if (facts.mgmt.iface) touched.add(facts.mgmt.iface);
  for (const n of touched) {
    const st = facts.interfaces[n];
    if (st) lines.push(adapter.restoreIfaceScript(st));
  }
  if (previous && facts.module.loaded) {
    lines.push('# the aggregates of the previous deploy');
    for (const a of previous.spec.aggregates)
      if (plan.aggregates.find((p) => p.name === a.name && p.action !== 'keep')) lines.push(adapter.configureScript(a, facts));
  }
  lines.push('# default routes', adapter.restoreRoutesScript(facts.defaultRoutes));
  return lines.join('\n');
}

async function aggregateReport(host: RemoteHost, adapter: TargetAdapter, spec: DeploySpec): Promise<DeployResult['aggregates']> {
  return reportOf(await adapter.aggregates(host), spec);
}

function reportOf(running: RunningAggregate[], spec: DeploySpec): DeployResult['aggregates'] {
  return spec.aggregates.map((a) => {
    const r = running.find((x) => x.name === a.name);
    return { name: a.name, status: r?.status ?? 'absent', ports: r?.ports.map((p) => ({ name: p.name, flags: p.flags })) ?? [] };
  });
}

/** Poll until every port of every aggregate carries traffic (and the peer answers, if asked). */
async function verify(host: RemoteHost, adapter: TargetAdapter, spec: DeploySpec, opts: DeployOptions): Promise<string> {
  const deadline = Date.now() + opts.verifyTimeoutSec * 1000;
  let last = 'no status yet';
  const t0 = Date.now();
  while (Date.now() < deadline) {
    const running = await within(15_000, adapter.aggregates(host), `no status from ${host.name} within 15 s (connection lost?)`);
    const problems: string[] = [];
    for (const a of spec.aggregates) {
      const r = running.find((x) => x.name === a.name);
      if (!r) {
        problems.push(`${a.name} is absent`);
        continue;
      }
      if (r.status !== 'active') problems.push(`${a.name} status ${r.status}`);
      for (const p of a.ports) {
        const rp = r.ports.find((x) => x.name === p.name);
        if (!rp || !adapter.portReady(a, rp)) problems.push(`${p.name} ${rp ? `flags ${rp.flags.join(',') || '(none)'}` : 'missing'}`);
      }
    }
    if (problems.length === 0) {
      if (opts.verifyPing) {
        const r = await host.run(['ping', '-c', '3', opts.verifyPing]);
        if (r.code !== 0) {
          last = `ping ${opts.verifyPing} got no answer`;
          await new Promise((res) => setTimeout(res, 500));
          continue;
        }
      }
      return `every port ready after ${((Date.now() - t0) / 1000).toFixed(1)} s${opts.verifyPing ? `; ${opts.verifyPing} answers` : ''}`;
    }
    last = problems.join('; ');
    await new Promise((res) => setTimeout(res, 400));
  }
  throw new LaggkitError(
    'remote',
    'E_VERIFY',
    `not ready within ${opts.verifyTimeoutSec} s: ${last}`,
    'Check the cabling and the peer (an LACP partner must be configured too).',
  );
}

/** A remote call that must not outlive a dead connection's keepalive timeout. */
function within<T>(ms: number, p: Promise<T>, what: string): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  return Promise.race([p, new Promise<T>((_, reject) => (t = setTimeout(() => reject(new LaggkitError('ssh', 'E_SSH_LOST', what)), ms)))]).finally(() =>
    clearTimeout(t),
  );
}

/** Reconnect until the deadline; null when every attempt failed. */
async function reconnectUntil(opts: DeployOptions, deadlineMs: number): Promise<{ host: RemoteHost | null; error: string }> {
  let error = 'no attempt';
  while (Date.now() < deadlineMs) {
    try {
      return { host: await opts.reconnect(), error: '' };
    } catch (err) {
      error = (err as Error).message;
      if (/HOST_KEY|UNKNOWN_HOST|E_SSH_AUTH/.test((err as { code?: string }).code ?? '')) break;
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
  return { host: null, error };
}

function rolledBack(host: string, reason: string, log: string[]): LaggkitError {
  return new LaggkitError(
    'rolledBack',
    'E_ROLLED_BACK',
    `rolled back: ${reason}`,
    `${host} restored itself; its guard log:\n    ${log.slice(-6).join('\n    ')}\nSee laggkit status --host ${host}.`,
  );
}

export async function deploy(host0: RemoteHost, adapter: TargetAdapter, spec: DeploySpec, optsIn: DeployOptions): Promise<DeployResult> {
  const steps: StepRecord[] = [];
  let host = host0;
  let opts = optsIn;
  // Connections deploy opens itself (confirm's) are closed here; the caller closes host0.
  const opened: RemoteHost[] = [];
  const reconnect = async () => {
    const h = await optsIn.reconnect();
    opened.push(h);
    return h;
  };
  opts = { ...opts, reconnect };
  // The previous deploy's record is read beside the probe, on a channel of its own: each
  // command is a round trip, and on a slow host the no-op deploy is mostly round trips.
  const previousRead = readRecord(host, adapter.stateDir);
  previousRead.catch(() => {}); // its error is taken where it is awaited, after the probe
  const facts = await step(steps, opts, 'probe', async () => {
    const f = await adapter.probe(
      host,
      spec.aggregates.flatMap((a) => a.ports.map((p) => p.name)),
    );
    return {
      value: f,
      detail: `${f.uname}${f.osreldate ? ` (osreldate ${f.osreldate})` : ''}; module ${f.module.loaded ? `loaded (build ${f.module.buildId ?? 'unknown'})` : 'not loaded'}; session via ${f.mgmt.iface ?? '?'} ${f.mgmt.address ?? ''}`,
    };
  });
  const previous = await previousRead;
  const { plan, edits } = await step(steps, opts, 'plan', async () => {
    const p = await planDeploy(host, adapter, spec, opts, facts);
    return {
      value: p,
      detail: p.plan.changed
        ? `${p.plan.aggregates.map((a) => `${a.name}: ${a.action}`).join(', ')}; module: ${p.plan.module.reason}; ${p.plan.persist.length} file(s) to edit`
        : 'nothing to do',
    };
  });
  const result: DeployResult = { host: host.name, changed: false, dryRun: opts.dryRun, plan, steps, aggregates: [] };
  if (opts.dryRun || !plan.changed) {
    // Nothing changed since the probe read the aggregates a moment ago: report those.
    if (!opts.dryRun) result.aggregates = reportOf(facts.aggregates, spec);
    return result;
  }
  if (opts.approve && !(await opts.approve(plan)))
    throw new UsageError('E_DECLINED', `the plan for ${host.name} was not approved; nothing was changed`, 'Pass --yes to apply without asking.');
  result.changed = true;
  const runtimeChange = plan.module.install || plan.module.load || plan.aggregates.some((a) => a.action !== 'keep');

  // build: nothing on the host changes here.
  // The build's scratch folder lives until the artifacts in it are installed, then goes.
  const work = runtimeChange ? fs.mkdtempSync(path.join(os.tmpdir(), 'laggkit-build-')) : undefined;
  const dropWork = () => work && fs.rmSync(work, { recursive: true, force: true });
  const artifacts = work
    ? await step(steps, opts, 'build', async () => {
        const a = await adapter.build(host, facts, {
          mode: opts.build,
          buildId: plan.buildId,
          ...(opts.sysroot ? { sysroot: opts.sysroot } : {}),
          ...(opts.kernbuild ? { kernbuild: opts.kernbuild } : {}),
          workDir: work,
          progress: opts.progress,
        });
        return { value: a, detail: `build ${plan.buildId} (${opts.build})` };
      }).catch((err: unknown) => {
        dropWork();
        throw err;
      })
    : [];

  const record: DeployRecord = previous ?? {
    version: 1,
    os: adapter.os,
    firstDeployAt: new Date().toISOString(),
    lastDeployAt: '',
    buildId: plan.buildId,
    original: { moduleLoaded: facts.module.loaded, ifaces: {}, routes: facts.defaultRoutes, artifacts: [] },
    edits: [],
    spec,
  };
  // The state of every port and of the management interface before the first deploy touched them.
  for (const n of [...spec.aggregates.flatMap((a) => a.ports.map((p) => p.name)), ...(facts.mgmt.iface ? [facts.mgmt.iface] : [])]) {
    const st = facts.interfaces[n];
    if (st && !record.original.ifaces[n]) record.original.ifaces[n] = st;
  }

  let armed = false;
  let interrupted = false;
  const onSigint = () => {
    // A second Ctrl-C while the guard is being asked changes nothing: the first one decides.
    if (interrupted) return;
    interrupted = true;
    // The guard rolls the host back on its own at its deadline; asking it now is faster.
    if (armed) void fireGuard(host, adapter.stateDir, 'deploy interrupted (SIGINT)', 15_000).finally(() => process.exit(130));
    else process.exit(130);
  };
  // `on`, not `once`: execa's signal-exit re-raises a signal that finds no other listener left,
  // and a `once` listener is already gone when it looks, so Node would die before the guard hears.
  process.on('SIGINT', onSigint);
  try {
    if (runtimeChange) {
      await step(steps, opts, 'install', async () => {
        const todo = await artifactsToInstall(host, artifacts, plan.module.install);
        const done = await installArtifacts(host, adapter.stateDir, todo);
        for (const d of done) if (!record.original.artifacts.find((x) => x.path === d.path)) record.original.artifacts.push(d);
        if (todo.length) await host.script(adapter.afterInstall(todo), { check: true });
        await writeRecord(host, adapter.stateDir, record);
        await armGuard(host, adapter.stateDir, opts.confirmTimeoutSec, restoreProgram(adapter, facts, spec, previous, plan));
        armed = true;
        return {
          value: undefined,
          detail: `${todo.length ? todo.map((t) => t.path).join(', ') : 'nothing new installed'}; guard armed for ${opts.confirmTimeoutSec} s`,
        };
      });
      const deadline = Date.now() + opts.confirmTimeoutSec * 1000;

      await step(steps, opts, 'configure', async () => {
        const script = ['set -e'];
        if (plan.module.load && facts.module.loaded) {
          // Another build is running: take its aggregates down and replace it.
          for (const r of facts.aggregates) script.push(adapter.destroyScript(r.name));
          script.push(adapter.unloadScript());
        }
        script.push(adapter.loadScript(facts));
        for (const a of spec.aggregates) {
          const pa = plan.aggregates.find((p) => p.name === a.name);
          if (pa?.action === 'keep') continue;
          if (pa?.action === 'reconfigure' || facts.aggregates.find((r) => r.name === a.name)) script.push(adapter.destroyScript(a.name));
          script.push(adapter.configureScript(a, facts));
        }
        const dir = adapter.stateDir;
        await host.writeFile(`${dir}/configure.sh`, `#!/bin/sh\n${script.join('\n')}\n`, 0o700);
        // Detached, so a configuration that cuts this very session still runs to its end. Its
        // pid (its process group's, being a session leader) tells a firing guard what to stop.
        await host.script(
          `rm -f ${shQuote(`${dir}/configure.log`)}\n${detached(`sh -c ${shQuote(`echo $$ > ${dir}/configure.pid; sh ${dir}/configure.sh > ${dir}/configure.log 2>&1; echo "LAGGKIT-CONFIGURE-EXIT $?" >> ${dir}/configure.log; rm -f ${dir}/configure.pid`)}`)}`,
          { check: true },
        );
        let log = '';
        while (Date.now() < deadline) {
          const r = await host.script(`cat ${shQuote(`${dir}/configure.log`)} 2>/dev/null`, { timeoutMs: 10_000 });
          log = r.stdout;
          const m = /LAGGKIT-CONFIGURE-EXIT (\d+)/.exec(log);
          if (m) {
            if (m[1] !== '0')
              throw new LaggkitError(
                'remote',
                'E_CONFIGURE',
                `configuring failed: ${log
                  .replace(/LAGGKIT-CONFIGURE-EXIT \d+\s*$/, '')
                  .trim()
                  .split('\n')
                  .slice(-4)
                  .join(' | ')}`,
              );
            return {
              value: undefined,
              detail: spec.aggregates.map((a) => `${a.name}: ${a.laggproto} over ${a.ports.map((p) => p.name).join(' ')}`).join('; '),
            };
          }
          await new Promise((res) => setTimeout(res, 200));
        }
        throw new LaggkitError('remote', 'E_CONFIGURE', 'configuring did not finish before the guard deadline');
      }).catch(async (err) => {
        throw await rollBackAfter(err, host, adapter, opts, deadline);
      });

      await step(steps, opts, 'verify', async () => ({ value: undefined, detail: await verify(host, adapter, spec, opts) })).catch(async (err) => {
        throw await rollBackAfter(err, host, adapter, opts, deadline);
      });

      host = await step(steps, opts, 'confirm', async () => {
        const { host: fresh, error } = await reconnectUntil(opts, deadline);
        if (!fresh) throw await waitForRollback(host, adapter, opts, deadline, `no new SSH connection to ${host.name} before the deadline (${error})`);
        const c = await confirmGuard(fresh, adapter.stateDir);
        if (!c.confirmed) {
          const rep = await guardReport(fresh, adapter.stateDir);
          await waitRestored(fresh, adapter.stateDir, 60_000);
          throw rolledBack(host.name, c.reason, rep.log);
        }
        armed = false;
        return { value: fresh, detail: 'a new SSH connection disarmed the guard' };
      });
    }

    await step(steps, opts, 'persist', async () => {
      const files = new HostFiles(host);
      const changed: string[] = [];
      for (const e of edits) {
        const kind = confKind(e.kind);
        const before = await confGet(files, e.kind, e.key);
        const r = await confEdit(files, 'set', {
          kind: e.kind,
          key: e.key,
          value: e.value,
          ...(e.list ? { list: e.list } : {}),
          ...(e.file ? { file: e.file } : {}),
        });
        if (!r.changed) continue;
        changed.push(...r.files.map((f) => f.path));
        if (record.edits.find((x) => sameSetting(x, e))) {
          record.edits = record.edits.map((x) => (sameSetting(x, e) ? { ...x, value: e.value } : x));
          continue;
        }
        const target = e.file ?? (before.origins[before.origins.length - 1]?.path.replace(/^[^:]*:/, '') || kind.mainFile);
        const listed = e.list === 'add' ? listHas(before, e.value) : false;
        const rec: RecordedEdit = {
          ...e,
          previous: e.list === 'add' ? (listed ? e.value : before.value) : before.value,
          path: target,
          fileExisted: (await host.exists(target)) && r.files.every((f) => f.backupPath !== null),
        };
        record.edits.push(rec);
      }
      record.lastDeployAt = new Date().toISOString();
      record.buildId = plan.buildId;
      record.spec = spec;
      await writeRecord(host, adapter.stateDir, record);
      return { value: undefined, detail: changed.length ? `edited ${[...new Set(changed)].join(', ')}` : 'already persisted' };
    });
    result.aggregates = await aggregateReport(host, adapter, spec);
    result.guard = runtimeChange ? 'confirmed' : 'not needed (no runtime change)';
    return result;
  } finally {
    dropWork();
    process.removeListener('SIGINT', onSigint);
    for (const h of opened) await h.close().catch(() => {});
  }
}

/** After a failed configure/verify: roll back now if the host is reachable, else let the guard do it. */
async function rollBackAfter(err: unknown, host: RemoteHost, adapter: TargetAdapter, opts: DeployOptions, deadline: number): Promise<LaggkitError> {
  if ((err as LaggkitError).code === 'E_ROLLED_BACK') return err as LaggkitError;
  const reason = `${(err as Error).message}`;
  try {
    await fireGuard(host, adapter.stateDir, reason);
    const rep = await guardReport(host, adapter.stateDir);
    return rolledBack(host.name, rep.reason ?? reason, rep.log);
  } catch {
    return waitForRollback(host, adapter, opts, deadline, reason);
  }
}

/** The first connection is gone: wait for the guard's deadline, reconnect, read what it did. */
async function waitForRollback(host: RemoteHost, adapter: TargetAdapter, opts: DeployOptions, deadline: number, why: string): Promise<LaggkitError> {
  opts.progress(`waiting for ${host.name} to roll itself back (${Math.max(0, Math.round((deadline - Date.now()) / 1000))} s left on its guard): ${why}`);
  await new Promise((r) => setTimeout(r, Math.max(0, deadline - Date.now()) + 2000));
  const { host: fresh, error } = await reconnectUntil(opts, Date.now() + 90_000);
  if (!fresh)
    return new LaggkitError(
      'rolledBack',
      'E_UNREACHABLE',
      `${host.name} did not answer SSH after its guard deadline (${error}); it should have rolled back: ${why}`,
      'Reach it through a console and read the guard log in /var/db/laggkit/guard or /var/lib/laggkit/guard.',
    );
  try {
    await waitRestored(fresh, adapter.stateDir, 60_000);
    const rep = await guardReport(fresh, adapter.stateDir);
    return rolledBack(host.name, rep.reason ?? why, rep.log);
  } finally {
    await fresh.close();
  }
}
