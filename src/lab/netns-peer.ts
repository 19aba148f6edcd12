/**
 * The network-namespace peer (`lab up --peer netns`): instead of a second guest, the far end
 * of every link is a TAP device inside a namespace the lab creates, so host tools (tcpdump,
 * Open vSwitch, laggd itself) can sit on the other side. Needs root. TAPs are created in the
 * host namespace (QEMU opens them by name) and moved into the namespace once QEMU holds them.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { EnvironmentError } from '../cli/errors.js';
import { LabError } from './errors.js';

function ip(args: string[], allowFail = false): string {
  try {
    return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    if (allowFail) return '';
    const e = err as { stderr?: string; message: string };
    throw new LabError('E_LAB_NETNS', `ip ${args.join(' ')} failed: ${(e.stderr || e.message).trim()}`);
  }
}

export function netnsName(lab: string): string {
  return `lk-${lab}`;
}

/** TAP names fit IFNAMSIZ (15): "lk" + 6 hex of the lab name + "t" + link index. */
export function tapName(lab: string, index: number): string {
  return `lk${createHash('sha256').update(lab).digest('hex').slice(0, 6)}t${index}`;
}

export function requireRoot(): void {
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    throw new EnvironmentError(
      'E_LAB_ROOT',
      '--peer netns needs root (it creates TAP devices and a network namespace)',
      'Run as root, or use --peer vm (no root needed).',
    );
  }
}

export function createTaps(taps: string[]): void {
  for (const t of taps) ip(['tuntap', 'add', 'dev', t, 'mode', 'tap']);
}

/** After QEMU attached the TAPs: move them into the namespace and address them. */
export function moveTapsIntoNetns(ns: string, taps: Array<{ tap: string; addr: string }>): void {
  ip(['netns', 'add', ns]);
  ip(['-n', ns, 'link', 'set', 'lo', 'up']);
  for (const { tap, addr } of taps) {
    ip(['link', 'set', tap, 'netns', ns]);
    ip(['-n', ns, 'addr', 'add', addr, 'dev', tap]);
    ip(['-n', ns, 'link', 'set', tap, 'up']);
  }
}

function ipOk(args: string[]): boolean {
  try {
    execFileSync('ip', args, { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Carrier of the namespace side (TUN/TAP supports carrier changes since Linux 5.0). */
export function setTapCarrier(ns: string, tap: string, up: boolean): void {
  if (!ipOk(['-n', ns, 'link', 'set', tap, 'carrier', up ? 'on' : 'off'])) ip(['-n', ns, 'link', 'set', tap, up ? 'up' : 'down']);
}

/** Remove TAPs wherever they are and the namespace; missing ones are fine (idempotent). */
export function removeNetnsPeer(ns: string | undefined, taps: string[]): void {
  for (const t of taps) {
    if (ns) ipOk(['-n', ns, 'link', 'del', t]);
    ipOk(['link', 'del', t]);
  }
  if (ns) ipOk(['netns', 'del', ns]);
}

export function netnsExists(ns: string): boolean {
  return ip(['netns', 'list'], true)
    .split('\n')
    .some((l) => l.split(' ')[0] === ns);
}

export function linkExists(name: string, ns?: string): boolean {
  return ipOk([...(ns ? ['-n', ns] : []), 'link', 'show', name]);
}
