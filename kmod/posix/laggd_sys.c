/*
 * laggd's view of Linux interfaces: MAC, MTU and up/down through SIOC* ioctls, speed and duplex
 * through the ethtool ioctl, and rtnetlink for everything that happens later (link changes,
 * addresses added to an aggregate with `ip addr`, MTU changes of the TAP). Link state is read
 * only when rtnetlink says it changed: there is no polling loop.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/ethtool.h>
#include <linux/if_addr.h>
#include <linux/netlink.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "laggd.h"

/* linux/if.h has it, but cannot be included with net/if.h. */
#ifndef IFF_LOWER_UP
#define IFF_LOWER_UP 0x10000
#endif

static int ioctl_fd = -1;

int
lg_sys_init(void)
{
	ioctl_fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	return ioctl_fd < 0 ? -1 : 0;
}

static int
ifreq_for(const char *ifname, struct ifreq *ifr)
{
	memset(ifr, 0, sizeof(*ifr));
	if (strlen(ifname) >= IFNAMSIZ) {
		errno = ENAMETOOLONG;
		return -1;
	}
	strcpy(ifr->ifr_name, ifname);
	return 0;
}

int
lg_if_get_mac(const char *ifname, uint8_t mac[6])
{
	struct ifreq ifr;
	if (ifreq_for(ifname, &ifr) < 0 || ioctl(ioctl_fd, SIOCGIFHWADDR, &ifr) < 0)
		return -1;
	memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
	return 0;
}

int
lg_if_get_flags(const char *ifname, int *flags)
{
	struct ifreq ifr;
	if (ifreq_for(ifname, &ifr) < 0 || ioctl(ioctl_fd, SIOCGIFFLAGS, &ifr) < 0)
		return -1;
	*flags = ifr.ifr_flags;
	return 0;
}

int
lg_if_set_up(const char *ifname, int up)
{
	struct ifreq ifr;
	if (ifreq_for(ifname, &ifr) < 0 || ioctl(ioctl_fd, SIOCGIFFLAGS, &ifr) < 0)
		return -1;
	if (!!(ifr.ifr_flags & IFF_UP) == !!up)
		return 0;
	if (up)
		ifr.ifr_flags |= IFF_UP;
	else
		ifr.ifr_flags &= ~IFF_UP;
	return ioctl(ioctl_fd, SIOCSIFFLAGS, &ifr);
}

static int
ethtool(const char *ifname, void *cmd)
{
	struct ifreq ifr;
	if (ifreq_for(ifname, &ifr) < 0)
		return -1;
	ifr.ifr_data = (char *)cmd;
	return ioctl(ioctl_fd, SIOCETHTOOL, &ifr);
}

int
lg_if_is_veth(const char *ifname)
{
	struct ethtool_drvinfo di = { .cmd = ETHTOOL_GDRVINFO };
	return ethtool(ifname, &di) == 0 && strcmp(di.driver, "veth") == 0;
}

int
lg_if_tx_csum(const char *ifname, int on)
{
	struct ethtool_value ev = { .cmd = on < 0 ? ETHTOOL_GTXCSUM : ETHTOOL_STXCSUM, .data = on > 0 };
	if (ethtool(ifname, &ev) < 0)
		return -1;
	return on < 0 ? (int)!!ev.data : 0;
}

int
lg_if_set_mac(const char *ifname, const uint8_t mac[6])
{
	struct ifreq ifr;
	uint8_t cur[6];
	int flags;

	if (lg_if_get_mac(ifname, cur) == 0 && memcmp(cur, mac, 6) == 0)
		return 0;
	if (ifreq_for(ifname, &ifr) < 0)
		return -1;
	ifr.ifr_hwaddr.sa_family = 1; /* ARPHRD_ETHER */
	memcpy(ifr.ifr_hwaddr.sa_data, mac, 6);
	if (ioctl(ioctl_fd, SIOCSIFHWADDR, &ifr) == 0)
		return 0;
	/* Drivers without live address change want the interface down for a moment. */
	if (errno != EBUSY || lg_if_get_flags(ifname, &flags) < 0 || !(flags & IFF_UP))
		return -1;
	if (lg_if_set_up(ifname, 0) < 0)
		return -1;
	int rc = ioctl(ioctl_fd, SIOCSIFHWADDR, &ifr);
	int saved = errno;
	lg_if_set_up(ifname, 1);
	errno = saved;
	return rc;
}

