/**
 * `laggkit undeploy` and `laggkit status`, both driven by the deploy record the host keeps.
 *
 * Undeploy puts the host back as it was before the first deploy: aggregates destroyed, ports and
 * routes as recorded, the module unloaded if it was not loaded then, every config edit inverted
 * (lines deploy did not write stay), installed files removed or their old content put back.
 * The runtime part runs detached on the host, so it completes even if it disturbs this session.
 */
import { confEdit, confGet } from '../conf/index.js';
import { LaggkitError } from '../cli/errors.js';
import { shQuote } from '../ssh/index.js';
import type { RemoteHost } from '../targets/host.js';
import type { HostFacts, RunningAggregate, TargetAdapter } from '../targets/types.js';
import { detached, guardReport } from './guard.js';
import { HostFiles } from './host-files.js';
import { listHas, readRecord, type RecordedEdit } from './record.js';

export interface UndeployResult {
  host: string;
  changed: boolean;
  destroyed: string[];
  files: string[];
  removed: string[];
  restored: string[];
}

async function revertEdit(files: HostFiles, host: RemoteHost, e: RecordedEdit): Promise<string[]> {
  const cur = await confGet(files, e.kind, e.key);
  let changed: string[] = [];
  const edit = async (op: 'set' | 'unset', value?: string, list?: 'remove') => {
    const r = await confEdit(files, op, { kind: e.kind, key: e.key, ...(value !== undefined ? { value } : {}), ...(list ? { list } : {}) });
    changed = changed.concat(r.files.map((f) => f.path));
  };
  if (e.list === 'add') {
    if (e.previous === e.value) return []; // the element was there before deploy
    if (listHas(cur, e.value)) {
      const rest = (cur.value ?? '').split(/\s+/).filter((w) => w && w !== e.value);
      if (cur.values.length <= 1 && rest.length === 0 && e.previous === null) await edit('unset');
      else await edit('unset', e.value, 'remove');
    }
  } else if (e.previous === null) await edit('unset');
  else await edit('set', e.previous);
  // A file deploy created and that is now empty goes too.
  if (!e.fileExisted) {
    const text = await files.read(e.path);
    if (text !== null && text.trim() === '') {
      await host.run(['rm', '-f', e.path], { check: true });
      changed.push(`${e.path} (removed)`);
    }
  }
  return changed;
}

