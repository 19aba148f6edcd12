/**
 * `laggkit undeploy`: put a host back as it was before the first deploy (the host's deploy record
 * says what deploy changed; config lines it did not write stay).
 */
import { LaggkitCommand } from '../cli/base-command.js';
import { UsageError } from '../cli/errors.js';
import { hostFlags, hostOptions } from '../cli/host-flags.js';
import { undeploy, type UndeployResult } from '../deploy/undeploy.js';
import { adapterFor, openHost } from '../targets/index.js';

export default class Undeploy extends LaggkitCommand {
  static override summary = 'Undo every deploy on a host: aggregates, ports, module, config edits, installed files';
  static override examples = ['<%= config.bin %> undeploy --host fbsd1', '<%= config.bin %> undeploy --ssh-config lab.ssh_config --host A --json'];
  static override flags = { ...hostFlags };

  protected async execute(): Promise<UndeployResult> {
    const { flags } = await this.parse(Undeploy);
    if (!flags.host) throw new UsageError('E_USAGE', 'Give --host HOST');
    const host = await openHost(hostOptions(flags, flags.host));
    try {
      return await undeploy(host, await adapterFor(host), (l) => this.progress(`  ${l}`));
    } finally {
      await host.close().catch(() => {});
    }
  }

  protected override render(r: UndeployResult): void {
    if (!r.changed) {
      this.log(`${r.host}: nothing deployed there (no deploy record)`);
      return;
    }
    this.log(`${r.host}: destroyed ${r.destroyed.join(', ') || 'nothing'}`);
    for (const f of r.files) this.log(`  restored ${f}`);
    for (const f of r.removed) this.log(`  removed ${f}`);
    for (const f of r.restored) this.log(`  put back ${f}`);
  }
}
