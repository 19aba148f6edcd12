/**
 * `laggkit lab fetch-image ID`: download an official FreeBSD/NetBSD VM image (only when asked)
 * and verify it against the project's published checksums.
 */
import * as Args from '@oclif/core/args';
import * as Flags from '@oclif/core/flags';
import { LaggkitCommand } from '../../cli/base-command.js';
import { fetchImage, imageCatalog, type FetchResult } from '../../lab/images.js';

export default class LabFetchImage extends LaggkitCommand {
  static override summary = 'Download and verify an official FreeBSD or NetBSD VM image';
  static override examples = ['laggkit lab fetch-image --list', 'laggkit lab fetch-image freebsd-14', 'laggkit lab fetch-image netbsd-10 --sha256 <digest>'];
  static override args = { id: Args.string({ description: 'Image id (see --list)', required: false }) };
  static override flags = {
    list: Flags.boolean({ description: 'List the known images and exit', default: false }),
    sha256: Flags.string({ description: 'Pin the expected SHA-256 of the downloaded file instead of reading the checksum file' }),
  };

  protected async execute(): Promise<FetchResult | Array<{ id: string; guest: string; url: string }>> {
    const { args, flags } = await this.parse(LabFetchImage);
    if (flags.list || !args.id) return Object.entries(imageCatalog()).map(([id, e]) => ({ id, guest: e.guest, url: e.url }));
    this.progress(`downloading ${args.id} ...`);
    return fetchImage(args.id, { sha256: flags.sha256 });
  }

  protected override render(result: unknown): void {
    if (Array.isArray(result)) {
      for (const r of result as Array<{ id: string; url: string }>) this.log(`${r.id.padEnd(12)} ${r.url}`);
      return;
    }
    const r = result as FetchResult;
    this.log(
      `${r.downloaded ? 'downloaded' : 'already present'}: ${r.path}${r.digest ? `\nverified with ${r.verifiedWith}: ${r.digest}` : ''}\nuse it: laggkit lab up --guest ${r.id.split('-')[0]} --image ${r.path}`,
    );
  }
}
