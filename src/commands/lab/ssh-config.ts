/**
 * `laggkit lab ssh-config [--name LAB]`: print an ssh_config for the lab's guests (Host A, Host B),
 * as `vagrant ssh-config` does, for `ssh -F FILE A` and `laggkit deploy --ssh-config FILE --host A`.
 */
import { LaggkitCommand } from '../../cli/base-command.js';
import { labNameFlag } from '../../lab/flags.js';
import { labSshConfig } from '../../lab/ssh-config.js';
import { requireState } from '../../lab/state.js';

export default class LabSshConfig extends LaggkitCommand {
  static override summary = "Print an ssh_config for the lab's guests (like vagrant ssh-config)";
  static override examples = [
    'laggkit lab ssh-config > lab.ssh_config && ssh -F lab.ssh_config A uname -a',
    'laggkit deploy --ssh-config lab.ssh_config --host A --laggproto lacp --laggport vtnet0 --laggport em0',
  ];
  static override flags = { name: labNameFlag };

  protected async execute(): Promise<{ lab: string; config: string; hosts: string[] }> {
    const { flags } = await this.parse(LabSshConfig);
    const s = requireState(flags.name);
    return { lab: s.name, config: labSshConfig(s), hosts: s.vms.map((v) => v.name) };
  }

  protected override render(r: { config: string }): void {
    process.stdout.write(r.config);
  }
}
