/**
 * The conf editors' file interface (src/conf ConfFiles) over a RemoteHost, so deploy's persist
 * step and undeploy edit loader.conf, rc.conf, laggd.conf and NetBSD's files with the same
 * lossless editors as `laggkit conf`, as root directly or through --become.
 */
import { createTwoFilesPatch } from 'diff';
import { decodeConf, type ConfFiles } from '../conf/files.js';
import { LaggkitError } from '../cli/errors.js';
import { backupPathFor, shQuote } from '../ssh/index.js';
import type { RemoteHost } from '../targets/host.js';

export class HostFiles implements ConfFiles {
  readonly where: string;
  constructor(private readonly host: RemoteHost) {
    this.where = host.name;
  }

  display(path: string): string {
    return `${this.host.name}:${path}`;
  }

  async read(path: string): Promise<string | null> {
    const buf = await this.host.readFile(path);
    return buf === null ? null : decodeConf(buf, this.display(path));
  }

  async list(dir: string): Promise<string[]> {
    const r = await this.host.script(`[ -d ${shQuote(dir)} ] && ls -1A ${shQuote(dir)}; true`);
    return r.stdout.split('\n').filter(Boolean).sort();
  }

  async write(path: string, content: string): Promise<{ backupPath: string | null }> {
    const dir = path.replace(/\/[^/]*$/, '') || '/';
    if (!(await this.host.exists(dir)))
      throw new LaggkitError('remote', 'E_CONF_NO_DIR', `The directory ${this.display(dir)} does not exist`, `Create it first (mkdir -p ${dir}).`);
    let backupPath: string | null = null;
    if (await this.host.exists(path)) {
      backupPath = backupPathFor(path);
      await this.host.run(['cp', '-p', path, backupPath], { check: true });
    }
    await this.host.writeFile(path, content);
    return { backupPath: backupPath === null ? null : this.display(backupPath) };
  }
}

/**
 * Edits staged in memory over another ConfFiles: the plan runs every persist edit through it, in
 * order, so a file several edits touch (rc.conf: cloned_interfaces, ifconfig_laggkit0, the
 * ports' `up`) shows as one unified diff of its final content, not one diff per edit.
 */
export class StagedFiles implements ConfFiles {
  readonly where: string;
  private readonly staged = new Map<string, { before: string | null; after: string }>();
  constructor(private readonly base: ConfFiles) {
    this.where = base.where;
  }

  display(path: string): string {
    return this.base.display(path);
  }

  async read(path: string): Promise<string | null> {
    const s = this.staged.get(path);
    return s ? s.after : this.base.read(path);
  }

  list(dir: string): Promise<string[]> {
    return this.base.list(dir).then((names) => {
      const inDir = [...this.staged.keys()].filter((p) => p.slice(0, p.lastIndexOf('/')) === dir).map((p) => p.slice(p.lastIndexOf('/') + 1));
      return [...new Set([...names, ...inDir])].sort();
    });
  }

  async write(path: string, content: string): Promise<{ backupPath: string | null }> {
    const before = this.staged.has(path) ? (this.staged.get(path) as { before: string | null }).before : await this.base.read(path);
    this.staged.set(path, { before, after: content });
    return { backupPath: null };
  }

  /** Each staged file that differs from what is on the host, as one unified diff. */
  diffs(): { path: string; diff: string }[] {
    return [...this.staged]
      .filter(([, s]) => s.after !== s.before)
      .map(([p, s]) => ({ path: this.display(p), diff: createTwoFilesPatch(this.display(p), this.display(p), s.before ?? '', s.after, 'current', 'laggkit') }));
  }
}
