/**
 * Impairment and capture for the QEMU lab, done on the host. Each data link is a pair of UDP
 * sockets on 127.0.0.1 (QEMU `-netdev dgram`), each datagram one raw Ethernet frame, so:
 *
 *  - one direction of a link is the datagrams from one port to the other: iptables drops them
 *    in INPUT on lo (after they left the sender, so QEMU never sees a send error); for LACPDUs
 *    alone a u32 match reads the frame's ethertype and subtype, 20 bytes into the UDP header
 *    (8 bytes of UDP, 12 of MAC addresses): 0x8809 slow protocols, subtype 1 LACP;
 *  - a capture is tcpdump on lo filtered by those ports, its pcap read back here.
 *
 * The rules live in a chain of their own, named after the lab, jumped to from INPUT only while
 * an impairment is on; close() (run at the end and on Ctrl-C) removes the chain, and opening
 * the target removes one a killed run left behind.
 */
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { LabState } from '../lab/state.js';
import type { Direction, Impairment, WireCapture, WireFrame } from './wire.js';
import { loopbackUdp, readPcap } from './wire.js';

const LACPDU_U32 = '0>>22&0x3C@20&0xFFFFFF00=0x88090100';

function which(tool: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(':').concat(['/usr/sbin', '/sbin'])) {
    const p = path.join(dir, tool);
    if (dir && fs.existsSync(p)) return p;
  }
  return undefined;
}

export interface LabWire {
  /** Why impair/capture cannot run here, or undefined when they can. */
  lacksImpair: string | undefined;
  lacksCapture: string | undefined;
  impair(nic: string, what: Impairment, on: boolean): Promise<void>;
  capture(nics: string[], direction: Direction): Promise<WireCapture>;
  close(): void;
}

export function labWire(state: LabState): LabWire {
  const root = process.getuid?.() === 0;
  const iptables = which('iptables');
  const tcpdump = which('tcpdump');
  // At most 28 characters; the lab's name keeps concurrent labs' rules apart.
  const chain = `LKE2E-${state.name}`.slice(0, 28);
  const active = new Map<string, string[]>();
  let hooked = false;
  /** Captures not stopped yet (a run that failed half-way): killed at close. */
  const running = new Set<() => void>();

  const ipt = (args: string[], check = true): boolean => {
    try {
      execFileSync(iptables!, ['-w', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
      return true;
    } catch (err) {
      if (check) throw new Error(`iptables ${args.join(' ')}: ${String((err as { stderr?: Buffer }).stderr ?? err).trim()}`);
      return false;
    }
  };
  const unhook = (): void => {
    if (!iptables || !root) return;
    while (ipt(['-D', 'INPUT', '-i', 'lo', '-j', chain], false));
    if (ipt(['-F', chain], false)) ipt(['-X', chain], false);
    hooked = false;
    active.clear();
  };

  /** The UDP ports of a data link's direction: from the sender's socket to the receiver's. */
  const ports = (nic: string, direction: Direction): { sport: number; dport: number } => {
    const a = state.vms.find((v) => v.name === 'A')?.nics.find((n) => n.name === nic);
    if (a?.netdev.type !== 'dgram') throw new Error(`lab '${state.name}' has no UDP data link ${nic}`);
    return direction === 'a-to-b' ? { sport: a.netdev.localPort, dport: a.netdev.remotePort } : { sport: a.netdev.remotePort, dport: a.netdev.localPort };
  };

  const lacksImpair = !root
    ? 'impairing a lab link drops its datagrams with iptables on the host, which needs root'
    : !iptables
      ? 'iptables is not installed on this host (npm run setup installs it)'
      : undefined;
  const lacksCapture = !root
    ? 'capturing a lab link runs tcpdump on the host loopback, which needs root'
    : !tcpdump
      ? 'tcpdump is not installed on this host (npm run setup installs it)'
      : undefined;
  if (!lacksImpair) unhook();

  return {
    lacksImpair,
    lacksCapture,
    impair: async (nic, what, on) => {
      if (lacksImpair) throw new Error(lacksImpair);
      const { sport, dport } = ports(nic, what.direction);
      const key = `${nic} ${what.direction} ${what.what}`;
      const spec = [
        '-p',
        'udp',
        '-s',
        '127.0.0.1',
        '--sport',
        String(sport),
        '--dport',
        String(dport),
        ...(what.what === 'lacp' ? ['-m', 'u32', '--u32', LACPDU_U32] : []),
        '-j',
        'DROP',
      ];
      if (on) {
        if (active.has(key)) return;
        if (!hooked) {
          ipt(['-N', chain], false);
          ipt(['-F', chain]);
          ipt(['-I', 'INPUT', '1', '-i', 'lo', '-j', chain]);
          hooked = true;
        }
        ipt(['-A', chain, ...spec]);
        active.set(key, spec);
      } else if (active.has(key)) {
        ipt(['-D', chain, ...spec]);
        active.delete(key);
        if (active.size === 0) unhook();
      }
    },
    capture: async (nics, direction) => {
      if (lacksCapture) throw new Error(lacksCapture);
      const byPorts = new Map(nics.map((nic) => [`${ports(nic, direction).sport}>${ports(nic, direction).dport}`, nic]));
      const filter = `udp and src host 127.0.0.1 and (${nics
        .map((nic) => `(src port ${ports(nic, direction).sport} and dst port ${ports(nic, direction).dport})`)
        .join(' or ')})`;
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), `lke2e-${state.name}-`));
      const file = path.join(dir, 'link.pcap');
      // --immediate-mode and -U hand each packet over and write it as it comes (a stop loses
      // nothing still buffered); -Z root keeps tcpdump able to write into our folder.
      const p = spawn(tcpdump!, ['-i', 'lo', '-n', '-U', '--immediate-mode', '-Z', 'root', '-s', '2048', '-w', file, filter], {
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      const kill = (): void => {
        p.kill('SIGINT');
        fs.rmSync(dir, { recursive: true, force: true });
      };
      running.add(kill);
      let err = '';
      await new Promise<void>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`tcpdump did not start listening: ${err.trim()}`)), 15_000);
        p.stderr.on('data', (d: Buffer) => {
          err += d.toString();
          if (/listening on/.test(err)) {
            clearTimeout(t);
            resolve();
          }
        });
        p.once('exit', (code) => {
          clearTimeout(t);
          reject(new Error(`tcpdump exited (${code}): ${err.trim()}`));
        });
      });
      return {
        stop: async () => {
          running.delete(kill);
          const exited = new Promise<void>((resolve) => p.once('exit', () => resolve()));
          p.kill('SIGINT');
          await exited;
          try {
            const frames: WireFrame[] = [];
            for (const r of readPcap(fs.readFileSync(file))) {
              const u = loopbackUdp(r.data);
              const nic = u && byPorts.get(`${u.sport}>${u.dport}`);
              if (u && nic) frames.push({ atMs: r.atMs, nic, frame: u.payload });
            }
            return frames;
          } finally {
            fs.rmSync(dir, { recursive: true, force: true });
          }
        },
      };
    },
    close: () => {
      for (const kill of running) kill();
      running.clear();
      unhook();
    },
  };
}