export async function undeploy(host: RemoteHost, adapter: TargetAdapter, progress: (l: string) => void): Promise<UndeployResult> {
  const rec = await readRecord(host, adapter.stateDir);
  const result: UndeployResult = { host: host.name, changed: false, destroyed: [], files: [], removed: [], restored: [] };
  if (!rec) return result;
  result.changed = true;
  const dir = adapter.stateDir;

  progress('runtime: destroy aggregates, restore ports and routes');
  const script = ['# laggkit undeploy: the running state back to before the first deploy'];
  for (const a of rec.spec.aggregates) script.push(adapter.destroyScript(a.name));
  result.destroyed = rec.spec.aggregates.map((a) => a.name);
  if (!rec.original.moduleLoaded) script.push(adapter.unloadScript());
  for (const st of Object.values(rec.original.ifaces)) script.push(adapter.restoreIfaceScript(st));
  script.push(adapter.restoreRoutesScript(rec.original.routes));
  await host.writeFile(`${dir}/undeploy.sh`, `#!/bin/sh\n${script.join('\n')}\n`, 0o700);
  await host.script(
    `rm -f ${shQuote(`${dir}/undeploy.log`)}\n${detached(`sh -c ${shQuote(`sh -x ${dir}/undeploy.sh > ${dir}/undeploy.log 2>&1; echo "LAGGKIT-UNDEPLOY-EXIT $?" >> ${dir}/undeploy.log`)}`)}`,
    { check: true },
  );
  const until = Date.now() + 120_000;
  for (;;) {
    const r = await host.script(`cat ${shQuote(`${dir}/undeploy.log`)} 2>/dev/null`, { timeoutMs: 10_000 });
    if (/LAGGKIT-UNDEPLOY-EXIT \d+/.test(r.stdout)) break;
    if (Date.now() > until)
      throw new LaggkitError('remote', 'E_UNDEPLOY', `the undeploy script on ${host.name} did not finish in 120 s`, `Read ${dir}/undeploy.log there.`);
    await new Promise((res) => setTimeout(res, 200));
  }

  progress('files: invert every config edit deploy made');
  const files = new HostFiles(host);
  for (const e of [...rec.edits].reverse()) result.files.push(...(await revertEdit(files, host, e)));
  result.files = [...new Set(result.files)];
  // The editors' timestamped backups made by deploy and undeploy (PATH.laggkit-YYYYMMDDTHHMMSSZ,
  // none older than the first deploy) go too: the host is as it was, not as it was plus backups.
  const since = rec.firstDeployAt.replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  for (const p of new Set(rec.edits.map((e) => e.path))) {
    await host.script(
      `for f in ${shQuote(p)}.laggkit-*; do [ -e "$f" ] || continue; ts=\${f##*.laggkit-}; [ "$ts" \\> ${shQuote(since)} ] || [ "$ts" = ${shQuote(since)} ] && rm -f "$f"; done; true`,
    );
  }

  progress('installed files: remove, or put the old content back');
  // Files first, then the folders deploy created for them (recorded innermost first).
  const artifacts = [...rec.original.artifacts.filter((a) => !a.path.endsWith('/')), ...rec.original.artifacts.filter((a) => a.path.endsWith('/'))];
  for (const a of artifacts) {
    if (a.path.endsWith('/')) {
      await host.run(['rmdir', a.path], { check: false });
      continue;
    }
    if (a.existed && a.backup) {
      await host.run(['cp', '-p', a.backup, a.path], { check: true });
      result.restored.push(a.path);
    } else if (!a.existed) {
      if (a.path.endsWith('/laggd.service')) await host.script('systemctl disable laggd >/dev/null 2>&1; true');
      if (a.path === '/etc/init.d/laggd') await host.script('command -v rc-update >/dev/null 2>&1 && rc-update del laggd default >/dev/null 2>&1; true');
      await host.run(['rm', '-f', a.path], { check: true });
      result.removed.push(a.path);
    }
  }
  await host.script(adapter.afterUninstall(), { check: false });
  await host.run(['rm', '-rf', dir], { check: true });
  return result;
}

export interface StatusResult {
  host: string;
  os: string;
  uname: string;
  module: HostFacts['module'];
  aggregates: RunningAggregate[];
  deployed: null | {
    firstDeployAt: string;
    lastDeployAt: string;
    buildId: string;
    /** Per aggregate of the last deploy: how the running state differs from it. */
    running: { name: string; differences: string[] }[];
    /** Per persisted setting: is it still what deploy wrote? */
    persisted: { kind: string; key: string; value: string; current: string | null; inPlace: boolean }[];
  };
  guard: Awaited<ReturnType<typeof guardReport>>;
}

export async function status(host: RemoteHost, adapter: TargetAdapter): Promise<StatusResult> {
  const facts = await adapter.probe(host, []);
  const rec = await readRecord(host, adapter.stateDir);
  const guard = await guardReport(host, adapter.stateDir);
  let deployed: StatusResult['deployed'] = null;
  if (rec) {
    const files = new HostFiles(host);
    const persisted: NonNullable<StatusResult['deployed']>['persisted'] = [];
    for (const e of rec.edits) {
      const v = await confGet(files, e.kind, e.key);
      const inPlace = e.list === 'add' ? listHas(v, e.value) : v.value === e.value;
      persisted.push({ kind: e.kind, key: e.key, value: e.value, current: v.value, inPlace });
    }
    deployed = {
      firstDeployAt: rec.firstDeployAt,
      lastDeployAt: rec.lastDeployAt,
      buildId: rec.buildId,
      running: rec.spec.aggregates.map((a) => {
        const r = facts.aggregates.find((x) => x.name === a.name);
        return { name: a.name, differences: r ? adapter.differences(a, r) : ['not running'] };
      }),
      persisted,
    };
  }
  return { host: host.name, os: facts.os, uname: facts.uname, module: facts.module, aggregates: facts.aggregates, deployed, guard };
}
