/**
 * Flags, arguments and the edit flow shared by `laggkit conf get|set|unset`, kept here so the commands
 * stay a screen each and agree on names and help texts.
 */
import * as Args from '@oclif/core/args';
import * as Flags from '@oclif/core/flags';
import { UsageError } from '../cli/errors.js';
import { hostFlags, hostOptions, type HostFlagValues } from '../cli/host-flags.js';
import { confEdit, validateRequest, type ConfEditResult } from './edit.js';
import { openConfFiles, type WhereOptions } from './open.js';

/** Where the files are: --root DIR here, or --host H (with the shared SSH flags), or both. */
export const whereFlags = {
  ...hostFlags,
  root: Flags.string({ description: 'Edit files under this root directory (/ for this machine, a mounted VM image; with --host, a directory on that host)' }),
};

export const editFlags = {
  ...whereFlags,
  'dry-run': Flags.boolean({ description: 'Show the change as a unified diff; write nothing', default: false }),
  file: Flags.string({
    description: 'loader/rc only: the file to write, e.g. /boot/loader.conf.d/laggkit.conf (default: where the value is set, else loader.conf/rc.conf)',
  }),
  add: Flags.boolean({ description: 'Add VALUE as one element of a list (cloned_interfaces, kld_list; another laggport line)', exclusive: ['remove'] }),
  remove: Flags.boolean({ description: 'Remove the element VALUE from a list (or that one line)', exclusive: ['add'] }),
};

export const kindArg = Args.string({ description: 'loader | rc | modules | ifconfig.IF (e.g. ifconfig.laggkit0)', required: true });
export const keyArg = Args.string({ description: 'variable name (rc/loader), module (modules) or ifconfig keyword (ifconfig.IF)', required: true });
export const valueArg = Args.string({ description: 'value to set (or the list element with --add/--remove)', required: false });

export function whereOf(flags: HostFlagValues & { root?: string | undefined }): WhereOptions {
  if (flags.host === undefined) {
    // The SSH flags mean nothing without a host: refuse them rather than ignore them.
    const stray = (['ssh-config', 'identity', 'become', 'trust-new-host-key'] as const).filter((f) =>
      f === 'trust-new-host-key' ? flags[f] === true : flags[f] !== undefined,
    );
    if (stray.length)
      throw new UsageError(
        'E_USAGE',
        `${stray.map((f) => `--${f}`).join(', ')} only apply with --host`,
        'Add --host HOST, or drop the SSH flags to edit files under --root here.',
      );
  }
  return { ...(flags.host !== undefined ? hostOptions(flags, flags.host) : {}), ...(flags.root !== undefined ? { root: flags.root } : {}) };
}

type EditFlagValues = Parameters<typeof whereOf>[0] & {
  'dry-run': boolean;
  add?: boolean | undefined;
  remove?: boolean | undefined;
  file?: string | undefined;
};

/**
 * The body of `conf set` and `conf unset`: build the request, validate it completely (so a
 * hostile value never opens a connection), open the files, edit, close.
 */
export async function runEdit(
  op: 'set' | 'unset',
  args: { kind: string; key: string; value?: string | undefined },
  flags: EditFlagValues,
): Promise<ConfEditResult> {
  if (op === 'unset' && flags.add)
    throw new UsageError(
      'E_USAGE',
      'conf unset removes: --add means nothing there',
      `To add an element: laggkit conf set ${args.kind} ${args.key} VALUE --add`,
    );
  // For unset, a VALUE always means "remove this element / this line", with or without --remove.
  const list =
    op === 'set' ? (flags.add ? 'add' : flags.remove ? 'remove' : undefined) : flags.remove || flags.add || args.value !== undefined ? 'remove' : undefined;
  const req = {
    kind: args.kind,
    key: args.key,
    ...(args.value !== undefined ? { value: args.value } : {}),
    ...(list !== undefined ? { list: list as 'add' | 'remove' } : {}),
    ...(flags.file !== undefined ? { file: flags.file } : {}),
    dryRun: flags['dry-run'],
  };
  validateRequest(op, req);
  const { files, close } = await openConfFiles(whereOf(flags));
  try {
    return await confEdit(files, op, req);
  } finally {
    await close();
  }
}
