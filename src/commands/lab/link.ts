/**
 * `laggkit lab link VM NIC up|down`: pull or plug a lab cable (QMP set_link). Both ends lose
 * carrier unless --one-side; the guest sees it at once on virtio, within the e1000 driver's
 * 2-second watchdog on Linux e1000.
 */
import * as Args from '@oclif/core/args';
import * as Flags from '@oclif/core/flags';
import { LaggkitCommand } from '../../cli/base-command.js';
import { labNameFlag } from '../../lab/flags.js';
import { labLink, type LinkResult } from '../../lab/lab.js';

export default class LabLink extends LaggkitCommand {
  static override summary = 'Set a lab link down or up (carrier seen by the guest)';
  static override examples = ['laggkit lab link A em0 down', 'laggkit lab link A em0 up', 'laggkit lab link B vtnet1 down --one-side'];
  static override args = {
    vm: Args.string({ description: 'Guest name (A or B)', required: true }),
    nic: Args.string({ description: 'Data NIC as the guest names it (vtnet0, em1, ...)', required: true }),
    state: Args.string({ description: 'Carrier state', options: ['up', 'down'], required: true }),
  };
  static override flags = {
    name: labNameFlag,
    'one-side': Flags.boolean({ description: "Change only this guest's NIC, not the far end of the link", default: false }),
  };

  protected async execute(): Promise<LinkResult> {
    const { args, flags } = await this.parse(LabLink);
    return labLink(flags.name, args.vm, args.nic, args.state as 'up' | 'down', flags['one-side']);
  }

  protected override render(result: unknown): void {
    const r = result as LinkResult;
    this.log(`link ${r.vm}:${r.nic} ${r.state} (carrier changed on ${r.changed.join(', ')})`);
  }
}
