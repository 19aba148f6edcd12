/**
 * Serial-console provisioning, the path BSD images without seed support take, run against a
 * real guest: the Linux lab guest booted with laggkit.login=1 has no SSH server and no keys,
 * only a root login prompt on its serial console (like FreeBSD BASIC-CI or a NetBSD live
 * image). The lab must log in, type the authorized key and its pre-generated host key, start
 * sshd through /etc/rc.d/sshd, and then reach the guest over SSH with strict host-key checking.
 */
import test from 'ava';
import fs from 'node:fs';
import { testNeeding } from '../support/require.js';
import { guestScript } from '../../src/lab/guest-ssh.js';
import { labDown, labUp } from '../../src/lab/lab.js';
import { isolatedLab } from './support/cli.js';

const { name: NAME } = await isolatedLab(test, 'lp');

testNeeding(
  test,
  'a guest with only a console login prompt is provisioned over the serial console and then reached by verified SSH',
  { root: true, tools: ['qemu-system-x86_64', 'ip', 'dropbearkey', 'ssh-keygen'] },
  async (t) => {
    const s = await labUp({ name: NAME, nics: ['virtio'], peer: 'netns', linuxProvision: 'console' });
    const vm = s.vms[0]!;
    t.log(`accelerator ${s.accel}; boot + console provisioning + SSH: ${((vm.bootToSshMs ?? 0) / 1000).toFixed(1)} s`);
    const consoleText = fs.readFileSync(vm.consoleLog, 'utf8');
    t.regex(consoleText, /login: /, 'the guest offered a console login');
    t.regex(consoleText, /^LAGGKIT-PROVISIONED/m, 'the provisioning ran on the console');
    // The connection itself proves the host key typed over the console is the one in known_hosts.
    const r = await guestScript(s, 'A', 'cat /root/.ssh/authorized_keys; cat /etc/ssh/ssh_host_ed25519_key.pub');
    t.is(r.code, 0);
    const [authorized, hostPub] = r.stdout.trim().split('\n');
    t.is(authorized, fs.readFileSync(`${s.clientKey}.pub`, 'utf8').trim());
    t.true(fs.readFileSync(s.knownHosts, 'utf8').includes(hostPub!.split(' ').slice(0, 2).join(' ')));
    await labDown(NAME);
    t.false(fs.existsSync(s.dir));
  },
);