int
lg_if_set_txqlen(const char *ifname, int qlen)
{
	struct ifreq ifr;
	if (ifreq_for(ifname, &ifr) < 0)
		return -1;
	ifr.ifr_qlen = qlen;
	return ioctl(ioctl_fd, SIOCSIFTXQLEN, &ifr);
}

int
lg_if_get_mtu(const char *ifname, uint32_t *mtu)
{
	struct ifreq ifr;
	if (ifreq_for(ifname, &ifr) < 0 || ioctl(ioctl_fd, SIOCGIFMTU, &ifr) < 0)
		return -1;
	*mtu = (uint32_t)ifr.ifr_mtu;
	return 0;
}

int
lg_if_set_mtu(const char *ifname, uint32_t mtu)
{
	struct ifreq ifr;
	uint32_t cur;
	if (lg_if_get_mtu(ifname, &cur) == 0 && cur == mtu)
		return 0;
	if (ifreq_for(ifname, &ifr) < 0)
		return -1;
	ifr.ifr_mtu = (int)mtu;
	return ioctl(ioctl_fd, SIOCSIFMTU, &ifr);
}

/*
 * Link, speed and duplex of an interface. Link is "up" when the interface is administratively
 * up and has carrier, read with ETHTOOL_GLINK (the driver's own carrier, as bonding's miimon
 * reads it). IFF_RUNNING is only the fallback for drivers without it: it mirrors the
 * operational state, which the kernel's link-watch updates up to a second after the carrier
 * when the event is not "urgent" (a veth coming up on the side that set it up), and that
 * second was the whole of laggd's LACP convergence lag behind Open vSwitch. Speed/duplex come
 * from ETHTOOL_GSET; drivers without ethtool support report unknown (0 / LK_DUPLEX_UNKNOWN).
 */
int
lg_if_media(const char *ifname, int *up, uint64_t *speed_bps, int *duplex)
{
	struct ifreq ifr;
	struct ethtool_cmd ecmd;
	struct ethtool_value link = { .cmd = ETHTOOL_GLINK };
	int flags;

	if (lg_if_get_flags(ifname, &flags) < 0)
		return -1;
	*speed_bps = 0;
	*duplex = LK_DUPLEX_UNKNOWN;
	if (ifreq_for(ifname, &ifr) < 0)
		return -1;
	ifr.ifr_data = (char *)&link;
	if (ioctl(ioctl_fd, SIOCETHTOOL, &ifr) == 0)
		*up = (flags & IFF_UP) && link.data != 0;
	else
		*up = (flags & IFF_UP) && (flags & IFF_RUNNING);
	memset(&ecmd, 0, sizeof(ecmd));
	ecmd.cmd = ETHTOOL_GSET;
	ifr.ifr_data = (char *)&ecmd;
	if (ioctl(ioctl_fd, SIOCETHTOOL, &ifr) == 0) {
		uint32_t mbps = ethtool_cmd_speed(&ecmd);
		if (mbps != 0 && mbps != (uint32_t)SPEED_UNKNOWN)
			*speed_bps = (uint64_t)mbps * 1000000u;
		if (ecmd.duplex == DUPLEX_FULL)
			*duplex = LK_DUPLEX_FULL;
		else if (ecmd.duplex == DUPLEX_HALF)
			*duplex = LK_DUPLEX_HALF;
	}
	return 0;
}

/*
 * The link as the driver's ethtool get_link answers: 1, 0, or -1 when it has none. For most
 * drivers that is the carrier bit again; some look at the hardware. Linux's e1000 sets its
 * carrier only from a watchdog that runs every 2 s (the link interrupt asks for an earlier
 * run, but the periodic one is already queued and wins), while get_link reads the PHY as soon
 * as that interrupt has marked the link stale: a pulled cable shows here at once.
 */
int
lg_if_ethtool_link(const char *ifname)
{
	struct ifreq ifr;
	struct ethtool_value link = { .cmd = ETHTOOL_GLINK };

	if (ifreq_for(ifname, &ifr) < 0)
		return -1;
	ifr.ifr_data = (char *)&link;
	if (ioctl(ioctl_fd, SIOCETHTOOL, &ifr) < 0)
		return -1;
	return link.data != 0;
}

