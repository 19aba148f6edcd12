/**
 * `laggkit exec --host H -- ARGV...`: run one command on a host over the verified SSH layer.
 * The argv is quoted for the remote sh by the one quoting function, so what you type after `--`
 * is exactly what the remote program receives, whatever characters it contains.
 */
import { Args, Flags } from '@oclif/core';
import { LaggkitCommand } from '../cli/base-command.js';
import { UsageError } from '../cli/errors.js';
import { connectHost, quoteArgv, RemoteCommandError } from '../ssh/index.js';
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
  static override examples = [
    '<%= config.bin %> exec --host admin@fbsd1 -- ifconfig laggkit0',
    '<%= config.bin %> exec --host fbsd1 --timeout 10 --json -- sysctl net.link.lagg',
  ];
  static override strict = false;
  static override args = { argv: Args.string({ description: 'the remote program and its arguments (after --)', required: false }) };
  static override flags = {
    host: Flags.string({ description: 'user@host:port or an ~/.ssh/config alias', required: true }),
    'trust-new-host-key': Flags.boolean({ description: 'Accept and record an unknown SSH host key (never a changed one)', default: false }),
    'ssh-config': Flags.string({ description: 'ssh_config file to use instead of ~/.ssh/config' }),
    timeout: Flags.string({ description: 'Kill the remote command after this many seconds' }),
  };

  protected async execute(): Promise<ExecOutput> {
    const { argv, flags } = await this.parse(Exec);
    const words = (argv as string[]).filter((a, i) => !(i === 0 && a === '--'));
    if (words.length === 0) throw new UsageError('E_USAGE', 'No command given after --', 'Example: laggkit exec --host fbsd1 -- ifconfig -a');
    const timeoutMs = flags.timeout === undefined ? undefined : validateInt(flags.timeout, 1, 86_400, '--timeout') * 1000;
    const session = await connectHost(flags.host, {
      ...(flags['trust-new-host-key'] ? { trustNewHostKey: true } : {}),
      ...(flags['ssh-config'] !== undefined ? { configFile: flags['ssh-config'] } : {}),
    });
    try {
      const r = await session.exec(words, timeoutMs === undefined ? {} : { timeoutMs });
      const out = { host: flags.host, argv: words, command: quoteArgv(words), code: r.code, stdout: r.stdout, stderr: r.stderr };
      if (r.code !== 0) {
        throw new RemoteCommandError('E_REMOTE_COMMAND', `${out.command} on ${flags.host} exited with ${r.code === null ? `signal ${r.signal}` : `status ${r.code}`}${r.stderr.trim() ? `: ${r.stderr.trim()}` : ''}`, out.command, r.code, r.stderr);
      }
      return out;
    } finally {
      await session.close();
    }
  }

  protected override render(r: ExecOutput): void {
    process.stdout.write(r.stdout);
    process.stderr.write(r.stderr);
  }
}
