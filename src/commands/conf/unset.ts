/** `laggkit conf unset KIND KEY [VALUE]`: remove every assignment (or one list element / line). */
import { LaggkitCommand } from '../../cli/base-command.js';
import { confEdit, openConfFiles, validateRequest, type ConfEditResult } from '../../conf/index.js';
import { editFlags, keyArg, kindArg, valueArg, whereOf, asUsageError } from '../../conf/command-flags.js';
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
    const { args, flags } = await this.parse(ConfUnset).catch(asUsageError);
    const req = {
      kind: args.kind,
      key: args.key,
      ...(args.value !== undefined ? { value: args.value } : {}),
      ...(flags.remove || flags.add ? { list: 'remove' as const } : {}),
      dryRun: flags['dry-run'],
    };
    validateRequest('unset', req);
    const { files, close } = await openConfFiles(whereOf(flags));
    try {
      return await confEdit(files, 'unset', req);
    } finally {
      await close();
    }
  }

  protected override render(r: ConfEditResult): void {
    renderEdit(r, (s) => this.log(s));
  }
}
