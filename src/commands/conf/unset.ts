/** `laggkit conf unset KIND KEY [VALUE]`: remove every assignment (or one list element / line). */
import { LaggkitCommand } from '../../cli/base-command.js';
import type { ConfEditResult } from '../../conf/index.js';
import { editFlags, keyArg, kindArg, runEdit, valueArg } from '../../conf/command-flags.js';
import { renderEdit } from '../../conf/render.js';

export default class ConfUnset extends LaggkitCommand {
  static override summary = 'Remove a config variable (every assignment), a list element, or ifconfig.IF/modules lines';
  static override examples = [
    '<%= config.bin %> conf unset loader if_laggkit_load --root /',
    '<%= config.bin %> conf unset rc cloned_interfaces laggkit0 --remove --host admin@fbsd1',
    '<%= config.bin %> conf unset ifconfig.laggkit0 laggport wm1 --root /',
  ];
  static override args = { kind: kindArg, key: keyArg, value: valueArg };
  static override flags = { ...editFlags };

  protected async execute(): Promise<ConfEditResult> {
    const { args, flags } = await this.parse(ConfUnset);
    return runEdit('unset', args, flags);
  }

  protected override render(r: ConfEditResult): void {
    renderEdit(r, (s) => this.log(s));
  }
}
