/**
 * `laggkit lab ssh VM [-- COMMAND...]`: log in to a guest (host key verified against the
 * lab's known_hosts). With --json a command is required; its output comes back as JSON.
 * One word after the name is a shell command line, several are quoted words (commandLineOf).
 */
import * as Args from '@oclif/core/args';
import { LaggkitCommand } from '../../cli/base-command.js';
import { UsageError } from '../../cli/errors.js';
import { labNameFlag } from '../../lab/flags.js';
import { guestScript, interactiveSsh } from '../../lab/guest-ssh.js';
import { commandLineOf } from '../../ssh/index.js';
import { findVm, requireState } from '../../lab/state.js';

/**
 * The remote command: everything after a bare `--` verbatim (a `--json` there is the remote
 * program's), else the words after the VM name less laggkit's own --json.
 */
function remoteCommand(raw: string[], parsed: string[]): string[] {
  const sep = raw.indexOf('--');
  if (sep !== -1) return raw.slice(sep + 1);
  return parsed.slice(1).filter((a) => a !== '--json');
}

export default class LabSsh extends LaggkitCommand {
  static override summary = 'SSH into a lab guest';
  static override strict = false;
  static override description =
    "After the guest name, ONE argument is a shell command line run as written (pipes, redirections: `-- 'dmesg | tail'`), as with ssh; SEVERAL arguments are a command and its arguments, each passed as one word (`-- touch 'a b'` makes one file).";
  static override examples = [
    'laggkit lab ssh A',
    'laggkit lab ssh B -- ip link',
    "laggkit lab ssh B -- 'dmesg | tail -5'",
    'laggkit lab ssh A --json -- cat /sys/class/net/em0/carrier',
  ];
  static override args = { vm: Args.string({ description: 'Guest name (A or B)', required: true }) };
  static override flags = { name: labNameFlag };

  protected async execute(): Promise<unknown> {
    const { args, flags, argv } = await this.parse(LabSsh);
    const command = remoteCommand(this.argv, argv as string[]);
    const s = requireState(flags.name);
    const vm = findVm(s, args.vm);
    if (this.jsonMode) {
      if (command.length === 0) throw new UsageError('E_LAB_SSH_JSON', '--json needs a command to run', 'Example: laggkit lab ssh A --json -- uname -a');
      const r = await guestScript(s, vm.name, commandLineOf(command));
      return { vm: vm.name, command, code: r.code, stdout: r.stdout, stderr: r.stderr };
    }
    const code = await interactiveSsh(s, vm, command);
    if (code !== 0) process.exitCode = code;
    return undefined;
  }

  protected override render(): void {}
}