/* The first bytes of /sys/class/net/IFNAME/ATTR, NUL-terminated; -1 when unreadable. */
static int
sysfs_read(const char *ifname, const char *attr, char *buf, size_t len)
{
	char path[96];
	snprintf(path, sizeof(path), "/sys/class/net/%s/%s", ifname, attr);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, len - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	return 0;
}

/* Is /sys/class/net/IFNAME this namespace's interface? In a namespace whose /sys shows
 * another one, an entry of that name is a namesake with another ifindex (or there is none). */
static int
sysfs_ours(const char *ifname, int ifindex)
{
	char buf[16];
	return sysfs_read(ifname, "ifindex", buf, sizeof(buf)) == 0 && atoi(buf) == ifindex;
}

/* /sys/class/net/IFNAME/carrier opened for reading again and again (pread at 0), or -1 when
 * /sys is not this namespace's (sysfs_ours). The carrier watch keeps it open. */
int
lg_if_carrier_fd(const char *ifname, int ifindex)
{
	char path[96];
	if (!sysfs_ours(ifname, ifindex))
		return -1;
	snprintf(path, sizeof(path), "/sys/class/net/%s/carrier", ifname);
	return open(path, O_RDONLY | O_CLOEXEC);
}

/*
 * Is the interface up with carrier? SIOCGIFFLAGS reads under RCU; sysfs's carrier file reads
 * the driver's carrier bit, without the ethtool call lg_if_media() makes, but since Linux 6.14
 * it too takes the RTNL (before that, a trylock that restarted the read): nothing a process can
 * read gives the carrier without it (IFF_LOWER_UP does not fit SIOCGIFFLAGS's 16 bits, and
 * IFF_RUNNING follows link-watch). Where /sys belongs to another namespace (its entry of that
 * name has another ifindex, or none), ETHTOOL_GLINK answers instead.
 * Returns 1 or 0, or -1 when the interface cannot be read.
 */
int
lg_if_link(const char *ifname, int ifindex)
{
	char buf[16];
	int flags;

	if (lg_if_get_flags(ifname, &flags) < 0)
		return -1;
	if (!(flags & IFF_UP))
		return 0;
	if (sysfs_ours(ifname, ifindex) && sysfs_read(ifname, "carrier", buf, sizeof(buf)) == 0)
		return buf[0] == '1';
	int up;
	uint64_t speed;
	int duplex;
	return lg_if_media(ifname, &up, &speed, &duplex) < 0 ? -1 : up;
}

/*
 * The kind of an interface's root qdisc ("noqueue", "fq_codel", "mq", ...), from IFLA_QDISC of an
 * RTM_GETLINK answer. Takes the RTNL: for configuration, not for the frame path.
 */
int
lg_if_qdisc(int ifindex, char *kind, size_t len)
{
	struct {
		struct nlmsghdr nh;
		struct ifinfomsg ifi;
	} req;
	static char buf[16 * 1024];
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	int rc = -1;
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd < 0)
		return -1;
	memset(&req, 0, sizeof(req));
	req.nh.nlmsg_len = sizeof(req);
	req.nh.nlmsg_type = RTM_GETLINK;
	req.nh.nlmsg_flags = NLM_F_REQUEST;
	req.ifi.ifi_family = AF_UNSPEC;
	req.ifi.ifi_index = ifindex;
	kind[0] = '\0';
	if (sendto(fd, &req, sizeof(req), 0, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		goto out;
	ssize_t n = recv(fd, buf, sizeof(buf), 0);
	for (struct nlmsghdr *nh = (struct nlmsghdr *)buf; n > 0 && NLMSG_OK(nh, (unsigned)n);
	    nh = NLMSG_NEXT(nh, n)) {
		if (nh->nlmsg_type != RTM_NEWLINK)
			continue;
		struct ifinfomsg *ifi = NLMSG_DATA(nh);
		int alen = (int)IFLA_PAYLOAD(nh);
		for (struct rtattr *rta = IFLA_RTA(ifi); RTA_OK(rta, alen); rta = RTA_NEXT(rta, alen))
			if (rta->rta_type == IFLA_QDISC && RTA_PAYLOAD(rta) > 0) {
				snprintf(
				    kind, len, "%.*s", (int)RTA_PAYLOAD(rta), (const char *)RTA_DATA(rta));
				rc = 0;
			}
	}
out:
	close(fd);
	return rc;
}

/* ---- rtnetlink -------------------------------------------------------------------------- */

int
lg_nl_open_events(void)
{
	struct sockaddr_nl sa;
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd < 0)
		return -1;
	memset(&sa, 0, sizeof(sa));
	sa.nl_family = AF_NETLINK;
	/* RTMGRP_TC: a member's root qdisc decides whether its socket bypasses it (laggd_lagg.c). */
	sa.nl_groups = RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR | RTMGRP_TC;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -1;
	}
	/* Link flaps can come in bursts; a larger buffer keeps ENOBUFS away. */
	int sz = 1 << 20;
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	return fd;
}

