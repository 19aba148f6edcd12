/**
 * `laggkit lab console VM`: attach this terminal to the guest's serial console.
 */
import * as Args from '@oclif/core/args';
import { LaggkitCommand } from '../../cli/base-command.js';
import { attachConsole } from '../../lab/console.js';
import { labNameFlag } from '../../lab/flags.js';
import { findVm, requireState } from '../../lab/state.js';

export default class LabConsole extends LaggkitCommand {
  static override summary = "Attach to a guest's serial console (Ctrl-] detaches)";
  static override examples = ['laggkit lab console A'];
  static override args = { vm: Args.string({ description: 'Guest name (A or B)', required: true }) };
  static override flags = { name: labNameFlag };

  protected async execute(): Promise<{ vm: string; consoleSocket: string; consoleLog: string }> {
    const { args, flags } = await this.parse(LabConsole);
    const vm = findVm(requireState(flags.name), args.vm);
    // --json cannot carry an interactive session: it reports where the console is instead.
    if (!this.jsonMode) await attachConsole(vm.consoleSocket);
    return { vm: vm.name, consoleSocket: vm.consoleSocket, consoleLog: vm.consoleLog };
  }

  protected override render(): void {}
}
