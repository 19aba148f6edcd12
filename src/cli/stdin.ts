/**
 * Standard input, read once. `laggkit parse` reads all of stdin; when its framework-free path
 * (parse-direct.ts) has read it and then hands the run to oclif, the command must see the same
 * text, not an exhausted stream.
 */
let prefetched: string | undefined;

export async function readStdin(): Promise<string> {
  if (prefetched !== undefined) return prefetched;
  if (process.stdin.isTTY) return (prefetched = '');
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
  prefetched = Buffer.concat(chunks).toString('utf8');
  return prefetched;
}
