/**
 * The lab's files that cannot run here, validated as far as this machine allows:
 *  - Vagrantfile: Ruby's syntax check, then loaded for real with a stand-in Vagrant.configure
 *    (support/vagrant-stub.rb) that records every box, link and provisioner; the inline
 *    provisioner is syntax-checked by sh. The Linux box's own Vagrantfile (the one `laggkit lab
 *    vagrant-box` writes) goes through the same stand-in. vagrant.test.ts runs them for real.
 *  - .github/workflows/bsd-matrix.yml: parsed with the yaml package and checked against the
 *    workflow structure (on/jobs/runs-on/steps) and the bundled list of actions, versions and
 *    inputs (fixtures/workflow-actions.json); the release matrix must cover FreeBSD 13/14/15
 *    and NetBSD 9/10, and every script it runs must exist and pass `sh -n`.
 */
import test from 'ava';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { testNeeding } from '../support/require.js';
import { repo } from './support/cli.js';

interface Rec {
  attrs: Record<string, unknown>;
  calls: Array<{ method: string; args: unknown[]; options: Record<string, unknown>; block?: Rec }>;
  children: Record<string, Rec>;
}

const vagrantfile = path.join(repo, 'Vagrantfile');

/** A Vagrantfile as the stand-in records it, with Vagrant's default machine-data folder. */
function stub(file: string): Array<{ version: string; config: Rec }> {
  const { VAGRANT_DOTFILE_PATH: _moved, ...env } = process.env;
  return JSON.parse(execFileSync('ruby', [path.join(repo, 'test', 'lab', 'support', 'vagrant-stub.rb'), file], { encoding: 'utf8', env })) as Array<{
    version: string;
    config: Rec;
  }>;
}

testNeeding(test, 'Vagrantfile and the vagrant-libvirt fix it loads pass ruby -c', { tools: ['ruby'] }, (t) => {
  t.regex(execFileSync('ruby', ['-c', vagrantfile], { encoding: 'utf8' }), /Syntax OK/);
  t.regex(execFileSync('ruby', ['-c', path.join(repo, 'vm', 'vagrant', 'libvirt-nic-models.rb')], { encoding: 'utf8' }), /Syntax OK/);
});

testNeeding(
  test,
  'Vagrantfile defines FreeBSD 14/15, NetBSD 10 and the Linux lab pair, each with a virtio and an e1000 private link, provisioned by laggkit',
  { tools: ['ruby', 'sh'] },
  (t) => {
    const configs = stub(vagrantfile);
    t.is(configs.length, 1);
    t.is(configs[0]!.version, '2');
    const vm = configs[0]!.config.children.vm!;
    const defines = vm.calls.filter((c) => c.method === 'define');
    t.deepEqual(defines.map((d) => d.args[0]).sort(), ['freebsd14', 'freebsd15', 'linux-lab-a', 'linux-lab-b', 'netbsd10']);
    const guests: Record<string, string> = { freebsd14: 'freebsd', freebsd15: 'freebsd', netbsd10: 'netbsd', 'linux-lab-a': 'linux', 'linux-lab-b': 'linux' };
    for (const d of defines) {
      const name = d.args[0] as string;
      const node = d.block!.children.vm!;
      t.truthy(node.attrs.box, `${name}: a box`);
      t.is(node.attrs.guest, guests[name], `${name}: guest type`);
      const nets = node.calls.filter((c) => c.method === 'network' && c.args[0] === 'private_network');
      t.is(nets.length, 2, `${name}: two private links`);
      t.deepEqual(
        nets.map((n) => n.options.nic_type),
        ['virtio', '82540EM'],
        `${name}: VirtualBox NIC models virtio and e1000`,
      );
      t.deepEqual(
        nets.map((n) => n.options.libvirt__model_type),
        ['virtio', 'e1000'],
        `${name}: libvirt NIC models`,
      );
      t.true(
        nets.every((n) => n.options.auto_config === false),
        `${name}: links left unconfigured for lagg`,
      );
      const ips = nets.map((n) => String(n.options.ip));
      t.true(ips.every((ip) => /^10\.98\.\d\.\d+$/.test(ip)));
      const provs = node.calls.filter((c) => c.method === 'provision');
      t.is(
        provs.find((c) => c.options.type === 'file'),
        undefined,
        `${name}: deploy uploads the sources itself`,
      );
      t.true(fs.existsSync(path.join(repo, 'kmod', 'freebsd', 'Makefile')));
      const trig = d.block!.children.trigger?.calls.find((c) => c.method === 'after' && c.args.includes('up'));
      const deployCmd = () => String((trig?.block?.attrs.run as { inline?: string } | undefined)?.inline ?? trig?.block?.attrs.info);
      if (guests[name] === 'linux') {
        // The local box (laggkit lab vagrant-box) logs in as root already: no provisioner.
        t.is(node.attrs.box, 'laggkit/linux-lab', `${name}: the local box`);
        t.is(provs.length, 0, `${name}: nothing to provision`);
        t.is(node.attrs.hostname, undefined, `${name}: hostname left to the box (busybox has no hostnamectl)`);
        t.regex(String(trig?.block?.attrs.name), /^laggkit deploy$/);
        t.regex(
          deployCmd(),
          new RegExp(
            `deploy --host root@${name} --ssh-config \\.vagrant/${name}\\.ssh_config --trust-new-host-key --laggproto roundrobin --laggport vtnet0 --laggport em0 --inet 10\\.98\\.0\\.2[12]/24 --yes`,
          ),
        );
        continue;
      }
      const shell = provs.find((c) => c.options.type === 'shell');
      t.true(shell?.options.privileged === true, `${name}: shell provisioner as root`);
      const script = path.join(repo, String(shell?.options.path));
      t.true(fs.existsSync(script), `${name}: ${shell?.options.path} exists`);
      execFileSync('sh', ['-n', script]);
      // laggkit deploy builds, loads, configures and persists the module over the box's ssh-config.
      const ports = { freebsd: 'vtnet1 --laggport em0', netbsd: 'vioif1 --laggport wm0' }[guests[name] as 'freebsd' | 'netbsd'];
      t.truthy(ports, `${name}: a BSD box`);
      t.regex(String(trig?.block?.attrs.name), /^laggkit deploy$/);
      t.regex(
        deployCmd(),
        new RegExp(
          `deploy --host root@${name} --ssh-config \\.vagrant/${name}\\.ssh_config --trust-new-host-key --build remote --laggproto failover --laggport ${ports}`,
        ),
      );
    }
    t.true(fs.existsSync(path.join(repo, 'src', 'commands', 'deploy.ts')), 'the deploy command the trigger runs exists');
    // The same two link networks on every box, so any two boxes face each other.
    const linkNets = defines.map((d) =>
      d
        .block!.children.vm!.calls.filter((c) => c.method === 'network')
        .map((c) => c.options.virtualbox__intnet)
        .join(','),
    );
    t.is(new Set(linkNets).size, 1);
  },
);

