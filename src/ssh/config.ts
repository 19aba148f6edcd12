/**
 * Turns what the user typed (`host`, `user@host:port`, an ~/.ssh/config alias) into an SshTarget.
 * When the OpenSSH client is installed, `ssh -G` answers (so Match, Include and every other
 * ssh_config feature behave exactly as for `ssh`); otherwise a small parser of our own handles
 * Host blocks with HostName, User, Port, IdentityFile, ProxyJump and UserKnownHostsFile.
 */
import { execa } from 'execa';
import { readFileSync, existsSync } from 'node:fs';
import { homedir, userInfo } from 'node:os';
import { join } from 'node:path';
import { UsageError } from '../cli/errors.js';
import { validateHostName, validatePort, validateUserName } from '../validate/index.js';
import type { ResolveOptions, SshHop, SshTarget } from './types.js';

export interface HostSpec {
  user?: string;
  host: string;
  port?: number;
}

/** Parse `[ssh://][user@]host[:port]`, with IPv6 as `[addr]:port` or bare. */
export function parseHostString(spec: string): HostSpec {
  let s = spec.startsWith('ssh://') ? spec.slice(6) : spec;
  let user: string | undefined;
  const at = s.lastIndexOf('@');
  if (at >= 0) {
    user = validateUserName(s.slice(0, at));
    s = s.slice(at + 1);
  }
  let host = s;
  let port: number | undefined;
  const bracket = /^\[([^\]]+)\](?::(\d+))?$/.exec(s);
  if (bracket) {
    host = bracket[1] ?? '';
    if (bracket[2] !== undefined) port = validatePort(bracket[2]);
  } else if ((s.match(/:/g) ?? []).length === 1) {
    const [h, p] = s.split(':');
    host = h ?? '';
    port = validatePort(p ?? '');
  }
  validateHostName(host);
  return { ...(user !== undefined ? { user } : {}), host, ...(port !== undefined ? { port } : {}) };
}

/** What ssh_config said about one name, before defaults. */
interface ConfigAnswer {
  hostname?: string;
  user?: string;
  port?: number;
  identityFiles: string[];
  knownHostsFiles: string[];
  globalKnownHostsFiles?: string[];
  hashKnownHosts?: boolean;
  proxyJump?: string;
  /** Not supported: reported so the connection never silently bypasses it. */
  proxyCommand?: string;
}

function expandPath(p: string, home: string, hop: { host: string; user: string; port: number }): string {
  let out = p.startsWith('~/') ? join(home, p.slice(2)) : p === '~' ? home : p;
  out = out.replace(/%([%dhurp])/g, (_m, c: string) =>
    c === '%' ? '%' : c === 'd' ? home : c === 'h' ? hop.host : c === 'r' ? hop.user : c === 'p' ? String(hop.port) : userInfo().username,
  );
  return out;
}

function hasSshClient(): boolean {
  for (const dir of (process.env.PATH ?? '/usr/bin:/bin').split(':')) {
    if (dir && existsSync(join(dir, 'ssh'))) return true;
  }
  return false;
}

async function runSshG(spec: HostSpec, configFile: string | undefined): Promise<ConfigAnswer> {
  const args = ['-G'];
  if (configFile !== undefined) args.push('-F', configFile);
  if (spec.port !== undefined) args.push('-p', String(spec.port));
  if (spec.user !== undefined) args.push('-l', spec.user);
  args.push('--', spec.host);
  const r = await execa('ssh', args, { timeout: 10_000, reject: false });
  if (r.failed) {
    throw new UsageError(
      'E_SSH_CONFIG',
      `ssh -G could not resolve ${JSON.stringify(spec.host)}: ${r.stderr.trim() || r.shortMessage}`,
      'Check the ssh_config file for syntax errors.',
    );
  }
  const ans: ConfigAnswer = { identityFiles: [], knownHostsFiles: [] };
  for (const line of r.stdout.split('\n')) {
    const sp = line.indexOf(' ');
    if (sp < 0) continue;
    const key = line.slice(0, sp);
    const value = line.slice(sp + 1);
    if (key === 'hostname') ans.hostname = value;
    else if (key === 'user') ans.user = value;
    else if (key === 'port') ans.port = Number(value);
    else if (key === 'identityfile') ans.identityFiles.push(value);
    else if (key === 'userknownhostsfile') ans.knownHostsFiles.push(...value.split(/\s+/).filter(Boolean));
    else if (key === 'globalknownhostsfile') ans.globalKnownHostsFiles = value.split(/\s+/).filter(Boolean);
    else if (key === 'hashknownhosts') ans.hashKnownHosts = value === 'yes';
    else if (key === 'proxyjump' && value !== 'none') ans.proxyJump = value;
    else if (key === 'proxycommand' && value !== 'none') ans.proxyCommand = value;
  }
  return ans;
}

