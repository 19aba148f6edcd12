/**
 * Two "machines" on this one: each a network namespace with its own /tmp, /run, /var/tmp and
 * PID namespace, running a real OpenSSH sshd as its first process, reachable from here over a
 * veth management link (eth0 inside). Data links are veth pairs between the two. What runs in
 * one (laggd, its control socket, seqstream's files) never meets the other, as on two hosts.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startSshd, type Sshd } from '../../toolkit/support/sshd.js';

export interface NetnsHost {
  ns: string;
  /** The address sshd listens on (eth0 inside the namespace). */
  addr: string;
  sshd: Sshd;
}

export interface NetnsHosts {
  hosts: [NetnsHost, NetnsHost];
  /** ssh_config with Host a and Host b (root, the client key, a known_hosts of both). */
  sshConfig: string;
  clientKey: string;
  /** Run a shell line in a host's namespaces (as its sshd's sessions see them). */
  onHost(i: 0 | 1, script: string): string;
  stop(): Promise<void>;
}

const ip = (...args: string[]): string => execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

/** The private mounts a machine has to itself; sshd needs /run/sshd. */
const PRIVATE = 'mount -t tmpfs tmpfs /tmp && mount -t tmpfs tmpfs /run && mount -t tmpfs tmpfs /var/tmp && mkdir -p /run/sshd && exec "$@"';

export interface NetnsHostsOptions {
  /** Extra sshd_config lines for both servers (e.g. SetEnv for the sessions). */
  sshdConfig?: string[];
}

export async function startNetnsHosts(id: string, dataLinks: string[], opts: NetnsHostsOptions = {}): Promise<NetnsHosts> {
  const base = fs.mkdtempSync(path.join(os.homedir(), '.cache', `laggkit-test-${id}-`));
  // A /30 per host out of a block chosen by the process id, so parallel runs do not collide.
  const block = 100 + (process.pid % 150);
  const made: string[] = [];
  const hostIfs: string[] = [];
  const hosts: NetnsHost[] = [];
  const stop = async (): Promise<void> => {
    for (const h of hosts) await h.sshd.stop().catch(() => {});
    for (const n of made) execFileSync('ip', ['netns', 'del', n], { stdio: 'ignore' });
    for (const h of hostIfs) execFileSync('sh', ['-c', `ip link del ${h} 2>/dev/null; true`]);
    fs.rmSync(base, { recursive: true, force: true });
  };
  try {
    for (const [i, side] of (['a', 'b'] as const).entries()) {
      const ns = `lk-${id}-${side}`;
      ip('netns', 'add', ns);
      made.push(ns);
      ip('-n', ns, 'link', 'set', 'lo', 'up');
      const hostIf = `lk${id}${side}`.slice(0, 15);
      ip('link', 'add', hostIf, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns);
      hostIfs.push(hostIf);
      ip('addr', 'add', `10.96.${block}.${i * 4 + 1}/30`, 'dev', hostIf);
      ip('link', 'set', hostIf, 'up');
      ip('-n', ns, 'addr', 'add', `10.96.${block}.${i * 4 + 2}/30`, 'dev', 'eth0');
      ip('-n', ns, 'link', 'set', 'eth0', 'up');
    }
    for (const l of dataLinks) ip('link', 'add', l, 'netns', made[0]!, 'type', 'veth', 'peer', 'name', l, 'netns', made[1]!);
    for (const [i, ns] of made.entries()) {
      const addr = `10.96.${block}.${i * 4 + 2}`;
      const sshd = await startSshd(`${id}${i}`, {
        dirBase: base,
        listenAddress: addr,
        port: 22,
        extraConfig: opts.sshdConfig,
        // unshare --fork ignores SIGTERM; killed, it takes sshd (--kill-child) and so the
        // whole PID namespace with it.
        stopSignal: 'SIGKILL',
        wrap: (argv) => [
          'ip',
          'netns',
          'exec',
          ns,
          'unshare',
          '--mount',
          '--pid',
          '--fork',
          '--kill-child',
          '--mount-proc',
          '--propagation',
          'private',
          'sh',
          '-c',
          PRIVATE,
          'sh',
          ...argv,
        ],
      });
      hosts.push({ ns, addr, sshd });
    }
    const knownHosts = path.join(base, 'known_hosts');
    fs.writeFileSync(knownHosts, `${hosts.map((h) => h.sshd.knownHostsLine()).join('\n')}\n`);
    const sshConfig = path.join(base, 'ssh_config');
    fs.writeFileSync(
      sshConfig,
      hosts.map((h, i) => [`Host ${'ab'[i]}`, `  HostName ${h.addr}`, '  User root', `  UserKnownHostsFile ${knownHosts}`, ''].join('\n')).join('\n'),
    );
    // One client key for both: the second server accepts the first one's key too.
    fs.copyFileSync(path.join(hosts[0]!.sshd.dir, 'authorized_keys'), path.join(hosts[1]!.sshd.dir, 'authorized_keys'));
    const sshdPid = (h: NetnsHost): string =>
      execFileSync('sh', ['-c', `ip netns pids ${h.ns} | while read p; do [ "$(cat /proc/$p/comm)" = sshd ] && echo $p; done | head -1`], {
        encoding: 'utf8',
      }).trim();
    return {
      hosts: [hosts[0]!, hosts[1]!],
      sshConfig,
      clientKey: hosts[0]!.sshd.clientKey,
      onHost: (i, script) =>
        execFileSync('nsenter', ['-t', sshdPid(hosts[i]!), '-n', '-m', '-p', '--', 'sh', '-c', script], {
          encoding: 'utf8',
          stdio: ['ignore', 'pipe', 'pipe'],
        }),
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
