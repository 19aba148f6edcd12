#!/bin/sh
# Guest side of the laggkit Vagrant boxes (run as root by the Vagrantfile's shell provisioner).
# Prepares what `laggkit deploy` needs to manage the box over SSH (the Vagrantfile runs deploy
# after `vagrant up`; deploy builds, loads, configures and persists the module itself):
#   - root logs in by key (the vagrant user's key), sshd enabled;
#   - FreeBSD: /usr/src fetched when missing, for deploy's --build remote;
#   - NetBSD: the release's kernel sources (syssrc.tgz) in /usr/src/sys when missing, for
#     deploy's --build remote of laggkit.kmod; the base lagg(4) module loaded beside it.
# Idempotent: a second `vagrant provision` changes nothing.
set -eu

mkdir -p /root/.ssh
chmod 700 /root/.ssh
for home in /home/vagrant /usr/home/vagrant; do
  if [ -f "$home/.ssh/authorized_keys" ]; then
    cat "$home/.ssh/authorized_keys" >>/root/.ssh/authorized_keys
  fi
done
sort -u -o /root/.ssh/authorized_keys /root/.ssh/authorized_keys
chmod 600 /root/.ssh/authorized_keys
grep -q '^PermitRootLogin prohibit-password' /etc/ssh/sshd_config ||
  echo 'PermitRootLogin prohibit-password' >>/etc/ssh/sshd_config

case "$(uname -s)" in
FreeBSD)
  sysrc sshd_enable=YES >/dev/null
  service sshd restart
  if [ ! -f /usr/src/sys/conf/kmod.mk ]; then
    ver=$(freebsd-version -u | sed 's/-p[0-9]*$//')
    fetch -q -o /tmp/src.txz "https://download.freebsd.org/releases/$(uname -m)/$ver/src.txz"
    tar -C / -xf /tmp/src.txz
    rm -f /tmp/src.txz
  fi
  ;;
NetBSD)
  grep -q '^sshd=YES' /etc/rc.conf || echo 'sshd=YES' >>/etc/rc.conf
  /etc/rc.d/sshd restart
  if [ ! -f /usr/src/sys/sys/param.h ]; then
    ftp -o /tmp/syssrc.tgz "https://cdn.netbsd.org/pub/NetBSD/NetBSD-$(uname -r)/source/sets/syssrc.tgz"
    tar -C / -xzf /tmp/syssrc.tgz
    rm -f /tmp/syssrc.tgz
  fi
  modstat if_lagg >/dev/null 2>&1 || modload if_lagg || true
  ;;
esac
