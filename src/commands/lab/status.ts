/**
 * `laggkit lab status`: the lab's guests, their SSH endpoints, boot times and link states.
 */
import { LaggkitCommand } from '../../cli/base-command.js';
import { labNameFlag } from '../../lab/flags.js';
import { labStatus, type LabStatus } from '../../lab/lab.js';
import { renderStatus } from '../../lab/render.js';

export default class LabStatusCmd extends LaggkitCommand {
  static override summary = 'Show the lab: guests, SSH ports, boot times, links and their state';
  static override examples = ['laggkit lab status', 'laggkit lab status --json'];
  static override flags = { name: labNameFlag };

  protected async execute(): Promise<LabStatus> {
    const { flags } = await this.parse(LabStatusCmd);
    return labStatus(flags.name);
  }

  protected override render(result: unknown): void {
    this.log(renderStatus(result as LabStatus));
  }
}
