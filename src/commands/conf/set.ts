/** `laggkit conf set KIND KEY VALUE`: set a value (or add/remove a list element) losslessly. */
import { LaggkitCommand } from '../../cli/base-command.js';
import type { ConfEditResult } from '../../conf/index.js';
import { editFlags, keyArg, kindArg, runEdit, valueArg } from '../../conf/command-flags.js';
import { renderEdit } from '../../conf/render.js';

export default class ConfSet extends LaggkitCommand {
  static override summary = 'Set a config value, atomically, with a backup; a second identical call changes nothing';
  static override examples = [
    '<%= config.bin %> conf set loader if_laggkit_load YES --root /',
    '<%= config.bin %> conf set rc cloned_interfaces laggkit0 --add --host admin@fbsd1',
    '<%= config.bin %> conf set rc ifconfig_laggkit0 "laggproto lacp laggport vtnet1 laggport vtnet2 up" --root / --dry-run',
    '<%= config.bin %> conf set ifconfig.laggkit0 laggport wm1 --add --root /',
  ];
  static override args = { kind: kindArg, key: keyArg, value: valueArg };
  static override flags = { ...editFlags };

  protected async execute(): Promise<ConfEditResult> {
    const { args, flags } = await this.parse(ConfSet);
    return runEdit('set', args, flags);
  }

  protected override render(r: ConfEditResult): void {
    renderEdit(r, (s) => this.log(s));
  }
}
