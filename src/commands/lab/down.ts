/**
 * `laggkit lab down`: stop every guest and remove everything the lab created (processes,
 * sockets, TAPs, the namespace, the lab folder).
 */
import * as Flags from '@oclif/core/flags';
import { LaggkitCommand } from '../../cli/base-command.js';
import { labNameFlag } from '../../lab/flags.js';
import { labDown, type DownResult } from '../../lab/lab.js';
import { listLabs } from '../../lab/state.js';

export default class LabDown extends LaggkitCommand {
  static override summary = 'Stop the lab and remove everything it created';
  static override examples = ['laggkit lab down', 'laggkit lab down --all'];
  static override flags = {
    name: labNameFlag,
    all: Flags.boolean({ description: 'Every lab on this machine (this user)', default: false }),
  };

  protected async execute(): Promise<DownResult[]> {
    const { flags } = await this.parse(LabDown);
    const names = flags.all ? listLabs() : [flags.name];
    const out: DownResult[] = [];
    for (const n of names) out.push(await labDown(n));
    return out;
  }

  protected override render(result: unknown): void {
    const rs = result as DownResult[];
    if (rs.length === 0) this.log('no lab was running');
    for (const r of rs)
      this.log(`lab ${r.lab}: stopped ${r.stopped.length ? r.stopped.join(', ') : 'nothing (no guest was running)'}; removed ${r.removed.join(', ')}`);
  }
}
