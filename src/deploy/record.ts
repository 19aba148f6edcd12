/**
 * The deploy record, kept on the host (<stateDir>/record.json) so that status and undeploy work
 * from any machine: what the host looked like before the first deploy (ports, routes, whether the
 * module was loaded, which installed files existed), every config edit with the value it
 * replaced, and the spec last deployed. Undeploy inverts exactly these edits, so config lines
 * that deploy did not write stay as they are.
 */
import { LaggkitError } from '../cli/errors.js';
import type { DeploySpec } from './spec.js';
import type { HostFacts, IfaceState, PersistEdit, TargetOs } from '../targets/types.js';
import type { RemoteHost } from '../targets/host.js';

export interface RecordedEdit extends PersistEdit {
  /** The value before the first deploy wrote it (null: unset / no line). */
  previous: string | null;
  /** The file that was edited, and whether it existed before. */
  path: string;
  fileExisted: boolean;
}

export interface DeployRecord {
  version: 1;
  os: TargetOs;
  firstDeployAt: string;
  lastDeployAt: string;
  buildId: string;
  original: {
    moduleLoaded: boolean;
    ifaces: Record<string, IfaceState>;
    routes: HostFacts['defaultRoutes'];
    /** Installed files: whether each existed before, and where its old content was kept. */
    artifacts: { path: string; existed: boolean; backup?: string }[];
  };
  edits: RecordedEdit[];
  spec: DeploySpec;
}

export const recordPath = (stateDir: string) => `${stateDir}/record.json`;

export async function readRecord(host: RemoteHost, stateDir: string): Promise<DeployRecord | null> {
  const buf = await host.readFile(recordPath(stateDir));
  if (buf === null) return null;
  try {
    const r = JSON.parse(buf.toString('utf8')) as DeployRecord;
    if (r.version !== 1) throw new Error(`version ${String(r.version)}`);
    return r;
  } catch (err) {
    throw new LaggkitError(
      'parse',
      'E_RECORD',
      `${host.name}:${recordPath(stateDir)} is not a laggkit deploy record (${(err as Error).message})`,
      'Move it aside if it was not written by laggkit; undeploy needs it to know what to undo.',
    );
  }
}

export async function writeRecord(host: RemoteHost, stateDir: string, r: DeployRecord): Promise<void> {
  await host.run(['mkdir', '-p', stateDir], { check: true });
  await host.writeFile(recordPath(stateDir), `${JSON.stringify(r, null, 2)}\n`, 0o600);
}

/** Same setting (the value may differ). */
export const sameSetting = (a: PersistEdit, b: PersistEdit) =>
  a.kind === b.kind && a.key === b.key && (a.list === 'add' ? b.list === 'add' && a.value === b.value : b.list !== 'add');

/** Is `element` in a list setting: a word of a shell list (cloned_interfaces) or one of a word file's lines (laggport em0)? */
export function listHas(v: { values: string[] }, element: string): boolean {
  return v.values.some((x) => x === element || x.split(/\s+/).includes(element));
}
