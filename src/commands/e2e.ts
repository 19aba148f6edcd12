/**
 * `laggkit e2e`: run the scenario catalogue on a target, optionally against the stock driver,
 * and write TAP, JUnit XML, JSON and HTML reports. The work is in src/e2e; this screen parses
 * flags, streams progress (TAP when stdout is not a terminal, a live line per case when it is)
 * and maps a failed scenario to exit code 10.
 */
import * as Flags from '@oclif/core/flags';
import { LaggkitCommand } from '../cli/base-command.js';
import { hostFlags, hostOptions } from '../cli/host-flags.js';
import { LaggkitError, UsageError } from '../cli/errors.js';
import { runCases, type CaseResult, type E2eResult } from '../e2e/engine.js';
import { writeReports, type ReportFiles } from '../e2e/report/index.js';
import { STOCK_NAMES, stockChoice } from '../e2e/drivers.js';
import { caseLine, figureLine, tapFooter, tapPlan, tapPoint } from '../e2e/report/text.js';
import { defaultCatalogueDir, expandCases, filterCases, loadCatalogue, parseNicFilter, parseProtoList, type ScenarioCase } from '../e2e/scenario.js';
import { openTarget, TARGET_KINDS, type E2eTarget, type TargetKind } from '../e2e/targets/index.js';
import type { GuestOs } from '../lab/machines.js';

interface E2eOutput {
  result?: E2eResult;
  reports?: ReportFiles;
  /** --list: the cases that would run */
  cases?: Array<{ id: string; title: string; file: string; needs: string[] }>;
}

/** Flags that belong to another target are refused before anything starts, not ignored. */
interface TargetFlags {
  host?: string[];
  link?: string[];
  lab?: string;
  'keep-lab'?: boolean;
  guest?: string;
  image?: string;
  'boot-timeout'?: number;
  sysroot?: string;
  kernbuild?: string;
  stock?: string;
  compare?: string;
}

function checkTargetFlags(target: TargetKind, f: TargetFlags): void {
  const hosts = f.host?.length ?? 0;
  if (target === 'host' && (hosts !== 2 || !f.link?.length))
    throw new UsageError(
      'E_E2E_HOSTS',
      '--target host needs --host twice (A, then B) and at least one --link A-if=B-if',
      'Example: --target host --host root@a --host root@b --link vtnet1=vtnet1',
    );
  if (target === 'self' && hosts > 1)
    throw new UsageError('E_E2E_HOSTS', '--target self runs on one machine: give --host at most once', 'For two machines use --target host.');
  if ((target === 'lab' || target === 'vagrant') && hosts > 0)
    throw new UsageError('E_E2E_HOSTS', `--host is for --target host and self, not ${target}`, 'Leave --host out, or pick --target host.');
  if (target !== 'host' && f.link?.length)
    throw new UsageError('E_E2E_HOSTS', `--link is for --target host, not ${target}`, `Target ${target} knows its own links: leave --link out.`);
  if (target !== 'lab' && (f.lab || f['keep-lab']))
    throw new UsageError('E_E2E_HOSTS', `--lab and --keep-lab are for --target lab, not ${target}`, 'Leave them out.');
  const labOnly = (['image', 'boot-timeout', 'sysroot', 'kernbuild'] as const).filter((k) => f[k] !== undefined);
  if (target !== 'lab' && (f.guest !== 'linux' || labOnly.length))
    throw new UsageError(
      'E_E2E_HOSTS',
      `${f.guest !== 'linux' ? '--guest' : `--${labOnly[0]}`} is for --target lab, not ${target}`,
      `Target ${target} runs on the OS its machines have: leave it out.`,
    );
  if ((f.guest === 'freebsd' || f.guest === 'netbsd') && !f.lab && !f.image)
    throw new UsageError(
      'E_E2E_IMAGE',
      `--guest ${f.guest} needs --image PATH (a ${f.guest === 'freebsd' ? 'FreeBSD' : 'NetBSD'} disk image)`,
      f.guest === 'freebsd' ? 'Example: --guest freebsd --image FreeBSD-15.0-BASIC-CI.raw' : 'Example: --guest netbsd --image NetBSD-10.1-amd64.qcow2',
    );
  if (f.guest === 'netbsd' && f.kernbuild)
    throw new UsageError('E_KERNBUILD', '--kernbuild is for FreeBSD; a NetBSD module needs no kernel build directory', 'Leave --kernbuild out.');
  if (f.stock !== undefined) {
    if (f.compare !== 'stock')
      throw new UsageError('E_E2E_STOCK', `--stock ${f.stock} names the driver --compare stock runs`, 'Add --compare stock (or leave --stock out).');
    // The lab's guests' OS is known now; the other targets' once they are reached.
    if (target === 'lab' && !f.lab) stockChoice(f.guest as GuestOs, f.stock);
    if (target === 'vagrant') stockChoice('linux', f.stock);
  }
}

