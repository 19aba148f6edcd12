/**
 * `laggkit parse` without the CLI framework. parse is the filter people put after ifconfig in
 * pipelines and loops (`ssh h ifconfig -v | laggkit parse --json`), so its start-up is most of
 * its cost; loading oclif alone takes longer than starting node. This path loads only the
 * ifconfig parser.
 *
 * It runs only the plain successful case: `parse` with --json and --os (a listed value), output
 * written exactly as LaggkitCommand writes it. Anything else (--help, an unknown flag, a bad
 * value, empty input, input the parser rejects) goes to the oclif command, which gives the
 * documented errors and exit codes; stdin already read is handed over through stdin.ts.
 */
import { OS_OPTIONS, formatTable, parseIfconfig, type IfconfigModel, type OsOption } from '../ifconfig/index.js';
import { readStdin } from './stdin.js';

/** The flags of a plain `parse` run, or undefined when oclif must look at the command line. */
function plainFlags(args: string[]): { json: boolean; os: OsOption } | undefined {
  let json = false;
  let os: string = 'auto';
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    if (arg === '--json') json = true;
    else if (arg === '--os' && i + 1 < args.length) os = args[++i] as string;
    else if (arg.startsWith('--os=')) os = arg.slice('--os='.length);
    else return undefined;
  }
  return (OS_OPTIONS as readonly string[]).includes(os) ? { json, os: os as OsOption } : undefined;
}

/** Runs `laggkit parse ARGS` if it is the plain case; false when the oclif command must run it. */
export async function parseDirect(args: string[]): Promise<boolean> {
  const flags = plainFlags(args);
  if (!flags) return false;
  const text = await readStdin();
  if (text.trim() === '') return false;
  let model: IfconfigModel;
  try {
    model = parseIfconfig(text, { os: flags.os });
  } catch {
    return false;
  }
  process.stdout.write(flags.json ? `${JSON.stringify({ ok: true, result: model })}\n` : `${formatTable(model)}\n`);
  return true;
}
