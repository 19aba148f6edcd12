#!/bin/sh
# laggkit end-to-end run inside a FreeBSD or NetBSD machine (what .github/workflows/bsd-matrix.yml
# runs in its VMs; it also works by hand on a test box: `sh vm/ci/bsd-e2e.sh` as root from a
# checkout). Prints TAP and writes e2e-report/ (TAP, JSON status, ifconfig captures).
#
# FreeBSD: `laggkit deploy` to this very machine over SSH (root@127.0.0.1, a key made for the
# run) builds if_laggkit.ko against /usr/src (--build remote), loads it and persists an
# aggregate; then `laggkit e2e --target self --compare stock` runs the catalogue in two vnet
# jails joined by epair links, laggkit against the base lagg(4), and writes its TAP, JUnit,
# JSON and HTML reports into e2e-report/e2e; `laggkit undeploy` restores rc.conf and
# loader.conf byte for byte and unloads the module.
# NetBSD: builds the CLI, runs the C core tests, and checks laggkit's parser on the real
# `ifconfig -a` (NetBSD 10: with a lagg(4) interface configured). On NetBSD 10 it then builds
# laggkit.kmod against the release's kernel sources (syssrc.tgz, fetched when /usr/src/sys is
# missing) and loads it beside lagg(4); `laggkit e2e --target self --compare stock` runs the
# catalogue with this machine's kernel as side A (laggkit.kmod, then lagg(4)) and a rump kernel
# (rump_server, rump's lagg(4)) as side B over tap(4)-virtif links, and writes its TAP, JUnit,
# JSON and HTML reports into e2e-report/e2e. Then it configures laggkit0 with NetBSD's own
# ifconfig words, reads its lagg block from sysctl, and checks that unloading is refused while
# laggkit0 exists. NetBSD 9 has no lagg(4) and laggkit.kmod is for 10: no e2e runs there, and
# the TAP says so.
set -u
cd "$(dirname "$0")/../.."
report=e2e-report
mkdir -p "$report"
n=0
failed=0
tap() { echo "$1" | tee -a "$report/e2e.tap"; }
ok() { n=$((n + 1)); tap "ok $n - $1"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); tap "not ok $n - $1"; }
check() { # check "description" command...
  desc=$1; shift
  if "$@" >>"$report/e2e.log" 2>&1; then ok "$desc"; else not_ok "$desc"; fi
}
: >"$report/e2e.tap"
os=$(uname -s)
tap "# laggkit e2e on $os $(uname -r) ($(uname -m))"

# The CLI: dependencies without native builds (node-pty only serves the lab console).
check "npm ci" npm ci --ignore-scripts --no-audit --no-fund
check "CLI builds (tsc)" npm run build --silent
# kmod/core's test makefile is GNU make and needs clang's sanitizers (FreeBSD's base compiler).
if command -v clang >/dev/null && command -v gmake >/dev/null; then
  check "C core unit tests (ASan+UBSan)" gmake -C kmod/core test CC=clang
else
  n=$((n + 1)); tap "ok $n - C core unit tests # SKIP needs clang and gmake"
fi

parse() { # parse FILE: laggkit's ifconfig parser on a real capture, JSON into the report
  node bin/run.js parse --json <"$1" >"$1.json" && grep -q '"ok":true' "$1.json"
}

