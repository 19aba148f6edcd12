/**
 * `laggkit deploy`: build, load, configure, verify, confirm and persist laggkit on a host, with
 * an on-host rollback guard armed before anything that can cut the management path.
 */
import * as Flags from '@oclif/core/flags';
import fs from 'node:fs';
import { LaggkitCommand } from '../cli/base-command.js';
import { UsageError } from '../cli/errors.js';
import { hostFlags, hostOptions } from '../cli/host-flags.js';
import { deployTo } from '../deploy/connect.js';
import type { DeployOptions, DeployPlan, DeployResult, StepRecord } from '../deploy/deploy.js';
import { deployFleet, fleetTable, type FleetResult } from '../deploy/fleet.js';
import { inventoryHosts, parseInventory } from '../deploy/inventory.js';
import { EXIT_CODES, LaggkitError, type ExitClass } from '../cli/errors.js';
import { PROTOCOLS, parseSpecFile, specFromFlags, type DeploySpec } from '../deploy/spec.js';
import { validateInt } from '../validate/index.js';

function readInput(file: string, flag: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new UsageError('E_READ', `cannot read ${flag} ${file}: ${(err as Error).message}`);
  }
}

export default class Deploy extends LaggkitCommand {
  static override summary = 'Deploy laggkit to a host: build, load, configure, verify, confirm (rollback guard), persist';
  static override description =
    `Steps: probe, plan, build, install + arm the on-host rollback guard, load and configure, verify, confirm over a new SSH connection, persist. A second identical deploy changes nothing ("changed": false). Without a confirmation before --confirm-timeout the host rolls itself back; deploy then exits 8.`;
  static override examples = [
    '<%= config.bin %> deploy --host root@fbsd1 --laggproto lacp --laggport vtnet1 --laggport em1 --inet 192.0.2.10/24',
    '<%= config.bin %> deploy --host fbsd1 --spec laggkit.yaml --dry-run',
    '<%= config.bin %> deploy --ssh-config lab.ssh_config --host A --laggproto lacp --laggport vtnet0 --laggport em0 --lacp-fast-timeout',
  ];
  static override flags = {
    ...hostFlags,
    spec: Flags.string({ description: 'YAML spec file with one or more aggregates (instead of the lagg flags)' }),
    inventory: Flags.string({ description: 'An Ansible inventory (YAML or INI): deploy to its hosts, a canary first', exclusive: ['host'] }),
    limit: Flags.string({ description: "With --inventory: Ansible's host pattern (group,host,!excluded,&also)" }),
    parallel: Flags.integer({ description: 'With --inventory: hosts deployed at once after the canary', default: 4 }),
    name: Flags.string({ description: 'Aggregate name', default: 'laggkit0' }),
    laggproto: Flags.string({ description: 'Protocol', options: [...PROTOCOLS, 'fec'] }),
    laggport: Flags.string({ description: 'A port (repeat); IF:PRI sets its priority', multiple: true }),
    lagghash: Flags.string({ description: 'Hash layers, e.g. l2,l3,l4' }),
    inet: Flags.string({ description: 'IPv4 address/prefix for the aggregate (repeat)', multiple: true }),
    inet6: Flags.string({ description: 'IPv6 address/prefix for the aggregate (repeat)', multiple: true }),
    mtu: Flags.integer({ description: 'MTU of the aggregate (and its ports)' }),
    'lacp-fast-timeout': Flags.boolean({ description: 'LACP short timeout (fast PDUs)', allowNo: true }),
    'lacp-strict': Flags.boolean({ description: 'LACP strict mode', allowNo: true }),
    opt: Flags.string({ description: 'Option without an ifconfig word, key=value (repeat): lacp_sys_prio, failover_rx_all, ...', multiple: true }),
    build: Flags.string({ description: 'Where the module is built', options: ['remote', 'local'], default: 'local' }),
    sysroot: Flags.string({ description: '--build local: a FreeBSD source tree (DIR/sys)' }),
    kernbuild: Flags.string({ description: "--build local: the kernel's build directory (KERNBUILDDIR)" }),
    'confirm-timeout': Flags.integer({ description: 'Seconds before the host rolls itself back without a confirmation', default: 60 }),
    'verify-timeout': Flags.integer({ description: 'Seconds for every port to become ready', default: 30 }),
    'verify-ping': Flags.string({ description: 'An address the host must reach through the aggregate before confirming' }),
    'allow-management-port': Flags.boolean({ description: 'Allow a port that carries this SSH session (the guard catches a lockout)', default: false }),
    'dry-run': Flags.boolean({ description: 'Print the plan and the diffs of the config files; change nothing', default: false }),
    yes: Flags.boolean({ char: 'y', description: 'Do not ask before changing the host', default: false }),
  };

  private steps: StepRecord[] = [];