testNeeding(
  test,
  "the Linux lab box's own Vagrantfile: root with Vagrant's insecure key kept, sh without sudo, the probed libvirt domain type",
  { tools: ['ruby'] },
  async (t) => {
    const { boxVagrantfile } = await import('../../src/lab/vagrant-box.js');
    for (const driver of ['qemu', 'kvm'] as const) {
      const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'lk-box-')), 'Vagrantfile');
      fs.writeFileSync(file, boxVagrantfile(driver));
      const config = stub(file)[0]!.config;
      const { vm, ssh } = config.children as Record<string, Rec>;
      t.is(vm!.attrs.guest, 'linux');
      t.like(ssh!.attrs, { username: 'root', shell: 'sh', insert_key: false, sudo_command: '%c' });
      t.like(vm!.attrs, { allow_hosts_modification: false, allow_fstab_modification: false });
      t.deepEqual(vm!.calls.find((c) => c.method === 'synced_folder')?.options, { disabled: true });
      const lv = vm!.calls.find((c) => c.method === 'provider' && c.args[0] === 'libvirt')?.block;
      t.like(lv?.attrs, { driver, memory: 256, cpus: 1, disk_bus: 'virtio', cpu_mode: driver === 'kvm' ? 'host-passthrough' : 'maximum' });
      fs.rmSync(path.dirname(file), { recursive: true });
    }
  },
);

interface Step {
  name?: string;
  uses?: string;
  run?: string;
  with?: Record<string, unknown>;
  if?: string;
}
interface Job {
  name?: string;
  'runs-on': string;
  strategy?: { matrix: Record<string, unknown[]> };
  steps: Step[];
  'timeout-minutes'?: number;
}