static struct lg_lagg *
lagg_by_tap_ifindex(int ifindex)
{
	for (struct lg_lagg *l = lg.laggs; l; l = l->next)
		if (l->tap_ifindex == ifindex)
			return l;
	return NULL;
}

static void
handle_link(struct nlmsghdr *nh)
{
	struct ifinfomsg *ifi = NLMSG_DATA(nh);
	struct lg_port *p = lg_port_by_ifindex(ifi->ifi_index);

	if (p && nh->nlmsg_type == RTM_DELLINK) {
		/* The interface is gone (unplugged, module unloaded): it leaves the aggregate, as a
		 * departing ifnet leaves a lagg. Its socket would otherwise report errors forever. */
		char err[256];
		struct lg_lagg *l = p->lagg;
		lg_log(1, "%s: member %s disappeared; removing it", l->name, p->name);
		if (lg_port_detach(l, p, err, sizeof(err)) < 0)
			lg_log(0, "%s", err);
		return;
	}
	if (p) {
		/* The message carries the link as it is: IFF_LOWER_UP is the driver's carrier (not
		 * the operational state link-watch updates later). No ioctl: see lg_port_link_event. */
		int alen = (int)IFLA_PAYLOAD(nh);
		for (struct rtattr *rta = IFLA_RTA(ifi); RTA_OK(rta, alen); rta = RTA_NEXT(rta, alen))
			if (rta->rta_type == IFLA_QDISC && RTA_PAYLOAD(rta) > 0 &&
			    ((const char *)RTA_DATA(rta))[RTA_PAYLOAD(rta) - 1] == '\0')
				lg_port_set_qdisc(p, RTA_DATA(rta));
		lg_port_link_event(p, (ifi->ifi_flags & IFF_UP) && (ifi->ifi_flags & IFF_LOWER_UP));
		return;
	}
	struct lg_lagg *l = lagg_by_tap_ifindex(ifi->ifi_index);
	if (!l)
		return;
	if (nh->nlmsg_type == RTM_DELLINK) {
		/* `ip link del laggkit0`: the aggregate goes with its interface, members restored. */
		lg_log(1, "%s: interface deleted; destroying the aggregate", l->name);
		lg_lagg_destroy(l);
		return;
	}
	lg_lagg_tap_updown(l, (ifi->ifi_flags & IFF_UP) != 0);
	/* An MTU set on the aggregate with `ip link set laggkit0 mtu N` reaches the members. */
	int len = (int)IFLA_PAYLOAD(nh);
	for (struct rtattr *rta = IFLA_RTA(ifi); RTA_OK(rta, len); rta = RTA_NEXT(rta, len)) {
		if (rta->rta_type == IFLA_MTU && RTA_PAYLOAD(rta) >= sizeof(uint32_t)) {
			uint32_t mtu;
			struct lk_status st;
			memcpy(&mtu, RTA_DATA(rta), sizeof(mtu));
			if (lk_get_status(l->sc, &st) == 0 && st.mtu != mtu) {
				int rc = lk_set_mtu(l->sc, mtu);
				if (rc != 0)
					lg_log(1, "%s: mtu %u not applied to members: %s", l->name, mtu,
					    lk_strerror(rc));
			}
		}
	}
}

