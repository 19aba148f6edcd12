/**
 * The NetBSD target: laggkit.kmod loaded with modload(8), configured with NetBSD's stock
 * ifconfig lagg words, persisted in /etc/modules.conf and /etc/ifconfig.laggkitN (one ifconfig
 * argument list per line, the file's existence making rc.d/network create the interface).
 * Everything but those names and files is shared with FreeBSD (freebsd.ts).
 */
import type { AggregateSpec } from '../deploy/spec.js';
import { bsdTarget } from './freebsd.js';
import type { PersistEdit, TargetAdapter } from './types.js';

const MODULE = '/stand/amd64/10.0/modules/laggkit/laggkit.kmod';

export function netbsdIfconfigLines(spec: AggregateSpec): PersistEdit[] {
  const file = `ifconfig.${spec.name}`;
  const edits: PersistEdit[] = [{ kind: file, key: 'laggproto', value: spec.laggproto }];
  for (const p of spec.ports) edits.push({ kind: file, key: 'laggport', value: p.pri !== undefined ? `${p.name} pri ${p.pri}` : p.name, list: 'add' });
  if (spec.mtu !== undefined) edits.push({ kind: file, key: 'mtu', value: String(spec.mtu) });
  for (const a of spec.inet) edits.push({ kind: file, key: 'inet', value: a, list: 'add' });
  for (const a of spec.inet6) edits.push({ kind: file, key: 'inet6', value: a, list: 'add' });
  edits.push({ kind: file, key: 'up', value: '' });
  return edits;
}

export const netbsdTarget: TargetAdapter = bsdTarget(
  {
    os: 'netbsd',
    stateDir: '/var/db/laggkit',
    modulePath: MODULE,
    moduleName: 'laggkit',
    loadCmd: 'modload laggkit',
    unloadCmd: 'modunload laggkit',
    loadedTest: 'modstat laggkit 2>/dev/null | grep -q "^laggkit"',
  },
  {
    async persistEdits(spec): Promise<PersistEdit[]> {
      return [{ kind: 'modules', key: 'laggkit', value: '' }, ...netbsdIfconfigLines(spec)];
    },
  },
);
