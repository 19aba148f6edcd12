/**
 * `laggkit lab up`: start two guests (or a guest and a namespace peer) joined back to back by
 * one link per listed NIC, and print how to reach them.
 */
import * as Flags from '@oclif/core/flags';
import { LaggkitCommand } from '../../cli/base-command.js';
import { choiceFlag } from '../../cli/choice-flag.js';
import { ACCEL_OPTIONS } from '../../lab/accel.js';
import { labNameFlag } from '../../lab/flags.js';
import { labStatus, labUp, type LabStatus } from '../../lab/lab.js';
import { GUESTS, parseNicList } from '../../lab/machines.js';
import { renderStatus } from '../../lab/render.js';

export default class LabUp extends LaggkitCommand {
  static override summary = 'Start lab guests joined by virtio and e1000 links';
  static override description =
    "Two guests (or one guest and a network namespace, --peer netns) joined back to back: one link per NIC in --nics, each NIC of that model, plus a management NIC with SSH forwarded to 127.0.0.1. The Linux guest is built from this machine's Debian packages; FreeBSD and NetBSD guests boot from --image. The accelerator (KVM, HVF or TCG) is chosen by a probe and printed, with each guest's boot-to-SSH time.";
  static override examples = [
    'laggkit lab up',
    'laggkit lab up --nics virtio,e1000 --name small',
    'laggkit lab up --guest freebsd --image ~/.cache/laggkit/images/freebsd-14/FreeBSD-14.3-RELEASE-amd64-BASIC-CLOUDINIT-ufs.qcow2',
    'sudo laggkit lab up --peer netns',
  ];
  static override flags = {
    name: labNameFlag,
    guest: choiceFlag({ options: GUESTS, description: 'Guest OS', default: 'linux', code: 'E_LAB_GUEST' }),
    image: Flags.string({ description: 'Disk image for freebsd/netbsd guests (qcow2 or raw)' }),
    nics: Flags.string({ description: 'Data NIC models, one link each (comma-separated virtio/e1000)' }),
    peer: choiceFlag({
      options: ['vm', 'netns'],
      description: 'Far end of the links: vm (a second guest) or netns (TAPs in a namespace; root)',
      default: 'vm',
      code: 'E_LAB_PEER',
    }),
    accel: choiceFlag({ options: ACCEL_OPTIONS, description: 'Accelerator (auto: probe)', default: 'auto', code: 'E_LAB_ACCEL' }),
    timeout: Flags.integer({ description: 'Seconds to wait for each guest to answer SSH' }),
  };

  protected async execute(): Promise<LabStatus> {
    const { flags } = await this.parse(LabUp);
    const state = await labUp({
      name: flags.name,
      guest: flags.guest,
      image: flags.image,
      nics: flags.nics === undefined ? undefined : parseNicList(flags.nics),
      peer: flags.peer,
      accel: flags.accel,
      timeoutSec: flags.timeout,
      onProgress: this.jsonMode ? undefined : (line) => process.stderr.write(`${line}\n`),
    });
    return labStatus(state.name);
  }

  protected override render(result: unknown): void {
    this.log(renderStatus(result as LabStatus));
  }
}
