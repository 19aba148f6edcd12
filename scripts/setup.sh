#!/usr/bin/env bash
# Installs what laggkit's demo, tests and benchmarks need on a fresh Debian machine:
# Debian packages (when run as root) and the npm dependencies. Idempotent and quiet when
# everything is already there. Not root: it lists what is missing and how to install it.
set -euo pipefail
cd "$(dirname "$0")/.."

# One line per package: what needs it.
DEBS=(
  clang            # kmod/core tests under ASan/UBSan/TSan, libFuzzer campaigns
  llvm             # llvm-symbolizer for sanitizer reports
  libclang-rt-14-dev  # sanitizer and libFuzzer runtimes
  make
  openssh-server   # real sshd for the SSH layer tests
  openssh-client   # ssh -G for ~/.ssh/config resolution, ssh-keygen, ssh-agent
  iproute2         # network namespaces and veth pairs, tc (e2e --target self: its wire namespace)
  procps           # pgrep: e2e --target self finds the process holding each side's namespaces
  iputils-ping
  ethtool          # tests read the member offloads laggd's in-kernel transmit path changes
  openvswitch-switch  # independent LACP peer (userspace datapath)
  tshark           # Wireshark's dissector checks frames on the wire
  tcpdump          # e2e: the lab target captures its links on the host loopback (failover-announce)
  iptables         # e2e: the lab target drops one direction of a link on the host (partner-silent, one-way-loss)
  qemu-system-x86  # the VM lab
  qemu-utils
  linux-image-amd64  # kernel and modules for the lab's Linux guest image
  busybox-static   # the guest's userland
  dropbear-bin     # the guest's SSH server
  cpio
  xorriso          # cidata seed ISOs
  ruby             # Vagrantfile syntax check
  socat
  kmod
  iperf3           # traffic generator for tests and benchmarks
  chromium         # headless browser the e2e HTML report is checked in (driven by puppeteer-core)
  netcat-openbsd   # simple TCP transfers across aggregates
  bsdextrautils    # hexdump for frame dumps
  mandoc           # mandoc -Tlint of the man pages (laggkit.1, kmod/freebsd and kmod/netbsd laggkit.4)
  clang-format-19  # the C house style (.clang-format), checked by npm test
  clang-19         # kmod/freebsd cross-build: FreeBSD 15's own compiler version; kmod/netbsd's too;
                   # and seqstream for e2e's FreeBSD guests that have no cc
  lld-19           # ... its linker (ld.lld-19), as FreeBSD links modules; ld -r of laggkit.kmod
  llvm-19          # ... llvm-objcopy-19 and llvm-nm-19 for bsd.kmod.mk
  bmake            # ... runs FreeBSD's share/mk and sys/conf/kmod.mk
  original-awk     # ... FreeBSD's awk for kmod_syms.awk (mawk misparses it)
  clang-16 lld-16 llvm-16   # FreeBSD 14's compiler: the module must build warning-free with it too
  clang-14 lld-14 llvm-14   # FreeBSD 13.2's compiler, likewise
)
# Installed without recommends: vagrant-libvirt's alone pull in an NFS server and libguestfs.
LEAN_DEBS=(
  vagrant          # the Vagrantfile's boxes, brought up for real
  vagrant-libvirt  # ... on libvirt's QEMU (Debian's 0.11.2; see vm/vagrant/libvirt-nic-models.rb)
  libvirt-daemon-system  # ... libvirtd, virtlogd and the default storage pool's home
  dnsmasq-base     # ... DHCP on Vagrant's management network (how it finds a box)
  syslinux         # laggkit lab vagrant-box: the box disk's boot loader
  syslinux-common
  mtools           # ... writes the box's FAT disk without mounting it
  dosfstools       # ... mkfs.fat
)
# Without systemd as PID 1 (containers, microVMs) libvirt's daemons need their init scripts.
[ -d /run/systemd/system ] || LEAN_DEBS+=(libvirt-daemon-system-sysv)

missing=() lean_missing=()
for p in "${DEBS[@]}" "${LEAN_DEBS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' && continue
  if [[ " ${LEAN_DEBS[*]} " == *" $p "* ]]; then lean_missing+=("$p"); else missing+=("$p"); fi
done
if ((${#missing[@]} + ${#lean_missing[@]})); then
  if [ "$(id -u)" = 0 ]; then
    echo "setup: installing Debian packages: ${missing[*]} ${lean_missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    ((${#missing[@]})) && apt-get install -y -qq "${missing[@]}" >/dev/null
    ((${#lean_missing[@]})) && apt-get install -y -qq --no-install-recommends "${lean_missing[@]}" >/dev/null
  else
    echo "setup: missing Debian packages: ${missing[*]} ${lean_missing[*]}" >&2
    echo "setup: run 'sudo apt-get install ${missing[*]} ${lean_missing[*]}' (tests that need them will say so)" >&2
  fi
fi

# libvirtd and virtlogd run as services; where systemd is not PID 1 nothing starts them after
# the install (or after a reboot), so start them through their init scripts.
if [ "$(id -u)" = 0 ] && [ ! -d /run/systemd/system ] && [ -x /etc/init.d/libvirtd ]; then
  for svc in virtlogd libvirtd; do
    pidof "$svc" >/dev/null || /etc/init.d/"$svc" start >/dev/null
  done
fi

# npm dependencies: install when absent or when the lock file's content changed since the last
# install. Content, not age: a fresh checkout (a git worktree sharing node_modules, a CI clone)
# has a new lock file of the same content, and reinstalling there would wipe a tree in use.
lock_sum=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ ! -d node_modules ] || [ "$(cat node_modules/.laggkit-lock.sha256 2>/dev/null)" != "$lock_sum" ]; then
  echo "setup: installing npm dependencies" >&2
  npm ci --no-audit --no-fund --loglevel=error >/dev/null
  echo "$lock_sum" > node_modules/.laggkit-lock.sha256
fi