static void
handle_addr(struct nlmsghdr *nh)
{
	struct ifaddrmsg *ifa = NLMSG_DATA(nh);
	struct lg_lagg *l = lagg_by_tap_ifindex((int)ifa->ifa_index);
	const uint8_t *addr = NULL, *local = NULL;

	if (!l)
		return;
	int len = (int)IFA_PAYLOAD(nh);
	for (struct rtattr *rta = IFA_RTA(ifa); RTA_OK(rta, len); rta = RTA_NEXT(rta, len)) {
		if (rta->rta_type == IFA_ADDRESS)
			addr = RTA_DATA(rta);
		else if (rta->rta_type == IFA_LOCAL)
			local = RTA_DATA(rta);
	}
	/* For IPv4 IFA_LOCAL is the interface's own address (IFA_ADDRESS is the peer on p2p). */
	if (local)
		addr = local;
	if (!addr || (ifa->ifa_family != AF_INET && ifa->ifa_family != AF_INET6))
		return;
	int fam = ifa->ifa_family == AF_INET ? 4 : 6;
	int rc;
	if (nh->nlmsg_type == RTM_NEWADDR) {
		rc = lk_announce_addr_add(l->sc, fam, addr);
		if (rc != 0 && rc != LK_EEXIST)
			lg_log(
			    1, "%s: address not registered for announcements: %s", l->name, lk_strerror(rc));
	} else {
		lk_announce_addr_del(l->sc, fam, addr);
	}
}

/* A root qdisc added to or removed from a member (`tc qdisc ... root`); clsact/ingress are not
 * on the transmit path and are ignored (laggd adds one itself, laggd_isolate.c). */
static void
handle_qdisc(struct nlmsghdr *nh)
{
	struct tcmsg *tcm = NLMSG_DATA(nh);
	struct lg_port *p;

	if (nh->nlmsg_len < NLMSG_LENGTH(sizeof(*tcm)) || tcm->tcm_parent != TC_H_ROOT)
		return;
	p = lg_port_by_ifindex(tcm->tcm_ifindex);
	if (!p)
		return;
	if (nh->nlmsg_type == RTM_DELQDISC) {
		/* The default comes back; which one is not in the message. Keep the queue until the
		 * next link message names it. */
		lg_port_set_qdisc(p, "");
		return;
	}
	int len = (int)(nh->nlmsg_len - NLMSG_LENGTH(sizeof(*tcm)));
	for (struct rtattr *rta = (struct rtattr *)((char *)tcm + NLMSG_ALIGN(sizeof(*tcm)));
	    RTA_OK(rta, len); rta = RTA_NEXT(rta, len))
		if (rta->rta_type == TCA_KIND && RTA_PAYLOAD(rta) > 0 &&
		    ((const char *)RTA_DATA(rta))[RTA_PAYLOAD(rta) - 1] == '\0')
			lg_port_set_qdisc(p, RTA_DATA(rta));
}

static void
nl_dispatch(char *buf, ssize_t n)
{
	for (struct nlmsghdr *nh = (struct nlmsghdr *)buf; NLMSG_OK(nh, (unsigned)n);
	    nh = NLMSG_NEXT(nh, n)) {
		switch (nh->nlmsg_type) {
		case RTM_NEWLINK:
		case RTM_DELLINK:
			handle_link(nh);
			break;
		case RTM_NEWADDR:
		case RTM_DELADDR:
			handle_addr(nh);
			break;
		case RTM_NEWQDISC:
		case RTM_DELQDISC:
			handle_qdisc(nh);
			break;
		default:
			break;
		}
	}
}

void
lg_nl_readable(void)
{
	static char buf[64 * 1024];
	for (;;) {
		ssize_t n = recv(lg.nlfd, buf, sizeof(buf), 0);
		if (n < 0) {
			if (errno == ENOBUFS) {
				/* Events were lost: re-read every member's link state instead. */
				lg_log(1, "rtnetlink overrun; re-reading link state");
				for (struct lg_lagg *l = lg.laggs; l; l = l->next) {
					int flags;

					if (lg_if_get_flags(l->name, &flags) == 0)
						lg_lagg_tap_updown(l, (flags & IFF_UP) != 0);
					for (int i = 0; i < LK_MAX_PORTS; i++)
						if (l->ports[i].used)
							lg_port_refresh_link(&l->ports[i]);
				}
				continue;
			}
			return;
		}
		nl_dispatch(buf, n);
	}
}

/* One request on a private netlink socket, waiting for its acknowledgement. */
int
lg_nl_request(struct nlmsghdr *req)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	char buf[4096];
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd < 0)
		return -errno;
	int rc = -EIO;
	if (sendto(fd, req, req->nlmsg_len, 0, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		rc = -errno;
		goto out;
	}
	for (;;) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);
		if (n < 0) {
			rc = -errno;
			goto out;
		}
		for (struct nlmsghdr *nh = (struct nlmsghdr *)buf; NLMSG_OK(nh, (unsigned)n);
		    nh = NLMSG_NEXT(nh, n)) {
			if (nh->nlmsg_type == NLMSG_ERROR) {
				struct nlmsgerr *e = NLMSG_DATA(nh);
				rc = e->error;
				goto out;
			}
		}
	}
