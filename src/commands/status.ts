/**
 * `laggkit status`: the module (version, build id), the running aggregates with their ports and
 * LACP state, what the last deploy persisted against what runs, and the rollback guard's log.
 */
import { LaggkitCommand } from '../cli/base-command.js';
import { UsageError } from '../cli/errors.js';
import { hostFlags, hostOptions } from '../cli/host-flags.js';
import { status, type StatusResult } from '../deploy/undeploy.js';
import { adapterFor, openHost } from '../targets/index.js';

export default class Status extends LaggkitCommand {
  static override summary = 'Show laggkit on a host: module, aggregates, ports, persisted vs running, guard log';
  static override examples = ['<%= config.bin %> status --host fbsd1', '<%= config.bin %> status --ssh-config lab.ssh_config --host A --json'];
  static override flags = { ...hostFlags };

  protected async execute(): Promise<StatusResult> {
    const { flags } = await this.parse(Status);
    if (!flags.host) throw new UsageError('E_USAGE', 'Give --host HOST');
    const host = await openHost(hostOptions(flags, flags.host));
    try {
      return await status(host, await adapterFor(host));
    } finally {
      await host.close().catch(() => {});
    }
  }

  protected override render(r: StatusResult): void {
    const m = r.module;
    this.log(`${r.host}: ${r.uname}`);
    this.log(
      `module: ${m.loaded ? 'loaded' : 'not loaded'}${m.version ? ` ${m.version}` : ''}${m.buildId ? ` build ${m.buildId}` : ''}; installed ${m.installedBuildId ? `build ${m.installedBuildId}` : 'no'} (${m.installedPath})`,
    );
    for (const a of r.aggregates) this.log(a.text.trimEnd());
    if (r.deployed) {
      this.log(`deployed: first ${r.deployed.firstDeployAt}, last ${r.deployed.lastDeployAt}, build ${r.deployed.buildId}`);
      for (const d of r.deployed.running)
        this.log(`  ${d.name}: ${d.differences.length ? `differs from the deploy: ${d.differences.join('; ')}` : 'running as deployed'}`);
      for (const p of r.deployed.persisted)
        this.log(`  ${p.kind} ${p.key}: ${p.inPlace ? 'persisted' : `changed since deploy (now ${JSON.stringify(p.current)})`}`);
    } else this.log('deployed: no (no deploy record on the host)');
    this.log(`guard: ${r.guard.state}${r.guard.reason ? ` (${r.guard.reason})` : ''}`);
    for (const l of r.guard.log.slice(-8)) this.log(`  ${l}`);
  }
}
