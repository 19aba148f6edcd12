#!/usr/bin/env python3
"""Run the ATF suite of kmod/freebsd/tests in a FreeBSD guest under QEMU.

Boots a FreeBSD raw disk image with snapshot=on (the image is never written), hands the guest
if_laggkit.ko and this directory on an ISO 9660 disc, logs in on the serial console as root
(empty password), loads the module and runs `kyua test` (or, without kyua in the image, each
ATF case through atf-sh, or says why not). Everything the guest prints goes to --log; the
last line on stdout is "N passed, N failed, N skipped".

  vm-run.py --image FreeBSD.raw --ko if_laggkit.ko [--kernel kernel.debug] [--log FILE]
            [--timeout SECONDS] [--shell]

--kernel boots another kernel directory of the image (/boot/<name>), e.g. the
INVARIANTS+WITNESS kernel.debug. The guest console is searched for panics and for witness lock
order reversals: one that names a laggkit lock fails the run, others (the kernel's own) are
listed.
"""
import argparse
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PROMPT = 'LKVM# '


class Console:
    """The guest's serial console on a unix socket QEMU serves, with a transcript.

    Not QEMU's stdio: keys written there while the loader waits for one (autoboot_delay=0)
    were not seen in time, so the loader prompt could not be reached reliably.
    """

    def __init__(self, argv, sock_path, log):
        self.p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log,
                                  stderr=subprocess.STDOUT)
        self.sock = socket.socket(socket.AF_UNIX)
        for _ in range(300):  # QEMU waits for this connection before it starts the guest
            try:
                self.sock.connect(sock_path)
                break
            except OSError:
                if self.p.poll() is not None:
                    raise RuntimeError('QEMU exited before its serial socket was up')
                time.sleep(0.1)
        else:
            raise RuntimeError('no QEMU serial socket')
        self.buf = b''
        self.log = log

    def send(self, text):
        self.sock.sendall(text.encode())

    def expect(self, pattern, timeout, bad=None):
        """Wait for a regex; return the text before and including it. `bad` fails early."""
        rx = re.compile(pattern.encode())
        brx = re.compile(bad.encode()) if bad else None
        end = time.time() + timeout
        while True:
            if brx is not None and brx.search(self.buf):
                raise RuntimeError(f'guest console shows {bad!r}')
            m = rx.search(self.buf)
            if m:
                out, self.buf = self.buf[:m.end()], self.buf[m.end():]
                return out.decode(errors='replace')
            left = end - time.time()
            if left <= 0 or self.p.poll() is not None:
                raise TimeoutError(f'no {pattern!r} within {timeout} s')
            r, _, _ = select.select([self.sock], [], [], min(left, 1.0))
            if r:
                chunk = self.sock.recv(65536)
                self.log.write(chunk)
                self.log.flush()
                self.buf += chunk

    def run(self, cmd, timeout=120):
        """Run one shell command in the guest; return (status, output)."""
        self.send(cmd + '; echo "LKRC=$?"\n')
        out = self.expect(r'LKRC=(\d+)\r?\n' + re.escape(PROMPT), timeout)
        rc = int(re.search(r'LKRC=(\d+)\r?\n' + re.escape(PROMPT), out).group(1))
        body = out.rsplit('LKRC=', 1)[0].replace('\r', '')
        lines = body.split('\n')
        if lines and cmd[:30] in lines[0]:  # the terminal's echo, before stty -echo
            lines = lines[1:]
        return rc, '\n'.join(lines)

    def close(self):
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait()


def witness_reversals(console):
    """(1st, 2nd) lock lines of each witness 'lock order reversal:' report."""
    found = []
    for m in re.finditer(r'lock order reversal:\r?\n\s*1st (.*?)\r?\n\s*2nd (.*?)\r?\n', console):
        found.append((m.group(1).strip(), m.group(2).strip()))
    return found