  protected async execute(): Promise<DeployResult | FleetResult> {
    const { flags } = await this.parse(Deploy);
    if (!flags.host && !flags.inventory)
      throw new UsageError(
        'E_USAGE',
        'Give --host HOST or --inventory FILE',
        'Example: laggkit deploy --host root@fbsd1 --laggproto lacp --laggport em0 --laggport em1',
      );
    let spec: DeploySpec | undefined;
    if (flags.spec !== undefined) {
      if (flags.laggproto !== undefined || flags.laggport !== undefined)
        throw new UsageError(
          'E_USAGE',
          '--spec and the lagg flags (--laggproto, --laggport...) exclude each other',
          'Put everything in the spec file, or use flags only.',
        );
      spec = parseSpecFile(readInput(flags.spec, '--spec'), flags.spec);
    } else if (flags.laggproto !== undefined || !flags.inventory) {
      spec = specFromFlags(flags);
    }
    const confirmTimeoutSec = validateInt(flags['confirm-timeout'], 5, 3600, '--confirm-timeout');
    const verifyTimeoutSec = validateInt(flags['verify-timeout'], 1, 3600, '--verify-timeout');
    if (verifyTimeoutSec >= confirmTimeoutSec)
      throw new UsageError(
        'E_USAGE',
        `--verify-timeout (${verifyTimeoutSec}) must be shorter than --confirm-timeout (${confirmTimeoutSec})`,
        'The guard must outlive verification.',
      );
    const base: Omit<DeployOptions, 'reconnect'> = {
      build: flags.build as 'remote' | 'local',
      ...(flags.sysroot ? { sysroot: flags.sysroot } : {}),
      ...(flags.kernbuild ? { kernbuild: flags.kernbuild } : {}),
      confirmTimeoutSec,
      verifyTimeoutSec,
      ...(flags['verify-ping'] ? { verifyPing: flags['verify-ping'] } : {}),
      allowManagementPort: flags['allow-management-port'],
      dryRun: flags['dry-run'],
      progress: (l) => this.progress(`  ${l}`),
      onStep: (s) => {
        this.steps.push(s);
        if (this.jsonMode) process.stderr.write(`${JSON.stringify({ event: 'step', ...s })}\n`);
        else process.stderr.write(`${s.ok ? 'ok  ' : 'FAIL'} ${s.step.padEnd(10)} ${(s.ms / 1000).toFixed(1).padStart(6)} s  ${s.detail}\n`);
      },
    };
    if (flags.inventory) {
      const hosts = inventoryHosts(parseInventory(readInput(flags.inventory, '--inventory'), flags.inventory), flags.limit).map((h) =>
        spec ? { ...h, spec } : h,
      );
      const parallel = validateInt(flags.parallel, 1, 256, '--parallel');
      const fleet = await deployFleet(hosts, parallel, base, hostOptions(flags, ''));
      if (fleet.exitCode !== 0) {
        const bad = fleet.hosts.filter((h) => h.exitCode !== 0);
        const exitClass = (Object.entries(EXIT_CODES).find(([, c]) => c === fleet.exitCode)?.[0] ?? 'remote') as ExitClass;
        const err = new LaggkitError(
          exitClass,
          'E_FLEET',
          `${bad.length} of ${fleet.hosts.length} host(s) failed: ${bad.map((h) => `${h.host}: ${h.detail}`).join('; ')}`,
          `${fleetTable(fleet)}`,
        );
        err.partialResult = fleet;
        throw err;
      }
      return fleet;
    }
    if (!spec) throw new UsageError('E_USAGE', 'Give --laggproto and --laggport, or --spec FILE');
    // A person at a terminal sees the plan and says yes; scripts (--yes, --json, no TTY) do not.
    if (!flags.yes && !this.jsonMode && !flags['dry-run'] && process.stdin.isTTY && process.stderr.isTTY) base.approve = (plan) => this.ask(plan);
    // The failed probe of an attempt lost to a dropped connection is not this run's result;
    // the reconnect itself is said where the steps are, so logs and --json readers see it.
    return deployTo(hostOptions(flags, flags.host as string), spec, base, (reason) => {
      this.steps.length = 0;
      if (this.jsonMode) process.stderr.write(`${JSON.stringify({ event: 'reconnect', detail: reason })}\n`);
      else process.stderr.write(`note ${'reconnect'.padEnd(10)}           ${reason}\n`);
    });
  }

  private async ask(plan: DeployPlan): Promise<boolean> {
    const lines = [
      `${plan.host}: ${plan.os} ${plan.release}, build ${plan.buildId}`,
      ...plan.aggregates.map((a) => `  ${a.name}: ${a.action} (${a.differences.join('; ')})`),
      `  module: ${plan.module.reason}`,
      ...plan.persist.map((f) => f.diff.trimEnd()),
    ];
    process.stderr.write(`${lines.join('\n')}\n`);
    const { createInterface } = await import('node:readline/promises');
    const rl = createInterface({ input: process.stdin, output: process.stderr });
    try {
      return /^y(es)?$/i.test((await rl.question(`Apply this plan to ${plan.host}? [y/N] `)).trim());
    } finally {
      rl.close();
    }
  }

  protected override render(r: DeployResult | FleetResult): void {
    if ('canary' in r) {
      this.log(fleetTable(r));
      return;
    }
    const p = r.plan;
    this.log(`${r.host}: ${p.os} ${p.release}${p.osreldate ? ` (osreldate ${p.osreldate})` : ''}, build ${p.buildId}`);
    for (const a of p.aggregates) this.log(`  ${a.name}: ${a.action}${a.action !== 'keep' ? ` (${a.differences.join('; ')})` : ''}`);
    this.log(`  module: ${p.module.reason}`);
    for (const f of p.persist) this.log(f.diff.trimEnd());
    if (r.dryRun) {
      this.log('dry run: nothing was changed');
      return;
    }
    for (const a of r.aggregates) this.log(`  ${a.name} ${a.status}: ${a.ports.map((x) => `${x.name}<${x.flags.join(',')}>`).join(' ')}`);
    this.log(r.changed ? `deployed (guard ${r.guard})` : 'nothing to do: the host already runs this configuration');
  }
}