/** Split one ssh_config line into keyword and arguments (quotes group words). */
function splitConfigLine(line: string): { key: string; args: string[] } | null {
  const m = /^\s*([A-Za-z]+)\s*(?:=\s*|\s+)(.*)$/.exec(line);
  if (!m || m[1] === undefined) return null;
  const args: string[] = [];
  const re = /"([^"]*)"|(\S+)/g;
  let w: RegExpExecArray | null;
  while ((w = re.exec(m[2] ?? '')) !== null) args.push(w[1] ?? w[2] ?? '');
  return { key: m[1].toLowerCase(), args };
}

function hostPatternMatches(patterns: string[], name: string): boolean {
  let ok = false;
  for (const p of patterns) {
    const neg = p.startsWith('!');
    const glob = new RegExp(
      '^' +
        (neg ? p.slice(1) : p)
          .replace(/[.+^${}()|[\]\\]/g, '\\$&')
          .replace(/\*/g, '.*')
          .replace(/\?/g, '.') +
        '$',
      'i',
    );
    if (glob.test(name)) {
      if (neg) return false;
      ok = true;
    }
  }
  return ok;
}

/** Fallback ssh_config reader: Host blocks only, first value wins (IdentityFile accumulates). */
export function parseSshConfig(text: string, name: string): ConfigAnswer {
  const ans: ConfigAnswer = { identityFiles: [], knownHostsFiles: [] };
  let active = true; // lines before the first Host apply to every host
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const kv = splitConfigLine(line);
    if (!kv) continue;
    if (kv.key === 'host') {
      active = hostPatternMatches(kv.args, name);
      continue;
    }
    if (kv.key === 'match') {
      active = kv.args[0]?.toLowerCase() === 'all';
      continue;
    }
    if (!active || kv.args.length === 0) continue;
    const v = kv.args[0] ?? '';
    switch (kv.key) {
      case 'hostname':
        ans.hostname ??= v;
        break;
      case 'user':
        ans.user ??= v;
        break;
      case 'port':
        ans.port ??= validatePort(v);
        break;
      case 'identityfile':
        ans.identityFiles.push(v);
        break;
      case 'userknownhostsfile':
        if (ans.knownHostsFiles.length === 0) ans.knownHostsFiles.push(...kv.args);
        break;
      case 'globalknownhostsfile':
        ans.globalKnownHostsFiles ??= kv.args;
        break;
      case 'hashknownhosts':
        ans.hashKnownHosts ??= v.toLowerCase() === 'yes';
        break;
      case 'proxyjump':
        if (ans.proxyJump === undefined) ans.proxyJump = v;
        break;
      case 'proxycommand':
        if (ans.proxyCommand === undefined) ans.proxyCommand = kv.args.join(' ');
        break;
      default:
        break;
    }
  }
  if (ans.proxyJump === 'none') delete ans.proxyJump;
  if (ans.proxyCommand === 'none') delete ans.proxyCommand;
  return ans;
}