def make_iso(ko, work):
    root = os.path.join(work, 'iso')
    os.makedirs(root)
    shutil.copy(ko, os.path.join(root, 'if_laggkit.ko'))
    for f in ('Kyuafile', 'laggkit_test.sh', 'laggkit_subr.sh', 'atf-sh-standin.sh'):
        shutil.copy(os.path.join(HERE, f), os.path.join(root, f))
    iso = os.path.join(work, 'laggkit.iso')
    subprocess.run(['xorriso', '-as', 'mkisofs', '-quiet', '-R', '-o', iso, root], check=True)
    return iso


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--image', required=True)
    ap.add_argument('--ko', required=True)
    ap.add_argument('--kernel', default='')
    ap.add_argument('--log', default='')
    ap.add_argument('--timeout', type=int, default=900)
    ap.add_argument('--case-timeout', type=int, default=300)
    ap.add_argument('--qemu', default='qemu-system-x86_64')
    ap.add_argument('--shell', action='store_true', help='leave the console to the user')
    a = ap.parse_args()

    work = tempfile.mkdtemp(prefix='laggkit-vm.')
    log = open(a.log or os.path.join(work, 'console.log'), 'wb')
    iso = make_iso(a.ko, work)
    # /dev/kvm here is nested and broken. -cpu max: a kernel built for x86-64-v2 (CPUTYPE, or a
    # tree that defaults to it) resets at once on QEMU's default qemu64 CPU, which lacks SSE4/POPCNT.
    accel = ['-accel', 'tcg,thread=multi', '-cpu', 'max']
    argv = [a.qemu, '-m', '2048', '-smp', '2', *accel, '-monitor', 'none',
            '-drive', f'file={a.image},format=raw,if=virtio,snapshot=on',
            '-drive', f'file={iso},format=raw,if=virtio,readonly=on',
            '-netdev', 'user,id=n0', '-device', 'virtio-net-pci,netdev=n0',
            '-display', 'none']
    sock_path = os.path.join(work, 'serial.sock')
    con = Console([*argv, '-serial', f'unix:{sock_path},server=on,wait=on'], sock_path, log)
    # a test runner's timeout (SIGTERM) must not leave the guest running
    signal.signal(signal.SIGTERM, lambda *_: (con.close(), sys.exit(1)))
    started = time.time()
    passed = failed = skipped = 0
    try:
        if a.kernel:
            # Escape to the loader prompt and boot the other kernel. With autoboot_delay=0
            # the loader looks for a key once, right after "Hit [Enter]", and a key sent
            # before it reads loader.conf (console="comconsole") is lost: keep pressing from
            # the kernel's loading on (nothing else reads keys meanwhile) until the prompt.
            con.expect(r'Loading kernel', 300)
            for _ in range(600):
                con.send(' ')
                try:
                    con.expect(r'OK ', 0.2, bad=r'Booting \[')
                    break
                except TimeoutError:
                    continue
            else:
                raise TimeoutError('no loader prompt')
            con.send(f'boot {a.kernel}\r')
        # the firmware banner twice: the kernel reset the machine instead of booting
        con.expect(r'login: ', 600, bad=r'SeaBIOS[\s\S]*SeaBIOS')
        boot_s = time.time() - started
        con.send('root\n')
        if 'Password:' in con.expect(r'(Password:|[#$%] )', 60):
            con.send('\n')  # the image's root has an empty password
            con.expect(r'[#$%] ', 60)
        # The login shell may still be asking the terminal its size (resizewin), which eats
        # what is typed meanwhile: repeat until the prompt shows. The PS1 line is quoted so
        # that its echo does not read as the prompt.
        quoted_prompt = PROMPT[:-2] + "''" + PROMPT[-2:]
        for _ in range(10):
            con.send("exec /bin/sh\n")
            time.sleep(1)
            con.send(f"PS1='{quoted_prompt}'; export PS1\n")
            try:
                con.expect(re.escape(PROMPT), 20)
                break
            except TimeoutError:
                continue
        else:
            raise TimeoutError('no shell prompt')
        con.run('stty -echo', 30)
        rc, osrel = con.run('sysctl -n kern.osreldate kern.ident', 20)
        print(f'guest up in {boot_s:.0f} s; kern.osreldate, kern.ident: {" ".join(osrel.split())}')
        con.run('mkdir -p /tmp/lk && mount -t cd9660 /dev/vtbd1 /tmp/lk || '
                'mount_cd9660 /dev/vtbd1 /tmp/lk', 30)
        con.run('mkdir -p /root/lk && cp /tmp/lk/* /root/lk/ && chmod +x /root/lk/*.sh', 30)
        rc, out = con.run('kldload /root/lk/if_laggkit.ko && sysctl net.link.laggkit.version '
                          'net.link.laggkit.build_id', 60)
        print(out.strip())
        if rc != 0:
            failed += 1
            raise RuntimeError('kldload failed')
        if a.shell:
            print('console is yours (Ctrl-A X quits QEMU)')
            con.close()
            os.execvp(a.qemu, [*argv, '-serial', 'mon:stdio'])  # not reached: interactive use re-boots by hand
        rc, _ = con.run('command -v kyua', 10)
        if rc == 0:
            # kyua test prints one "laggkit_test:case  ->  result  [time]" line per case
            rc, out = con.run('cd /root/lk && LAGGKIT_KO=/root/lk/if_laggkit.ko kyua test',
                              a.timeout)
            print(out)
            rc, rep = con.run('cd /root/lk && kyua report --verbose --results-filter '
                              'broken,failed', 120)
            print(rep)
            for line in out.splitlines():
                m = re.match(r'\s*laggkit_test:(\S+)\s+->\s+(\w+)', line)
                if m:
                    st = m.group(2)
                    if st == 'passed':
                        passed += 1
                    elif st == 'skipped':
                        skipped += 1
                    else:
                        failed += 1
        else:
            # an image built WITHOUT_TESTS has neither kyua nor atf-sh: atf-sh-standin.sh
            # runs the same program with atf-sh's semantics
            rc, _ = con.run('test -x /usr/libexec/atf-sh', 10)
            atf = '/usr/libexec/atf-sh' if rc == 0 else 'sh /root/lk/atf-sh-standin.sh'
            print(f'kyua is not in the image: running each case with {atf}')
            # on one marked line: the console's echo of a long command can wrap into the output
            rc, listing = con.run(f'cd /root/lk && echo "LKNAMES=$({atf} ./laggkit_test.sh -l | '
                                  "awk '/^ident:/ {print $2}' | tr '\\n' ' ')\"", 30)
            found = re.search(r'^LKNAMES=([A-Za-z0-9_ ]+)$', listing, re.M)
            names = found.group(1) if found else ''
            if not names.split():
                print(f'no test cases listed: {listing[-300:]}')
                failed += 1
            for name in names.split():
                rc, out = con.run(f'cd /root/lk && mkdir -p w.{name} && cd w.{name} && '
                                  f'LAGGKIT_KO=/root/lk/if_laggkit.ko {atf} ../laggkit_test.sh '
                                  f'-r result -s /root/lk {name} >out 2>&1; '
                                  f'echo "LKRES=$(head -1 result)"; {atf} ../laggkit_test.sh '
                                  f'-s /root/lk {name}:cleanup >/dev/null 2>&1', a.case_timeout)
                # Marked, not the last line: the console also carries syslog's messages (an
                # image with ifconfig_DEFAULT=DHCP runs dhclient on every epair a case makes).
                found = re.findall(r'LKRES=(.*)', out)
                res = found[-1].strip() if found and found[-1].strip() else 'broken'
                print(f'laggkit_test:{name}  ->  {res}')
                if res.startswith('passed'):
                    passed += 1
                elif res.startswith('skipped'):
                    skipped += 1
                else:
                    failed += 1
                    rc, detail = con.run(f'tail -30 /root/lk/w.{name}/out', 30)
                    print(detail.rstrip())
        rc, dm = con.run('dmesg | grep -E "laggkit|lock order reversal|panic|WARNING" | '
                         'tail -40', 30)
        print('--- guest dmesg (laggkit, witness) ---')
        print(dm.rstrip())
        con.run('kldunload if_laggkit', 60)
    except (TimeoutError, RuntimeError) as e:
        print(f'vm-run: {e}')
        failed += 1
    finally:
        con.close()
        log.close()
        text = open(log.name, 'rb').read().decode(errors='replace')
        for bad in ('panic:', 'Fatal trap', 'Fatal double fault'):
            if bad in text:
                print(f'vm-run: guest console shows "{bad}" (see {log.name})')
                failed += 1
        for first, second in witness_reversals(text):
            # a laggkit lock by name, or any lock taken in the module's own source
            ours = any('laggkit' in lock.split('@')[0] or '/kmod/freebsd/' in lock
                       for lock in (first, second))
            print(f'vm-run: witness lock order reversal{" (laggkit)" if ours else ""}: '
                  f'{first} / {second}')
            if ours:
                failed += 1
        print(f'console transcript: {log.name}')
    print(f'{passed} passed, {failed} failed, {skipped} skipped')
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