out:
	close(fd);
	return rc;
}

void *
lg_nl_put(struct nlmsghdr *nh, size_t cap, int type, const void *data, size_t len)
{
	struct rtattr *rta = (struct rtattr *)((char *)nh + NLMSG_ALIGN(nh->nlmsg_len));
	if (NLMSG_ALIGN(nh->nlmsg_len) + RTA_SPACE(len) > cap)
		return NULL;
	rta->rta_type = (unsigned short)type;
	rta->rta_len = (unsigned short)RTA_LENGTH(len);
	if (len)
		memcpy(RTA_DATA(rta), data, len);
	nh->nlmsg_len = NLMSG_ALIGN(nh->nlmsg_len) + RTA_SPACE(len);
	return rta;
}

/* Close a nested attribute opened with lg_nl_put(nh, cap, type, NULL, 0). */
void
lg_nl_nest_end(struct nlmsghdr *nh, void *nest)
{
	struct rtattr *rta = nest;
	if (rta)
		rta->rta_len = (unsigned short)((char *)nh + nh->nlmsg_len - (char *)rta);
}

/* Add or delete an address on an interface (what `ip addr add/del` does). Returns -errno. */
int
lg_nl_addr(int ifindex, int family, const uint8_t *addr, int prefixlen, int add)
{
	union {
		struct nlmsghdr nh;
		char buf[256];
	} req;
	memset(&req, 0, sizeof(req));
	req.nh.nlmsg_len = NLMSG_LENGTH(sizeof(struct ifaddrmsg));
	req.nh.nlmsg_type = add ? RTM_NEWADDR : RTM_DELADDR;
	req.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | (add ? NLM_F_CREATE | NLM_F_EXCL : 0);
	struct ifaddrmsg *ifa = NLMSG_DATA(&req.nh);
	ifa->ifa_family = (unsigned char)(family == 4 ? AF_INET : AF_INET6);
	ifa->ifa_prefixlen = (unsigned char)prefixlen;
	ifa->ifa_index = (unsigned)ifindex;
	size_t alen = family == 4 ? 4 : 16;
	lg_nl_put(&req.nh, sizeof(req), IFA_LOCAL, addr, alen);
	lg_nl_put(&req.nh, sizeof(req), IFA_ADDRESS, addr, alen);
	if (family == 4 && prefixlen < 31) {
		uint32_t a, mask = prefixlen ? htonl(~0u << (32 - prefixlen)) : 0;
		memcpy(&a, addr, 4);
		a |= ~mask;
		lg_nl_put(&req.nh, sizeof(req), IFA_BROADCAST, &a, 4);
	}
	if (family == 6) {
		/* Like `ip addr add ... nodad`: a lagg address is usable at once. */
		uint32_t fl = IFA_F_NODAD;
		lg_nl_put(&req.nh, sizeof(req), IFA_FLAGS, &fl, sizeof(fl));
	}
	return lg_nl_request(&req.nh);
}

/* Register the addresses the TAP already has (laggd restarted, or addresses added early). */
void
lg_nl_sync_addrs(struct lg_lagg *l)
{
	struct {
		struct nlmsghdr nh;
		struct ifaddrmsg ifa;
	} req;
	static char buf[64 * 1024];
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd < 0)
		return;
	memset(&req, 0, sizeof(req));
	req.nh.nlmsg_len = sizeof(req);
	req.nh.nlmsg_type = RTM_GETADDR;
	req.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	req.ifa.ifa_family = AF_UNSPEC;
	if (sendto(fd, &req, sizeof(req), 0, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return;
	}
	for (;;) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);
		if (n <= 0)
			break;
		int done = 0;
		for (struct nlmsghdr *nh = (struct nlmsghdr *)buf; NLMSG_OK(nh, (unsigned)n);
		    nh = NLMSG_NEXT(nh, n)) {
			if (nh->nlmsg_type == NLMSG_DONE || nh->nlmsg_type == NLMSG_ERROR)
				done = 1;
			else if (nh->nlmsg_type == RTM_NEWADDR &&
			    ((struct ifaddrmsg *)NLMSG_DATA(nh))->ifa_index == (unsigned)l->tap_ifindex)
				handle_addr(nh);
		}
		if (done)
			break;
	}
	close(fd);
}
