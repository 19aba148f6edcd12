/** `laggkit conf set KIND KEY VALUE`: set a value (or add/remove a list element) losslessly. */
import { LaggkitCommand } from '../../cli/base-command.js';
import { confEdit, openConfFiles, validateRequest, type ConfEditResult } from '../../conf/index.js';
import { editFlags, keyArg, kindArg, valueArg, whereOf, asUsageError } from '../../conf/command-flags.js';
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
    const { args, flags } = await this.parse(ConfSet).catch(asUsageError);
    const req = {
      kind: args.kind,
      key: args.key,
      ...(args.value !== undefined ? { value: args.value } : {}),
      ...(flags.add ? { list: 'add' as const } : flags.remove ? { list: 'remove' as const } : {}),
      dryRun: flags['dry-run'],
    };
    validateRequest('set', req);
    const { files, close } = await openConfFiles(whereOf(flags));
    try {
      return await confEdit(files, 'set', req);
    } finally {
      await close();
    }
  }

  protected override render(r: ConfEditResult): void {
    renderEdit(r, (s) => this.log(s));
  }
}
