/**
 * `laggkit parse`: read ifconfig / ifconfig -v / laggctl output on stdin and print the typed
 * model (--json) or a compact table of interfaces and lagg ports.
 */
import { LaggkitCommand } from '../cli/base-command.js';
import { choiceFlag } from '../cli/choice-flag.js';
import { ParseError } from '../cli/errors.js';
import { readStdin } from '../cli/stdin.js';
import { OS_OPTIONS, formatTable, parseIfconfig, type IfconfigModel, type OsOption } from '../ifconfig/index.js';

export default class Parse extends LaggkitCommand {
  static override summary = 'Parse ifconfig, ifconfig -v or laggctl output from stdin into a typed model';
  static override description =
    'Understands FreeBSD 7.x to 15 and NetBSD 10 ifconfig (including the lagg block, -v LACP state), INtime and laggctl output. Lines it does not understand are kept in the model as unknown, with their line numbers.';
  static override examples = [
    'ifconfig -v lagg0 | laggkit parse',
    'ssh host ifconfig -v | laggkit parse --os freebsd --json',
    'laggkit parse --os netbsd --json < ifconfig-netbsd.txt',
  ];
  static override flags = {
    os: choiceFlag({ options: OS_OPTIONS, description: 'ifconfig dialect (auto: detect it)', default: 'auto', code: 'E_USAGE_OS' }),
  };

  protected async execute(): Promise<IfconfigModel> {
    const { flags } = await this.parse(Parse);
    const text = await readStdin();
    if (text.trim() === '') {
      throw new ParseError(
        'E_IFCONFIG_EMPTY',
        'no ifconfig output on stdin (it was empty)',
        undefined,
        'Pipe ifconfig output in, e.g. `ifconfig -v | laggkit parse`.',
      );
    }
    return parseIfconfig(text, { os: flags.os as OsOption });
  }

  protected override render(result: unknown): void {
    this.log(formatTable(result as IfconfigModel));
  }
}