async function lookup(spec: HostSpec, opts: ResolveOptions, home: string): Promise<ConfigAnswer> {
  const configFile = opts.configFile ?? (opts.homeDir !== undefined ? join(home, '.ssh', 'config') : undefined);
  if (!opts.noSshClient && hasSshClient()) {
    // ssh reads the passwd home, not $HOME: an explicit homeDir must bring its own config file.
    const file = configFile !== undefined && !existsSync(configFile) ? '/dev/null' : configFile;
    const ans = await runSshG(spec, file);
    if (opts.homeDir !== undefined) {
      // ssh expands ~ with the passwd home directory; an explicit homeDir means ~ is there.
      const pwHome = userInfo().homedir.replace(/\/$/, '') + '/';
      const rehome = (p: string) => (p.startsWith(pwHome) ? join(home, p.slice(pwHome.length)) : p);
      ans.identityFiles = ans.identityFiles.map(rehome);
      ans.knownHostsFiles = ans.knownHostsFiles.map(rehome);
    }
    return ans;
  }
  const file = configFile ?? join(home, '.ssh', 'config');
  const text = existsSync(file) ? readFileSync(file, 'utf8') : '';
  const ans = parseSshConfig(text, spec.host);
  if (spec.user !== undefined) ans.user = spec.user;
  if (spec.port !== undefined) ans.port = spec.port;
  return ans;
}

async function resolveHop(spec: HostSpec, opts: ResolveOptions, home: string): Promise<SshHop & { proxyJump?: string }> {
  const ans = await lookup(spec, opts, home);
  if (ans.proxyCommand !== undefined) {
    // Connecting directly would bypass the path the user configured: refuse instead.
    throw new UsageError(
      'E_SSH_PROXYCOMMAND',
      `ssh_config sets ProxyCommand for ${JSON.stringify(spec.host)} (${ans.proxyCommand}), which laggkit does not run`,
      'Use ProxyJump for that host instead.',
    );
  }
  const host = ans.hostname ?? spec.host;
  validateHostName(host);
  const port = ans.port ?? spec.port ?? 22;
  const user = ans.user ?? spec.user ?? userInfo().username;
  const ctx = { host, user, port };
  const identityFiles = (ans.identityFiles.length > 0 ? ans.identityFiles : ['~/.ssh/id_ed25519', '~/.ssh/id_ecdsa', '~/.ssh/id_rsa']).map((p) =>
    expandPath(p, home, ctx),
  );
  const knownHostsFiles = (ans.knownHostsFiles.length > 0 ? ans.knownHostsFiles : ['~/.ssh/known_hosts']).map((p) => expandPath(p, home, ctx));
  const globalKnownHostsFiles = (ans.globalKnownHostsFiles ?? ['/etc/ssh/ssh_known_hosts', '/etc/ssh/ssh_known_hosts2']).map((p) => expandPath(p, home, ctx));
  return {
    alias: spec.host,
    host,
    port,
    user,
    identityFiles,
    knownHostsFiles,
    globalKnownHostsFiles,
    hashKnownHosts: ans.hashKnownHosts ?? false,
    ...(ans.proxyJump !== undefined ? { proxyJump: ans.proxyJump } : {}),
  };
}

/** Resolve a host string (and its ProxyJump chain) through ssh_config. */
export async function resolveTarget(hostString: string, opts: ResolveOptions = {}): Promise<SshTarget> {
  const home = opts.homeDir ?? homedir();
  const final = await resolveHop(parseHostString(hostString), opts, home);
  const jumps: SshHop[] = [];
  if (final.proxyJump !== undefined) {
    for (const hopSpec of final.proxyJump.split(',')) {
      // Each hop gets its own ssh_config lookup (HostName, User, known_hosts), but its own
      // ProxyJump is not followed: the chain is the one written for the final target.
      const { proxyJump: _ignored, ...hop } = await resolveHop(parseHostString(hopSpec.trim()), opts, home);
      jumps.push(hop);
    }
  }
  const { proxyJump: _pj, ...rest } = final;
  return { ...rest, jumps };
}
