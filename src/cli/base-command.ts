/**
 * The one base class for every laggkit command. It owns the output contract so that commands
 * stay thin (parse flags, call a service, render):
 *
 *   --json      stdout carries exactly one JSON document: {ok:true,result} or
 *               {ok:false,error:{code,message,suggestion}}; nothing else is written to stdout.
 *   human mode  rendered text on stdout, diagnostics on stderr.
 *   exit codes  from the error's class (EXIT_CODES), stable and documented.
 *   colour      none of our own; oclif's help colours only a terminal, never with NO_COLOR.
 */
import { Command } from '@oclif/core/command';
import * as Flags from '@oclif/core/flags';
import type { Interfaces } from '@oclif/core';
import { CHOICE_CODE } from './choice-flag.js';
import { EXIT_CODES, LaggkitError, UsageError, toLaggkitError } from './errors.js';

// oclif's parse() bounds; the same shapes as its parser's FlagOutput/ArgOutput (not exported).
// biome-ignore lint/suspicious/noExplicitAny: oclif's own bound, copied as it is.
type FlagOutput = { [name: string]: any };
// biome-ignore lint/suspicious/noExplicitAny: oclif's own bound, copied as it is.
type ArgOutput = { [name: string]: any };

/** Arguments after a bare `--` belong to a remote command (laggkit exec -- ... --json), not to us. */
function ownArgs(argv: string[]): string[] {
  const end = argv.indexOf('--');
  return end === -1 ? argv : argv.slice(0, end);
}

export abstract class LaggkitCommand extends Command {
  static override baseFlags = {
    json: Flags.boolean({ description: 'Print one JSON document {ok, result | error} on stdout', default: false }),
  };

  /** Set from --json before run() is called by subclasses via parseArgs(). */
  protected jsonMode = false;

  /** Subclasses implement execute(); its return value is the JSON result. */
  protected abstract execute(): Promise<unknown>;

  /** Subclasses render their result for humans; the default prints it as indented JSON. */
  protected render(result: unknown): void {
    if (result !== undefined) this.log(JSON.stringify(result, null, 2));
  }

  async run(): Promise<void> {
    this.jsonMode = ownArgs(this.argv).includes('--json');
    let result: unknown;
    try {
      result = await this.execute();
    } catch (err) {
      this.fail(toLaggkitError(err));
    }
    if (this.jsonMode) {
      process.stdout.write(JSON.stringify({ ok: true, result: result ?? null }) + '\n');
    } else {
      this.render(result);
    }
  }

  /** Report an error per the output contract and exit with its stable code. */
  protected fail(err: LaggkitError): never {
    if (this.jsonMode) {
      process.stdout.write(
        JSON.stringify({ ok: false, error: err.toJSON(), ...(err.partialResult !== undefined ? { result: err.partialResult } : {}) }) + '\n',
      );
    } else {
      process.stderr.write(`laggkit: ${err.message}\n`);
      if (err.suggestion) process.stderr.write(`  hint: ${err.suggestion}\n`);
    }
    this.exit(err.exitCode);
  }

  /**
   * Flag and argument parsing, as oclif does it, except that a bad flag, a missing argument or a
   * failed option check becomes a UsageError (exit 2) instead of escaping execute() as an
   * internal error (exit 1).
   */
  protected override async parse<F extends FlagOutput, B extends FlagOutput, A extends ArgOutput>(
    options?: Interfaces.Input<F, B, A>,
    argv?: string[],
  ): Promise<Interfaces.ParserOutput<F, B, A>> {
    try {
      return await super.parse(options, argv);
    } catch (err) {
      if (err instanceof Error && !(err instanceof LaggkitError)) {
        const choice = /^Expected --([\w-]+)=(.*) to be one of: (.*)$/m.exec(err.message);
        const flag = choice ? (options?.flags?.[choice[1] as string] as { [CHOICE_CODE]?: string } | undefined) : undefined;
        if (choice && flag?.[CHOICE_CODE]) {
          const [, name, value, allowed] = choice;
          throw new UsageError(
            flag[CHOICE_CODE],
            `--${name} '${value}' is not one of ${allowed}`,
            `Use --${name} ${(allowed as string).split(', ').join(' | ')}.`,
          );
        }
        const message = err.message.replace(/\s*See more help with --help\s*$/, '').replace(/\s*\n\s*/g, ' ');
        throw new UsageError('E_USAGE', message, 'See --help for the accepted flags and arguments.');
      }
      throw err;
    }
  }

  /** oclif's own flag/arg parse failures become usage errors with the documented exit code. */
  protected override async catch(err: Error & { exitCode?: number; oclif?: { exit?: number } }): Promise<unknown> {
    if (err.oclif?.exit !== undefined && !(err instanceof LaggkitError)) {
      // this.exit() throws an ExitError carrying oclif.exit: let it through untouched.
      if (err.message.startsWith('EEXIT')) throw err;
      const usage = new LaggkitError('usage', 'E_USAGE', err.message, 'See --help for the accepted flags and arguments.');
      if (this.jsonMode || ownArgs(this.argv).includes('--json')) {
        process.stdout.write(JSON.stringify({ ok: false, error: usage.toJSON() }) + '\n');
        process.exitCode = EXIT_CODES.usage;
        return;
      }
      process.stderr.write(`laggkit: ${usage.message}\n  hint: ${usage.suggestion}\n`);
      process.exitCode = EXIT_CODES.usage;
      return;
    }
    throw err;
  }

  /** Spinners and progress only on an interactive terminal; never in --json or CI logs. */
  protected progress(message: string): void {
    if (!this.jsonMode && process.stderr.isTTY === true) process.stderr.write(`${message}\n`);
  }
}
