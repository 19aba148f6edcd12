/**
 * `laggkit conf get KIND KEY`: the effective value of a config variable and the file:line that
 * sets it. An unset key exits 9 (E_CONF_NOT_SET), so scripts can tell "unset" from "failed".
 */
import { LaggkitCommand } from '../../cli/base-command.js';
import { LaggkitError } from '../../cli/errors.js';
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
      const r = await confGet(files, args.kind, args.key);
      if (r.value === null) {
        const err = new LaggkitError(
          'notSet',
          'E_CONF_NOT_SET',
          `${r.key} is not set in ${r.kind} (${r.where})`,
          `laggkit conf set ${r.kind} ${r.key} VALUE sets it.`,
        );
        err.partialResult = r;
        throw err;
      }
      return r;
    } finally {
      await close();
    }
  }

  /** The value (each line of it for ifconfig.IF/modules), then where it is set. */
  protected override render(r: ConfValue): void {
    for (const v of r.values) this.log(v);
    this.log(`# set at ${r.origins.map((o) => `${o.path}:${o.line}`).join(', ')}`);
  }
}
