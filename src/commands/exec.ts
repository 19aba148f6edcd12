/**
 * `laggkit exec --host H -- ARGV...`: run one command on a host over the verified SSH layer.
 * The argv is quoted for the remote sh by the one quoting function, so what you type after `--`
 * is exactly what the remote program receives, whatever characters it contains. Like ssh, it
 * passes stdin through (unless stdin is a terminal) and streams the output as it comes, so it
 * can stand where a script would call ssh; with --json the output is collected instead.
 */
import * as Args from '@oclif/core/args';
import * as Flags from '@oclif/core/flags';
import { LaggkitCommand } from '../cli/base-command.js';
import { UsageError } from '../cli/errors.js';
import { hostFlags, hostOptions } from '../cli/host-flags.js';
import { quoteArgv, RemoteCommandError } from '../ssh/index.js';
import { openHost } from '../targets/host.js';
import { validateInt } from '../validate/index.js';

interface ExecOutput {
  host: string;
  argv: string[];
  command: string;
  code: number | null;
  stdout: string;
  stderr: string;
}

export default class Exec extends LaggkitCommand {
  static override summary = 'Run one command on a host over SSH (host key verified, argv quoted safely)';
  static override description =
    'stdin is passed to the command (unless it is a terminal) and its output is printed as it arrives; with --json both are collected into the result. A command that exits non-zero makes laggkit exit 5.';
  static override examples = [
    '<%= config.bin %> exec --host admin@fbsd1 -- ifconfig laggkit0',
    '<%= config.bin %> exec --host fbsd1 --timeout 10 --json -- sysctl net.link.lagg',
    'printf "laggproto lacp\\n" | <%= config.bin %> exec --host admin@fbsd1 --become sudo -- tee /etc/ifconfig.laggkit0',
  ];
  static override strict = false;
  static override args = { argv: Args.string({ description: 'the remote program and its arguments (after --)', required: false }) };
  static override flags = {
    ...hostFlags,
    timeout: Flags.string({ description: 'Kill the remote command after this many seconds' }),
  };

  protected async execute(): Promise<ExecOutput | undefined> {
    const { argv, flags } = await this.parse(Exec);
    const words = (argv as string[]).filter((a, i) => !(i === 0 && a === '--'));
    if (!flags.host) throw new UsageError('E_USAGE', 'Give --host HOST', 'Example: laggkit exec --host fbsd1 -- ifconfig -a');
    if (words.length === 0) throw new UsageError('E_USAGE', 'No command given after --', 'Example: laggkit exec --host fbsd1 -- ifconfig -a');
    const timeoutMs = flags.timeout === undefined ? 0 : validateInt(flags.timeout, 1, 86_400, '--timeout') * 1000;
    const host = await openHost(hostOptions(flags, flags.host));
    const stdin = process.stdin.isTTY ? undefined : process.stdin;
    const stream = !this.jsonMode;
    try {
      const r = await host.run(words, {
        timeoutMs,
        ...(stdin ? { stdin } : {}),
        ...(stream ? { onStdout: (d: Buffer) => process.stdout.write(d), onStderr: (d: Buffer) => process.stderr.write(d) } : {}),
      });
      const out = { host: flags.host, argv: words, command: quoteArgv(words), code: r.code, stdout: r.stdout, stderr: r.stderr };
      if (r.code !== 0) {
        // Streamed stderr has been shown already; the message then only says how it ended.
        const shownErr = !stream && r.stderr.trim() ? `: ${r.stderr.trim()}` : '';
        throw new RemoteCommandError(
          'E_REMOTE_COMMAND',
          `${out.command} on ${flags.host} exited with ${r.code === null ? `signal ${r.signal}` : `status ${r.code}`}${shownErr}`,
          out.command,
          r.code,
          r.stderr,
        );
      }
      return stream ? undefined : out;
    } finally {
      // The remote side is done: stop reading our stdin, or an open pipe would keep us alive.
      stdin?.destroy();
      await host.close();
    }
  }

  protected override render(): void {
    // The output was streamed as it arrived.
  }
}
