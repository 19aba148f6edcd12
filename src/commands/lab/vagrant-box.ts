/**
 * `laggkit lab vagrant-box`: pack the lab's Linux guest as a local Vagrant box (libvirt
 * provider) and add it to Vagrant, for the Vagrantfile's linux-lab machines. Nothing is
 * downloaded: the box is made from this machine's Debian kernel, busybox and dropbear.
 */
import * as Flags from '@oclif/core/flags';
import { LaggkitCommand } from '../../cli/base-command.js';
import { UsageError } from '../../cli/errors.js';
import { parseAccel } from '../../lab/accel.js';
import { DEFAULT_BOX_NAME, packVagrantBox, type VagrantBoxResult } from '../../lab/vagrant-box.js';

export default class LabVagrantBox extends LaggkitCommand {
  static override summary = "Pack the lab's Linux guest as a local Vagrant box (libvirt) and add it";
  static override examples = ['laggkit lab vagrant-box && vagrant up linux-lab-a linux-lab-b', 'laggkit lab vagrant-box --no-add --output linux-lab.box'];
  static override flags = {
    name: Flags.string({ description: 'Name the box is added under', default: DEFAULT_BOX_NAME }),
    output: Flags.string({ description: 'The .box file to write (default: in the laggkit cache)' }),
    add: Flags.boolean({ description: 'Add the box to Vagrant (vagrant box add --force)', default: true, allowNo: true }),
    accel: Flags.string({ description: 'Accelerator the box is made for: auto (probe), kvm or tcg', default: 'auto' }),
  };

  protected async execute(): Promise<VagrantBoxResult> {
    const { flags } = await this.parse(LabVagrantBox);
    const accel = parseAccel(flags.accel);
    if (accel === 'hvf') throw new UsageError('E_LAB_ACCEL', 'a libvirt box runs under kvm or tcg, not hvf', 'Use --accel kvm, tcg or auto.');
    this.progress(`packing ${flags.name} ...`);
    return packVagrantBox({ name: flags.name, output: flags.output, add: flags.add, accel });
  }

  protected override render(result: unknown): void {
    const r = result as VagrantBoxResult;
    this.log(`${r.file} (${(r.bytes / 2 ** 20).toFixed(1)} MiB): kernel ${r.kernelVersion}, libvirt domain type ${r.driver} (${r.accelReason})`);
    this.log(
      r.added
        ? `added to Vagrant as ${r.name}; bring the pair up with: vagrant up linux-lab-a linux-lab-b`
        : `add it with: vagrant box add --name ${r.name} ${r.file}`,
    );
  }
}
