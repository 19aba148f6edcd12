/**
 * Backup file naming shared by local and remote writers: FILE.laggkit-YYYYMMDDTHHMMSSZ (UTC),
 * so backups sort by time and are easy to find with a glob.
 */
export function backupPathFor(path: string, when: Date = new Date()): string {
  const stamp = when
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}Z$/, 'Z');
  return `${path}.laggkit-${stamp}`;
}
