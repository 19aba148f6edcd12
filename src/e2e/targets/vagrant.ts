/**
 * `laggkit e2e --target vagrant`: the Vagrantfile's Linux pair (linux-lab-a as A, linux-lab-b
 * as B) as a host target. Hosts come from `vagrant ssh-config`, the data links are the ports
 * the Vagrantfile deploys on its Linux boxes (vtnet0 on the virtio private network, em0 on the
 * e1000 one). Under the libvirt provider a cable is pulled with `virsh domif-setlink` on both
 * boxes' NICs of that link: the private networks are bridges, so pulling only one end would
 * leave the other with carrier.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { EnvironmentError, UsageError } from '../../cli/errors.js';
import { repoRoot } from '../../lab/paths.js';
import type { HostOptions } from '../../targets/index.js';
import { hostTarget } from './host.js';
import type { E2eTarget, Side } from './types.js';

const run = promisify(execFile);
export const VAGRANT_BOXES: Record<Side, string> = { A: 'linux-lab-a', B: 'linux-lab-b' };
const LIBVIRT = 'qemu:///system';

export interface VagrantTargetOptions {
  /** The shared SSH flags (--trust-new-host-key: a fresh box's host key is new to known_hosts). */
  ssh?: Omit<HostOptions, 'host'>;
  onProgress?: (line: string) => void;
}

/** The folder holding the Vagrantfile: VAGRANT_CWD as vagrant reads it, else this package's. */
function vagrantCwd(): string {
  return process.env.VAGRANT_CWD ?? repoRoot();
}

/** The ports the Vagrantfile deploys on its Linux boxes: its data links, named as in the boxes. */
export function vagrantfileLinuxPorts(vagrantfile: string): string[] {
  const m = /"linux"\s*=>\s*\{[^}]*ports:\s*"([^"]+)"/.exec(vagrantfile);
  if (!m) throw new UsageError('E_E2E_VAGRANTFILE', 'the Vagrantfile names no ports for its Linux boxes (LAGGKIT_DEPLOY "linux" ports:)');
  return m[1]!.split(/\s+/).filter(Boolean);
}

/** The libvirt domain of a box, from Vagrant's machine data; undefined under another provider. */
function libvirtDomain(box: string): string | undefined {
  const dot = process.env.VAGRANT_DOTFILE_PATH ?? path.join(vagrantCwd(), '.vagrant');
  const id = path.join(path.isAbsolute(dot) ? dot : path.join(vagrantCwd(), dot), 'machines', box, 'libvirt', 'id');
  return fs.existsSync(id) ? fs.readFileSync(id, 'utf8').trim() : undefined;
}

async function virsh(args: string[]): Promise<string> {
  return (await run('virsh', ['-c', LIBVIRT, ...args], { timeout: 60_000 })).stdout;
}

/**
 * The MAC of the domain's NIC of `model` on one of the Vagrantfile's private networks (not
 * Vagrant's management network), from `virsh domiflist`: Interface Type Source Model MAC.
 */
export function privateNic(domiflist: string, model: string | undefined): string | undefined {
  const rows = domiflist
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .filter((r) => r.length === 5 && /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/.test(r[4]!));
  return rows.find((r) => r[3] === model && r[2]!.startsWith('laggkit-link'))?.[4];
}

export async function vagrantTarget(opts: VagrantTargetOptions): Promise<E2eTarget> {
  const say = opts.onProgress ?? (() => {});
  const cwd = vagrantCwd();
  const vagrantfile = path.join(cwd, 'Vagrantfile');
  if (!fs.existsSync(vagrantfile))
    throw new UsageError(
      'E_E2E_VAGRANTFILE',
      `no Vagrantfile in ${cwd}`,
      "Run from laggkit's source folder or set VAGRANT_CWD to the folder of its Vagrantfile.",
    );
  const ports = vagrantfileLinuxPorts(fs.readFileSync(vagrantfile, 'utf8'));
  say(`reading vagrant ssh-config of ${Object.values(VAGRANT_BOXES).join(' and ')}`);
  let sshConfig: string;
  try {
    sshConfig = (await run('vagrant', ['ssh-config', ...Object.values(VAGRANT_BOXES)], { cwd, timeout: 120_000 })).stdout;
  } catch (err) {
    const e = err as { code?: string; stderr?: string; message: string };
    throw new EnvironmentError(
      'E_E2E_VAGRANT',
      e.code === 'ENOENT' ? 'vagrant is not installed' : `vagrant ssh-config failed: ${(e.stderr || e.message).trim().slice(-400)}`,
      `Bring the boxes up first: laggkit lab vagrant-box && vagrant up ${Object.values(VAGRANT_BOXES).join(' ')}`,
    );
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'laggkit-vagrant-'));
  const configFile = path.join(dir, 'ssh_config');
  fs.writeFileSync(configFile, sshConfig, { mode: 0o600 });
  const domains = { A: libvirtDomain(VAGRANT_BOXES.A), B: libvirtDomain(VAGRANT_BOXES.B) };
  let noCable: string | undefined;
  if (!domains.A || !domains.B) noCable = 'the boxes are not libvirt domains: no way to pull a cable on target vagrant';
  else
    try {
      await virsh(['domstate', domains.A]);
    } catch (err) {
      noCable = `virsh cannot reach the boxes' domains (${String((err as Error).message)
        .trim()
        .slice(0, 200)}): no way to pull a cable on target vagrant`;
    }
  let target: E2eTarget;
  try {
    target = await hostTarget({
      kind: 'vagrant',
      hosts: (['A', 'B'] as const).map((s) => ({ ...opts.ssh, host: VAGRANT_BOXES[s], sshConfig: configFile })),
      links: ports.map((p) => ({ a: p, b: p })),
      describe: `vagrant ${Object.values(VAGRANT_BOXES).join(' and ')} (links ${ports.join(' ')}${noCable ? '' : '; cables through libvirt'})`,
      ...(noCable
        ? { noCable }
        : {
            // Both boxes' NICs of the link. libvirt knows them by model and network, not by the
            // name the box gives them, and the box's own MAC changes while a lagg holds the port.
            cable: async (nic: string, up: boolean) => {
              const model = target.links.find((l) => l.nic === nic)?.model;
              for (const s of ['A', 'B'] as const) {
                const mac = privateNic(await virsh(['domiflist', domains[s]!]), model);
                if (!mac) throw new EnvironmentError('E_E2E_CABLE', `${VAGRANT_BOXES[s]} has no ${model ?? ''} NIC on a private network for ${nic}`);
                await virsh(['domif-setlink', domains[s]!, mac, up ? 'up' : 'down']);
              }
            },
          }),
      onProgress: say,
    });
  } catch (err) {
    fs.rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const close = target.close;
  return {
    ...target,
    close: async () => {
      await close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