if [ "$os" = FreeBSD ]; then
  if [ ! -f /usr/src/sys/conf/kmod.mk ]; then
    ver=$(freebsd-version -u | sed 's/-p[0-9]*$//')
    check "fetch /usr/src for $ver" sh -c "fetch -q -o /tmp/src.txz https://download.freebsd.org/releases/$(uname -m)/$ver/src.txz && tar -C / -xf /tmp/src.txz"
  fi
  # deploy reaches this machine as root over SSH with a key of the run's own.
  key=$report/id_ed25519
  [ -f "$key" ] || ssh-keygen -q -t ed25519 -N '' -f "$key"
  mkdir -p /root/.ssh && cat "$key.pub" >>/root/.ssh/authorized_keys
  grep -q '^PermitRootLogin prohibit-password' /etc/ssh/sshd_config || echo 'PermitRootLogin prohibit-password' >>/etc/ssh/sshd_config
  service sshd enabled >/dev/null 2>&1 || sysrc sshd_enable=YES >/dev/null
  service sshd restart >/dev/null 2>&1
  printf 'Host self\n  HostName 127.0.0.1\n  User root\n  IdentityFile %s\n  UserKnownHostsFile %s/known_hosts\n' "$PWD/$key" "$PWD/$report" >"$report/ssh_config"
  ssh_to_self="--ssh-config $report/ssh_config --host self"
  md5 -q /etc/rc.conf /boot/loader.conf >"$report/conf-before.md5" 2>/dev/null
  # The module gets here as a user's does: deploy builds it against /usr/src, loads it and
  # persists laggkit9 (failover over one end of an epair, so no peer is needed).
  port=$(ifconfig epair create)
  check "laggkit deploy: if_laggkit.ko built and loaded, laggkit9 verified, confirmed, persisted" sh -c "node bin/run.js deploy $ssh_to_self --trust-new-host-key --build remote --name laggkit9 --laggproto failover --laggport $port --inet 10.66.9.1/24 --yes --json >$report/deploy.json"
  check "a second deploy changes nothing" sh -c "node bin/run.js deploy $ssh_to_self --build remote --name laggkit9 --laggproto failover --laggport $port --inet 10.66.9.1/24 --yes --json | grep -q '\"changed\":false'"
  # The catalogue in two vnet jails over epair links, if_laggkit.ko against the base lagg(4).
  check "laggkit e2e --target self --compare stock" sh -c "node bin/run.js e2e --target self --compare stock --report $report/e2e >$report/e2e-catalogue.tap"
  check "laggkit undeploy" node bin/run.js undeploy $ssh_to_self
  check "rc.conf and loader.conf as before" sh -c "md5 -q /etc/rc.conf /boot/loader.conf 2>/dev/null | cmp -s - $report/conf-before.md5"
  check "if_laggkit.ko unloaded" sh -c "! kldstat -q -m if_laggkit"
  ifconfig "$port" destroy 2>/dev/null
elif [ "$os" = NetBSD ]; then
  major=$(uname -r | cut -d. -f1)
  if [ "$major" -ge 10 ]; then
    check "lagg(4) interface for the parser" sh -c "ifconfig lagg0 create && ifconfig lagg0 laggproto lacp up"
  fi
  ifconfig -a >"$report/ifconfig-a.txt" 2>&1
  check "parser reads NetBSD ifconfig -a" parse "$report/ifconfig-a.txt"
  [ "$major" -ge 10 ] && ifconfig lagg0 destroy 2>/dev/null
  if [ -d kmod/netbsd ] && [ "$major" -ge 10 ]; then
    if [ ! -f /usr/src/sys/sys/param.h ]; then
      check "kernel sources (syssrc.tgz) for NetBSD $(uname -r)" sh -c "ftp -o /tmp/syssrc.tgz https://cdn.netbsd.org/pub/NetBSD/NetBSD-$(uname -r)/source/sets/syssrc.tgz && tar -C / -xzf /tmp/syssrc.tgz"
    fi
    check "laggkit NetBSD module builds" make -C kmod/netbsd
    check "modload laggkit.kmod beside lagg(4)" sh -c "modload if_lagg 2>/dev/null; modload \"$PWD/kmod/netbsd/laggkit.kmod\""
    # The catalogue: this machine's kernel (laggkit.kmod, then lagg(4)) against a rump kernel's
    # lagg(4) over tap-virtif links. It leaves the module loaded and no laggkit0 behind, so the
    # checks below start as they would without it.
    check "laggkit e2e --target self --compare stock" sh -c "node bin/run.js e2e --target self --compare stock --report $report/e2e >$report/e2e-catalogue.tap"
    check "laggkit0: created and set with NetBSD's ifconfig words" sh -c "ifconfig laggkit0 create && ifconfig laggkit0 laggproto lacp && ifconfig laggkit0 lagglacp maxports 2 && ifconfig laggkit0 up"
    sysctl -n net.laggkit.laggkit0.status >"$report/laggkit0-status.txt" 2>&1
    check "sysctl net.laggkit.laggkit0.status: the lagg block" grep -q 'laggproto lacp' "$report/laggkit0-status.txt"
    check "sysctl net.laggkit.laggkit0.proto = roundrobin" sh -c "sysctl -w net.laggkit.laggkit0.proto=roundrobin && test \"\$(sysctl -n net.laggkit.laggkit0.proto)\" = roundrobin"
    check "modunload refused while laggkit0 exists" sh -c "! modunload laggkit"
    check "laggkit0 destroyed, module unloaded" sh -c "ifconfig laggkit0 destroy && modunload laggkit"
  elif [ "$major" -lt 10 ]; then
    n=$((n + 1)); tap "ok $n - laggkit e2e --target self # SKIP NetBSD $(uname -r) has no lagg(4), and laggkit.kmod is built for NetBSD 10"
  fi
fi

tap "1..$n"
tap "# $((n - failed)) passed, $failed failed"
[ "$failed" -eq 0 ]
