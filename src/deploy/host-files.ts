/**
 * The conf editors' file interface (src/conf ConfFiles) over a RemoteHost, so deploy's persist
 * step and undeploy edit loader.conf, rc.conf, laggd.conf and NetBSD's files with the same
 * lossless editors as `laggkit conf`, as root directly or through --become.
 */
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
    if (!(await this.host.exists(dir))) throw new LaggkitError('remote', 'E_CONF_NO_DIR', `The directory ${this.display(dir)} does not exist`, `Create it first (mkdir -p ${dir}).`);
    let backupPath: string | null = null;
    if (await this.host.exists(path)) {
      backupPath = backupPathFor(path);
      await this.host.run(['cp', '-p', path, backupPath], { check: true });
    }
    await this.host.writeFile(path, content);
    return { backupPath: backupPath === null ? null : this.display(backupPath) };
  }
}