export default class E2e extends LaggkitCommand {
  static override summary = 'Run the end-to-end scenario catalogue on a target and report (TAP, JUnit, JSON, HTML)';
  static override description = [
    'Each scenario (e2e/scenarios/*.yaml) sets up an aggregate on two hosts, acts on it (create, converge, traffic,',
    'cable pulls, MTU) and checks bounds on what it measured. --compare stock runs every case again on the',
    "OS's own driver (Linux bonding; FreeBSD's lagg(4) with --guest freebsd; NetBSD's lagg(4), or agr(4) with --stock agr,",
    'with --guest netbsd) and prints each figure as laggkit, stock and their ratio. Targets: lab (two QEMU guests, Linux,',
    'or with --guest freebsd|netbsd BSD guests, where the kernel module gets there through laggkit deploy and goes again',
    'through undeploy; cables pulled by QMP, frames dropped and recorded on the host; on NetBSD, LACP runs on the e1000',
    'links only, since vioif(4) reports no link speed); self (this machine as root, or the one --host machine: Linux',
    "namespaces or FreeBSD vnet jails joined by epairs (no cable pulls there), the machine's own network untouched;",
    'NetBSD has no per-jail network stack and is',
    'refused saying so); host (two Linux or two NetBSD machines over SSH, --host twice and --link A-if=B-if; no cable',
    'pull: those cases are skipped with the reason); vagrant (linux-lab-a and linux-lab-b through vagrant ssh-config,',
    'cables pulled through libvirt). laggd, laggctl and seqstream are copied to a Linux machine that lacks them,',
    'seqstream is compiled on a BSD one, and they are removed again at the end. What a target or driver cannot run',
    '(agr(4) has LACP only; NetBSD lagg(4) has no roundrobin or broadcast) is reported skipped with the reason.',
    'Exit 0 when every case passed or was skipped, 10 when a case failed.',
  ].join(' ');
  static override examples = [
    '<%= config.bin %> e2e',
    '<%= config.bin %> e2e --compare stock --report out/',
    '<%= config.bin %> e2e --guest freebsd --image FreeBSD-15.0-BASIC-CI.raw --sysroot /usr/src --compare stock',
    '<%= config.bin %> e2e --guest netbsd --image NetBSD-10.1-amd64.qcow2 --compare stock --stock agr',
    "<%= config.bin %> e2e --only 'lacp-*' --proto lacp,failover --nic virtio,e1000 --repeat 5",
    '<%= config.bin %> e2e --lab lab --only cable-pull --json',
    '<%= config.bin %> e2e --target self --compare stock --report out/',
    '<%= config.bin %> e2e --target host --host root@a --host root@b --link eth1=eth1 --link eth2=eth2 -i ~/.ssh/id_ed25519',
    '<%= config.bin %> e2e --target vagrant --trust-new-host-key',
    '<%= config.bin %> e2e --list',
  ];
  static override flags = {
    target: Flags.string({
      description:
        'Where to run: lab (the built-in QEMU lab), self (one machine: namespaces on Linux, vnet jails on FreeBSD), host (two machines over SSH), vagrant',
      options: [...TARGET_KINDS],
      default: 'lab',
    }),
    lab: Flags.string({ description: 'Use this running lab instead of starting one (target lab)' }),
    guest: Flags.string({
      description: 'target lab: the guests e2e starts (freebsd and netbsd need --image)',
      options: ['linux', 'freebsd', 'netbsd'],
      default: 'linux',
    }),
    image: Flags.string({ description: 'target lab: the FreeBSD or NetBSD disk image the guests boot from (as laggkit lab up --image)' }),
    'boot-timeout': Flags.integer({ description: 'target lab: seconds each guest may take to boot', min: 30, max: 7200 }),
    sysroot: Flags.string({
      description: 'BSD guests: build the module here against this source tree (deploy --build local: FreeBSD, or a netbsd-10 tree); else on the guests',
    }),
    kernbuild: Flags.string({ description: 'FreeBSD: the built kernel folder for --sysroot (deploy --kernbuild)' }),
    'keep-lab': Flags.boolean({ description: 'Leave the lab e2e started running afterwards', default: false }),
    host: Flags.string({
      description: 'target host: a machine (user@host:port or ssh alias), twice: A then B; target self: the one machine to run on',
      multiple: true,
    }),
    link: Flags.string({ description: 'target host: a data link as A-interface=B-interface (same name on both), once per link', multiple: true }),
    'ssh-config': hostFlags['ssh-config'],
    identity: hostFlags.identity,
    'trust-new-host-key': hostFlags['trust-new-host-key'],
    become: hostFlags.become,
    only: Flags.string({ description: 'Only cases whose scenario name or case id matches this glob (repeatable)', multiple: true }),
    proto: Flags.string({ description: 'Only these protocols (comma list: lacp,failover,loadbalance,roundrobin,broadcast)' }),
    nic: Flags.string({ description: 'Only cases whose members are all of these NIC models (comma list: virtio,e1000)' }),
    repeat: Flags.integer({ description: 'Run every case this many times (figures are medians)', default: 1, min: 1, max: 100 }),
    compare: Flags.string({ description: "Also run each case on the OS's own driver", options: ['stock', 'none'], default: 'none' }),
    stock: Flags.string({
      description: "The OS's own driver --compare stock runs, where it has two: on NetBSD lagg (the default) or agr",
      options: STOCK_NAMES,
    }),
    report: Flags.string({ description: 'Write report.tap, junit.xml, report.json and report.html into this folder' }),
    scenarios: Flags.string({ description: 'Scenario folder', default: defaultCatalogueDir(), defaultHelp: async () => 'e2e/scenarios' }),
    list: Flags.boolean({ description: 'List the cases that would run, run nothing', default: false }),
  };

