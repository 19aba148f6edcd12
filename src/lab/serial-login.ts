/**
 * Provisioning a BSD guest over its serial console, for images that do not read the seed
 * (FreeBSD BASIC-CI, NetBSD without cloud-init): wait for the login prompt, log in as root
 * (these images ship with an empty root password on the console), install the lab's
 * authorized key and pre-generated host key, allow root logins by key, start sshd, and set
 * the loader's autoboot delay to 0 for the next boot. When the seed already did the work,
 * SSH answers at the login prompt and nothing is typed.
 *
 * Lines are short on purpose: FreeBSD's terminal input queue (MAX_CANON) is 255 bytes.
 */
import net from 'node:net';
import { LabError } from './errors.js';
import { connectGuest } from './guest-ssh.js';
import type { GuestLaunch } from './qemu.js';
import type { VmState } from './state.js';

export class ConsoleExpect {
  private text = '';
  private constructor(private readonly sock: net.Socket) {
    sock.setEncoding('utf8');
    sock.on('data', (d: string) => {
      // Terminal control sequences (cursor queries, colours) would hide a prompt at line end;
      // cleaned over the whole buffer because a sequence can arrive split across reads.
      this.text = (this.text + d).replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '');
      if (this.text.length > 65536) this.text = this.text.slice(-32768);
    });
  }

  static async open(socketPath: string, deadlineMs: number): Promise<ConsoleExpect> {
    while (Date.now() < deadlineMs) {
      try {
        const sock = await new Promise<net.Socket>((resolve, reject) => {
          const s = net.createConnection(socketPath, () => resolve(s));
          s.once('error', reject);
        });
        return new ConsoleExpect(sock);
      } catch {
        await new Promise((r) => setTimeout(r, 200));
      }
    }
    throw new LabError('E_LAB_CONSOLE', `cannot open the serial console ${socketPath}`);
  }

  /** Wait until the output since the last match contains `re`; consume up to the match. */
  async expect(re: RegExp, deadlineMs: number): Promise<string> {
    while (Date.now() < deadlineMs) {
      const m = re.exec(this.text);
      if (m) {
        const upto = this.text.slice(0, m.index + m[0].length);
        this.text = this.text.slice(m.index + m[0].length);
        return upto;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new LabError('E_LAB_CONSOLE_TIMEOUT', `the serial console never showed ${re} (last output: ${JSON.stringify(this.text.slice(-200))})`);
  }

  /** Whether the output so far matches, without consuming it. */
  seen(re: RegExp): boolean {
    return re.test(this.text);
  }

  send(line: string): void {
    this.sock.write(line + '\r');
  }

  close(): void {
    this.sock.destroy();
  }
}

/** Shell commands that install keys and start sshd, each line under 200 bytes. */
export function provisioningCommands(authorizedKey: string, hostKey: { privateKey: string; publicKey: string }, dataNics: string[] = []): string[] {
  const lines: string[] = ['umask 077', 'mkdir -p /root/.ssh', ': > /root/.ssh/authorized_keys'];
  for (let i = 0; i < authorizedKey.length; i += 120) lines.push(`printf %s '${authorizedKey.slice(i, i + 120)}' >> /root/.ssh/authorized_keys`);
  lines.push('echo >> /root/.ssh/authorized_keys', 'mkdir -p /etc/ssh', 'K=/etc/ssh/ssh_host_ed25519_key', ': > $K');
  for (const l of hostKey.privateKey.trim().split('\n')) lines.push(`echo '${l}' >> $K`);
  lines.push(`echo '${hostKey.publicKey}' > $K.pub`, 'chmod 600 $K', 'chmod 644 $K.pub');
  // sshd takes the first value of a keyword, and CI images set `PermitRootLogin yes` and
  // `PermitEmptyPasswords yes` (root has no password on their console): both are edited where
  // they stand, so root logs in by key only, and appended only when the file has no such line.
  lines.push('C=/etc/ssh/sshd_config');
  lines.push("sed -i.bak -e 's/^PermitRootLogin.*/PermitRootLogin prohibit-password/' -e 's/^PermitEmptyPasswords.*/PermitEmptyPasswords no/' $C");
  lines.push("grep -q '^PermitRootLogin' $C || echo 'PermitRootLogin prohibit-password' >> $C");
  lines.push("grep -q '^PermitEmptyPasswords' $C || echo 'PermitEmptyPasswords no' >> $C");
  // FreeBSD: sysrc and loader.conf; NetBSD (no sysrc): rc.conf's sshd=YES and boot.cfg.
  lines.push('command -v sysrc >/dev/null && sysrc sshd_enable=YES && sysrc -f /boot/loader.conf autoboot_delay=0');
  // The lab's data links have no DHCP server: each gets its own line (unless the image has one),
  // so an ifconfig_DEFAULT="DHCP" does not hold up every later boot waiting on them.
  for (const nic of dataNics) lines.push(`command -v sysrc >/dev/null && { grep -q '^ifconfig_${nic}=' /etc/rc.conf || sysrc ifconfig_${nic}=up; }`);
  lines.push("command -v sysrc >/dev/null || { [ -f /boot.cfg ] && sed -i.bak 's/^timeout=.*/timeout=0/' /boot.cfg; }");
  lines.push("command -v sysrc >/dev/null || grep -q '^sshd=' /etc/rc.conf || echo sshd=YES >> /etc/rc.conf");
  lines.push('(service sshd restart || /etc/rc.d/sshd restart) >/dev/null 2>&1; echo LAGGKIT-PROVISIONED');
  return lines;
}

async function sshAnswers(state: { clientKey: string; knownHosts: string }, vm: VmState): Promise<boolean> {
  try {
    const s = await connectGuest(state, vm, 3000);
    await s.close();
    return true;
  } catch {
    return false;
  }
}

export async function provisionOverConsole(
  launch: GuestLaunch,
  vm: VmState,
  authorizedKey: string,
  hostKey: { privateKey: string; publicKey: string },
  deadlineMs: number,
  labKeys?: { clientKey: string; knownHosts: string },
): Promise<'seed' | 'console'> {
  const con = await ConsoleExpect.open(launch.consoleSocket, deadlineMs);
  try {
    // Whichever comes first: SSH answering (the seed did the work) or a login prompt (it did
    // not, or the image does not print one until after its own provisioning). A boot loader
    // counting down (FreeBSD's 10-second autoboot, NetBSD's boot menu) is told to go on at once:
    // the image's own autoboot_delay only changes with provisioning, for the next boot.
    let loaderHurried = false;
    for (;;) {
      if (!loaderHurried && con.seen(/Hit \[Enter\] to boot|Autoboot in \d+ second|Press return to boot now/)) {
        con.send('');
        loaderHurried = true;
      }
      if (Date.now() > deadlineMs)
        throw new LabError(
          'E_LAB_BOOT_TIMEOUT',
          `guest ${vm.name}: neither SSH nor a console login prompt within the boot timeout`,
          `Read the console log: ${launch.consoleLog}`,
        );
      if (labKeys && (await sshAnswers(labKeys, vm))) return 'seed';
      if (con.seen(/login: ?$/m)) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    await con.expect(/login: ?$/m, deadlineMs);
    con.send('root');
    await con.expect(/(#|\$) ?$/m, Math.min(deadlineMs, Date.now() + 30_000));
    for (const line of provisioningCommands(
      authorizedKey,
      hostKey,
      launch.nics.map((n) => n.name),
    )) {
      con.send(line);
      await new Promise((r) => setTimeout(r, 30));
    }
    await con.expect(/^LAGGKIT-PROVISIONED/m, deadlineMs);
    con.send('exit');
    return 'console';
  } finally {
    con.close();
  }
}