test('bsd-matrix workflow: valid structure, known actions and inputs, FreeBSD 13/14/15 and NetBSD 9/10', (t) => {
  const text = fs.readFileSync(path.join(repo, '.github', 'workflows', 'bsd-matrix.yml'), 'utf8');
  const doc = YAML.parse(text, { uniqueKeys: true }) as { name: string; on: Record<string, unknown>; jobs: Record<string, Job> };
  const known = JSON.parse(fs.readFileSync(path.join(repo, 'test', 'lab', 'fixtures', 'workflow-actions.json'), 'utf8')) as Record<
    string,
    { inputs: string[]; required: string[]; releases?: string[] }
  >;
  t.is(typeof doc.name, 'string');
  t.truthy(doc.on && typeof doc.on === 'object', 'on: triggers');
  for (const trig of Object.keys(doc.on)) t.true(['push', 'pull_request', 'workflow_dispatch', 'schedule'].includes(trig), `known trigger ${trig}`);
  t.deepEqual(Object.keys(doc.jobs).sort(), ['freebsd', 'netbsd']);
  const releases: Record<string, string[]> = {};
  for (const [id, job] of Object.entries(doc.jobs)) {
    t.regex(id, /^[A-Za-z_][A-Za-z0-9_-]*$/);
    t.is(job['runs-on'], 'ubuntu-latest', `${id}: a Linux runner (the VM runs inside it)`);
    t.true(Array.isArray(job.steps) && job.steps.length > 0);
    for (const step of job.steps) {
      t.true((step.uses === undefined) !== (step.run === undefined), `${id}: a step has exactly one of uses/run`);
      if (step.uses === undefined) continue;
      if (step.uses !== 'actions/checkout@v4') t.truthy(job.steps[0]?.uses === 'actions/checkout@v4', `${id}: checkout first`);
      const spec = known[step.uses];
      t.truthy(spec, `${id}: known action ${step.uses}`);
      if (!spec) continue;
      for (const k of Object.keys(step.with ?? {})) t.true(spec.inputs.includes(k), `${id}: ${step.uses} has an input '${k}'`);
      for (const r of spec.required) t.truthy(step.with?.[r], `${id}: ${step.uses} needs '${r}'`);
      if (step.uses.startsWith('vmactions/')) {
        const rel = String(step.with?.release);
        t.is(rel, '${{ matrix.release }}');
        releases[step.uses] = (job.strategy?.matrix.release ?? []).map(String);
        for (const r of releases[step.uses]!) t.true(spec.releases!.includes(r), `${step.uses} offers release ${r}`);
        const run = String(step.with?.run);
        const script = /sh (\S+\.sh)/.exec(run)?.[1];
        t.truthy(script, 'the VM runs a script from the repository');
        t.true(fs.existsSync(path.join(repo, script!)), `${script} exists`);
        execFileSync('sh', ['-n', path.join(repo, script!)]);
      }
    }
  }
  t.deepEqual(
    releases['vmactions/freebsd-vm@v1']!.map((r) => r.split('.')[0]),
    ['13', '14', '15'],
  );
  t.deepEqual(
    releases['vmactions/netbsd-vm@v1']!.map((r) => r.split('.')[0]),
    ['9', '10'],
  );
  // FreeBSD runs the product's own e2e in the VM and keeps its JUnit and HTML reports.
  const script = fs.readFileSync(path.join(repo, 'vm', 'ci', 'bsd-e2e.sh'), 'utf8');
  t.regex(script, /bin\/run\.js e2e --target self --compare stock --report \$report\/e2e/);
  const uploads = doc.jobs.freebsd!.steps.filter((s) => s.uses === 'actions/upload-artifact@v4').map((s) => String(s.with?.path));
  t.true(
    uploads.some((p) => p.includes('e2e-report/e2e/junit.xml') && p.includes('e2e-report/e2e/report.html')),
    'the JUnit and HTML reports are uploaded',
  );
  // NetBSD 10 runs it too (a rump kernel as side B) and keeps the same reports; NetBSD 9, which
  // runs none, says so instead of failing on their absence.
  t.regex(script, /elif \[ "\$major" -lt 10 \]; then\n.*# SKIP NetBSD/);
  const nbUpload = doc.jobs.netbsd!.steps.find((s) => s.uses === 'actions/upload-artifact@v4' && String(s.with?.path).includes('e2e-report/e2e/junit.xml'));
  t.truthy(nbUpload && String(nbUpload.with?.path).includes('e2e-report/e2e/report.html'), 'NetBSD uploads the JUnit and HTML reports');
  t.is(nbUpload?.with?.['if-no-files-found'], 'error');
  t.regex(String(nbUpload?.if), /!matrix\.no_e2e/);
  const include = (doc.jobs.netbsd!.strategy?.matrix.include ?? []) as Array<{ release: string; no_e2e?: string }>;
  t.deepEqual(
    include.filter((i) => i.no_e2e).map((i) => i.release.split('.')[0]),
    ['9'],
    'only NetBSD 9 goes without e2e',
  );
  // ${{ }} expressions only reference contexts that exist in a job.
  for (const m of text.matchAll(/\$\{\{\s*([^}]+?)\s*\}\}/g)) t.regex(m[1]!, /^(matrix|github|env|secrets|steps|runner)\./, `expression ${m[1]}`);
});
