/** `laggkit conf get KIND KEY`: the effective value of a config variable and where it is set. */
import { LaggkitCommand } from '../../cli/base-command.js';
import { confGet, confKind, openConfFiles, type ConfValue } from '../../conf/index.js';
import { keyArg, kindArg, whereFlags, whereOf } from '../../conf/command-flags.js';

export default class ConfGet extends LaggkitCommand {
  static override summary = 'Show the effective value of a loader.conf/rc.conf variable, ifconfig.IF keyword or module';
  static override examples = [
    '<%= config.bin %> conf get rc cloned_interfaces --root /',
    '<%= config.bin %> conf get loader if_laggkit_load --host admin@fbsd1',
    '<%= config.bin %> conf get ifconfig.laggkit0 laggport --root /mnt/netbsd --json',
  ];
  static override args = { kind: kindArg, key: keyArg };
  static override flags = { ...whereFlags };

  protected async execute(): Promise<ConfValue> {
    const { args, flags } = await this.parse(ConfGet);
    confKind(args.kind).validateKey(args.key);
    const { files, close } = await openConfFiles(whereOf(flags));
    try {
      return await confGet(files, args.kind, args.key);
    } finally {
      await close();
    }
  }

  protected override render(r: ConfValue): void {
    if (r.value === null) {
      process.stderr.write(`${r.key} is not set in ${r.kind} (${r.where})\n`);
      return;
    }
    for (const v of r.values) this.log(v);
  }
}