  protected async execute(): Promise<E2eOutput> {
    const { flags } = await this.parse(E2e);
    const cases = filterCases(expandCases(loadCatalogue(flags.scenarios)), {
      only: flags.only,
      protos: flags.proto ? parseProtoList(flags.proto) : undefined,
      nics: flags.nic ? parseNicFilter(flags.nic) : undefined,
    });
    if (cases.length === 0) throw new UsageError('E_E2E_NO_CASES', 'no scenario case matches --only/--proto/--nic', 'See the cases with: laggkit e2e --list');
    if (flags.list) return { cases: cases.map((c) => ({ id: c.id, title: c.scenario.title, file: c.file, needs: c.scenario.needs })) };
    checkTargetFlags(flags.target as TargetKind, flags);
    const compare = flags.compare as 'stock' | 'none';
    // Interrupted, what the target made goes too: no guests or namespaces left behind a Ctrl-C.
    // A signal while the target is still being set up waits for the setup, then closes it.
    let target: E2eTarget | undefined;
    let interrupted: NodeJS.Signals | undefined;
    const stop = (signal: NodeJS.Signals, t: E2eTarget): void =>
      void t
        .close()
        .catch((err: Error) => process.stderr.write(`laggkit e2e: cleaning up the target failed: ${err.message}\n`))
        .finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
    const onSignal = (signal: NodeJS.Signals): void => {
      process.stderr.write(`\nlaggkit e2e: ${signal}, stopping (again to quit at once)\n`);
      interrupted = signal;
      if (target) stop(signal, target);
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    try {
      target = await openTarget(flags.target as TargetKind, {
        lab: flags.lab,
        keep: flags['keep-lab'],
        guest: flags.guest as GuestOs,
        ...(flags.stock ? { stock: flags.stock } : {}),
        ...(flags.image ? { image: flags.image } : {}),
        ...(flags['boot-timeout'] ? { timeoutSec: flags['boot-timeout'] } : {}),
        ...(flags.sysroot ? { sysroot: flags.sysroot } : {}),
        ...(flags.kernbuild ? { kernbuild: flags.kernbuild } : {}),
        hosts: (flags.host ?? []).map((h) => hostOptions({ ...flags, host: h }, h)),
        links: flags.link ?? [],
        ssh: hostOptions({ ...flags, host: undefined }, ''),
        onProgress: (l) => this.progress(l),
      });
    } catch (err) {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      throw err;
    }
    if (interrupted) {
      stop(interrupted, target);
      return await new Promise<never>(() => {});
    }
    let result: E2eResult;
    try {
      result = await runCases(target, cases, this.progressHooks(cases, compare, flags.repeat));
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      if (!interrupted) await target.close();
    }
    // Cases cut short by the signal's clean-up fail on their own; the exit is the signal's (130
    // or 143), given by stop() once the target is closed, not the failed cases' 10.
    if (interrupted) return await new Promise<never>(() => {});
    const reports = flags.report ? writeReports(flags.report, result) : undefined;
    if (result.totals.fail > 0) {
      const failed = result.cases.filter((c) => c.status === 'fail').map((c) => c.id);
      const err = new LaggkitError(
        'e2eFailed',
        'E_E2E_FAILED',
        `${failed.length} of ${result.cases.length} e2e case(s) failed: ${failed.join(', ')}`,
        reports ? `Open ${reports.html} for the evidence.` : 'Run again with --report DIR for the evidence (JUnit, JSON, HTML).',
      );
      err.partialResult = { result, reports };
      throw err;
    }
    return { result, reports };
  }

  /** TAP on a pipe, a live line per case on a terminal, nothing on stdout with --json. */
  private progressHooks(cases: ScenarioCase[], compare: 'stock' | 'none', repeat: number): Parameters<typeof runCases>[2] {
    if (this.jsonMode) return { compare, repeat };
    if (process.stdout.isTTY !== true) {
      let n = 0;
      process.stdout.write(tapPlan(cases.length * repeat * (compare === 'stock' ? 2 : 1)));
      return { compare, repeat, onRunEnd: (c, r) => process.stdout.write(tapPoint(++n, c.id, r, repeat)) };
    }
    const spin = ['|', '/', '-', '\\'];
    let timer: NodeJS.Timeout | undefined;
    return {
      compare,
      repeat,
      onCaseStart: (c, i, total) => {
        const start = Date.now();
        let k = 0;
        timer = setInterval(
          () => process.stdout.write(`\r\x1b[K${spin[k++ % 4]} [${i + 1}/${total}] ${c.id}  ${((Date.now() - start) / 1000).toFixed(0)} s`),
          250,
        );
      },
      onCaseEnd: (c: CaseResult) => {
        clearInterval(timer);
        const line = caseLine(c);
        const colour = c.status === 'pass' ? 32 : c.status === 'fail' ? 31 : 90;
        // The live lines only run on a terminal; NO_COLOR still turns the colour off there.
        process.stdout.write(`\r\x1b[K${process.env.NO_COLOR ? line : `\x1b[${colour}m${line}\x1b[0m`}\n`);
      },
    };
  }

  protected override render(out: E2eOutput): void {
    if (out.cases) {
      for (const c of out.cases) this.log(`${c.id}  ${c.title}${c.needs.length ? `  (needs ${c.needs.join(', ')})` : ''}`);
      return;
    }
    const res = out.result!;
    if (process.stdout.isTTY !== true) process.stdout.write(tapFooter(res));
    else {
      for (const c of res.cases) for (const f of c.figures) this.log(`  ${figureLine(c.id, f)}`);
      this.log(`${res.totals.pass} passed, ${res.totals.fail} failed, ${res.totals.skip} skipped`);
    }
    if (out.reports) process.stderr.write(`reports: ${out.reports.html} (and report.tap, junit.xml, report.json)\n`);
  }

  /** A failed run still ends its TAP stream with the figures before the error line. */
  protected override fail(err: LaggkitError): never {
    const partial = err.partialResult as { result?: E2eResult; reports?: ReportFiles } | undefined;
    if (!this.jsonMode && partial?.result) {
      if (process.stdout.isTTY !== true) process.stdout.write(tapFooter(partial.result));
      if (partial.reports) process.stderr.write(`reports: ${partial.reports.html}\n`);
    }
    return super.fail(err);
  }
}
