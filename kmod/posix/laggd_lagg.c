/*
 * laggd aggregates: the TAP interface, the member ports (AF_PACKET, read in recvmmsg batches),
 * the core's host callbacks, and the frame path between them.
 *
 * The frame path allocates nothing: TAP frames are read into a per-aggregate arena of
 * LG_BATCH slots, each member keeps a preallocated sendmmsg batch that points into that arena,
 * and member frames are received into a second arena and handed to the core from there.
 *
 * Members are read with recvmmsg rather than a TPACKET_V3 ring: a V3 ring signals readiness
 * only when a block is retired, and its timeout counts in jiffies (4 ms at the HZ=250 of
 * Debian's kernels), so every frame waited up to 4 ms and a 1 ms stream through laggd showed
 * 3-8 ms silences even with nothing failing. A plain socket is readable per frame; batching
 * comes from recvmmsg and from the main loop's wakeup moderation (laggd_main.c).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/if_tun.h>
#include <linux/io_uring.h>
#include <net/if.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "laggd.h"

/* ---- Lookup ------------------------------------------------------------------------------- */

struct lg_lagg *
lg_lagg_find(const char *name)
{
	for (struct lg_lagg *l = lg.laggs; l; l = l->next)
		if (strcmp(l->name, name) == 0)
			return l;
	return NULL;
}

struct lg_port *
lg_port_by_name(const char *name, struct lg_lagg **lagg_out)
{
	for (struct lg_lagg *l = lg.laggs; l; l = l->next)
		for (int i = 0; i < LK_MAX_PORTS; i++)
			if (l->ports[i].used && strcmp(l->ports[i].name, name) == 0) {
				if (lagg_out)
					*lagg_out = l;
				return &l->ports[i];
			}
	return NULL;
}

struct lg_port *
lg_port_by_ifindex(int ifindex)
{
	for (struct lg_lagg *l = lg.laggs; l; l = l->next)
		for (int i = 0; i < LK_MAX_PORTS; i++)
			if (l->ports[i].used && l->ports[i].ifindex == ifindex)
				return &l->ports[i];
	return NULL;
}

/* The port a core callback names: a member, or the one lk_port_add() is adding right now. */
static struct lg_port *
port_of(struct lg_lagg *l, uint32_t port)
{
	if (port >= LK_MAX_PORTS)
		return NULL;
	if (l->ports[port].used)
		return &l->ports[port];
	return l->adding;
}

/* ---- Host callbacks ------------------------------------------------------------------------ */

static uint64_t
host_now_ns(void *host)
{
	(void)host;
	return lg_now_ns();
}

static void
host_timer_arm(void *host, uint64_t delay_ns)
{
	struct lg_lagg *l = host;
	struct itimerspec its;
	memset(&its, 0, sizeof(its));
	if (delay_ns == 0)
		delay_ns = 1; /* zero would disarm */
	its.it_value.tv_sec = (time_t)(delay_ns / 1000000000u);
	its.it_value.tv_nsec = (long)(delay_ns % 1000000000u);
	timerfd_settime(l->timerfd, 0, &its, NULL);
}

static int
host_ctl_transmit(void *host, uint32_t port, const uint8_t *frame, uint32_t len)
{
	struct lg_port *p = port_of(host, port);
	if (!p || p->fd < 0)
		return LK_ENOENT;
	/* LACPDUs, markers and announcements: where a tap (tcpdump) on the member sees them. */
	if (send(p->ctlfd >= 0 ? p->ctlfd : p->fd, frame, len, MSG_DONTWAIT) < 0) {
		p->tx_errors++;
		return LK_EBUSY;
	}
	return 0;
}

static int
host_port_set_lladdr(void *host, uint32_t port, const uint8_t mac[LK_ETHER_ADDR_LEN])
{
	struct lg_port *p = port_of(host, port);
	if (!p)
		return LK_ENOENT;
	if (lg_if_set_mac(p->name, mac) < 0) {
		lg_log(1, "%s: cannot set MAC: %s", p->name, strerror(errno));
		return LK_EBUSY;
	}
	return 0;
}

static int
host_port_set_mtu(void *host, uint32_t port, uint32_t mtu)
{
	struct lg_port *p = port_of(host, port);
	if (!p)
		return LK_ENOENT;
	if (lg_if_set_mtu(p->name, mtu) < 0) {
		lg_log(1, "%s: cannot set MTU %u: %s", p->name, mtu, strerror(errno));
		return LK_EINVAL;
	}
	return 0;
}

/*
 * The TAP takes a new aggregate MAC only in lg_lagg_settle(), after the command that changed
 * it: see there.
 */
static void
host_lagg_lladdr_changed(void *host, const uint8_t mac[LK_ETHER_ADDR_LEN])
{
	struct lg_lagg *l = host;
	memcpy(l->tap_mac, mac, sizeof(l->tap_mac));
	l->tap_mac_pending = 1;
}

/*
 * Give the TAPs the aggregate MACs changed since the last call (after every command, config
 * file and main loop round). The members were reprogrammed first, with this thread waiting in
 * their drivers (a virtio NIC asks its host, milliseconds under emulation); what they received
 * meanwhile was sent to the old MAC by peers that do not know the new one yet, and the stack
 * would drop it once the TAP had the new one. So it is delivered first, under the old MAC; the
 * TAP's change then makes the kernel announce the new one (arp_notify), the first frame laggd
 * sends after it.
 */
void
lg_lagg_settle(void)
{
	for (struct lg_lagg *l = lg.laggs; l; l = l->next) {
		lg_rxpath_sync(l);
		lg_txpath_sync(l);
		if (!l->tap_mac_pending)
			continue;
		l->tap_mac_pending = 0;
		for (int i = 0; i < LK_MAX_PORTS; i++)
			if (l->ports[i].used && l->ports[i].fd >= 0)
				lg_port_readable(&l->ports[i]);
		if (l->tapfd >= 0 && lg_if_set_mac(l->name, l->tap_mac) < 0)
			lg_log(1, "%s: cannot set MAC: %s", l->name, strerror(errno));
	}
}

static void
host_lagg_link_changed(void *host, int up, uint64_t speed_bps)
{
	struct lg_lagg *l = host;
	int carrier = !!up;
	(void)speed_bps;
	/* The TAP's carrier follows the aggregate, so `ip link` shows LOWER_UP/NO-CARRIER. The
	 * core also calls here when only the speed changed (a member of several left): the ioctl
	 * takes the RTNL, so it is made only when the carrier changes. */
	if (carrier == l->carrier)
		return;
	if (l->tapfd >= 0 && ioctl(l->tapfd, TUNSETCARRIER, &carrier) < 0)
		lg_log(3, "%s: TUNSETCARRIER: %s", l->name, strerror(errno));
	else
		l->carrier = carrier;
}

static void *
host_alloc(void *host, size_t size)
{
	(void)host;
	return calloc(1, size);
}

static void
host_free(void *host, void *ptr)
{
	(void)host;
	free(ptr);
}

/*
 * Grace period for a retired txmap: laggd runs the frame path and configuration on one thread,
 * so when the core retires a table no lk_output()/lk_input() can still be reading it. Freeing
 * at once is therefore safe. A laggd with frame-path threads must defer this free until every
 * such thread has passed a quiescent point.
 */
static void
host_retire(void *host, void *old_txmap)
{
	(void)host;
	free(old_txmap);
}

static void
host_log(void *host, int level, const char *msg)
{
	struct lg_lagg *l = host;
	lg_log(level, "%s: %s", l->name, msg);
}

static const struct lk_host_ops lg_host_ops = {
	.now_ns = host_now_ns,
	.timer_arm = host_timer_arm,
	.ctl_transmit = host_ctl_transmit,
	.port_set_lladdr = host_port_set_lladdr,
	.port_set_mtu = host_port_set_mtu,
	.lagg_lladdr_changed = host_lagg_lladdr_changed,
	.lagg_link_changed = host_lagg_link_changed,
	.alloc = host_alloc,
	.free = host_free,
	.retire = host_retire,
	.log = host_log,
};

/* ---- Aggregate lifecycle -------------------------------------------------------------------- */

static int
tap_open(const char *name, int *ifindex)
{
	struct ifreq ifr;
	int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -1;
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	*ifindex = (int)if_nametoindex(name);
	if (lg_if_set_txqlen(name, LG_TAP_TXQLEN) < 0)
		lg_log(1, "%s: txqueuelen %d: %s", name, LG_TAP_TXQLEN, strerror(errno));
	/* No carrier until a member is active, as for a lagg with no ports. */
	int carrier = 0;
	ioctl(fd, TUNSETCARRIER, &carrier);
	return fd;
}

/*
 * io_uring for the TAP, if this kernel can: one read of the new (empty) TAP must come back
 * -EAGAIN. A kernel without IORING_OP_READ says -EINVAL, one whose TAP does not take
 * RWF_NOWAIT -EOPNOTSUPP; either way the TAP keeps plain calls.
 */
static int
tap_uring_init(struct lg_lagg *l)
{
	struct iovec iov = { l->arena, LG_FRAME_MAX };
	int res;
	if (lg_uring_init(&l->uring, LG_BATCH) < 0)
		return -1;
	if (lg_uring_rw(&l->uring, IORING_OP_READ, l->tapfd, &iov, 1, &res) < 0 ||
	    (res < 0 && res != -EAGAIN)) {
		int e = res < 0 ? -res : errno;
		lg_uring_fini(&l->uring);
		errno = e;
		return -1;
	}
	return 0;
}

int
lg_lagg_create(const char *name, char *err, size_t errlen)
{
	struct lg_lagg *l;
	int rc;

	if (lg_lagg_find(name)) {
		snprintf(err, errlen, "%s: aggregate already exists", name);
		return -1;
	}
	if (if_nametoindex(name) != 0) {
		snprintf(err, errlen, "%s: an interface of that name already exists", name);
		return -1;
	}
	l = calloc(1, sizeof(*l));
	if (!l)
		goto nomem;
	l->tapfd = l->timerfd = -1;
	snprintf(l->name, sizeof(l->name), "%s", name);
	l->sc = aligned_alloc(64, (lk_softc_size(LG_CORE_CPUS) + 63) & ~(size_t)63);
	l->arena = malloc((size_t)LG_BATCH * LG_FRAME_MAX);
	l->rx_arena = malloc((size_t)LG_BATCH * LG_RX_SLOT);
	if (!l->sc || !l->arena || !l->rx_arena)
		goto nomem;
	for (int i = 0; i < LG_BATCH; i++) {
		l->rxiov[i].iov_base = l->rx_arena + (size_t)i * LG_RX_SLOT + LG_RX_HEADROOM;
		l->rxiov[i].iov_len = LG_FRAME_MAX;
	}
	memset(l->sc, 0, lk_softc_size(LG_CORE_CPUS));
	for (int i = 0; i < LK_MAX_PORTS; i++)
		l->ports[i].fd = l->ports[i].ctlfd = -1;

	l->timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (l->timerfd < 0) {
		snprintf(err, errlen, "%s: timerfd: %s", name, strerror(errno));
		goto fail;
	}
	l->tapfd = tap_open(name, &l->tap_ifindex);
	if (l->tapfd < 0) {
		snprintf(err, errlen, "%s: cannot create TAP interface: %s", name, strerror(errno));
		goto fail;
	}
	rc = lk_init(l->sc, &lg_host_ops, l, name, LG_CORE_CPUS);
	if (rc != 0) {
		snprintf(err, errlen, "%s: core init failed: %s", name, lk_strerror(rc));
		goto fail_tap;
	}
	if (tap_uring_init(l) < 0)
		lg_log(2, "%s: io_uring unavailable (%s); TAP frames go one system call each", name,
		    strerror(errno));
	l->tap_rd_batch = LG_TAP_RD_MIN;
	(void)lg_rxpath_open(l); /* without it, members' frames come through laggd */
	(void)lg_txpath_open(l); /* without it, the stack's frames go through laggd */
	l->tap_src = (struct lg_src){ LG_SRC_TAP, l, l->tapfd };
	l->timer_src = (struct lg_src){ LG_SRC_TIMER, l, l->timerfd };
	if (lg_epoll_add(&l->tap_src) < 0 || lg_epoll_add(&l->timer_src) < 0) {
		snprintf(err, errlen, "%s: epoll: %s", name, strerror(errno));
		lg_epoll_del(&l->tap_src);
		lg_uring_fini(&l->uring);
		lg_rxpath_close(l);
		lg_txpath_close(l);
		lk_fini(l->sc);
		goto fail_tap;
	}
	l->next = lg.laggs;
	lg.laggs = l;
	lg_nl_sync_addrs(l);
	lg_log(2, "%s: created", name);
	return 0;

nomem:
	snprintf(err, errlen, "%s: out of memory", name);
	goto fail;
fail_tap:
	close(l->tapfd);
fail:
	if (l) {
		if (l->timerfd >= 0)
			close(l->timerfd);
		free(l->sc);
		free(l->arena);
		free(l->rx_arena);
		free(l);
	}
	return -1;
}

static void
port_close(struct lg_port *p)
{
	if (p->fd >= 0) {
		lg_epoll_del(&p->src);
		close(p->fd);
	}
	if (p->ctlfd >= 0)
		close(p->ctlfd);
	p->fd = p->ctlfd = -1;
}

void
lg_lagg_destroy(struct lg_lagg *l)
{
	char err[128];
	for (struct lg_lagg **pp = &lg.laggs; *pp; pp = &(*pp)->next)
		if (*pp == l) {
			*pp = l->next;
			break;
		}
	/* Remove members one by one so each gets its MAC, MTU and up/down state back. */
	for (int i = 0; i < LK_MAX_PORTS; i++)
		if (l->ports[i].used)
			lg_port_detach(l, &l->ports[i], err, sizeof(err));
	lk_fini(l->sc);
	lg_epoll_del(&l->tap_src);
	lg_epoll_del(&l->timer_src);
	lg_uring_fini(&l->uring);
	lg_rxpath_close(l);
	lg_txpath_close(l);
	close(l->tapfd);
	close(l->timerfd);
	lg_log(2, "%s: destroyed", l->name);
	free(l->sc);
	free(l->arena);
	free(l->rx_arena);
	free(l);
}

/* ---- Members -------------------------------------------------------------------------------- */

static int
port_open(struct lg_port *p, char *err, size_t errlen)
{
	struct sockaddr_ll sll;
	struct packet_mreq mr;
	int v;

	p->fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, htons(ETH_P_ALL));
	if (p->fd < 0) {
		snprintf(err, errlen, "%s: AF_PACKET socket: %s", p->name, strerror(errno));
		return -1;
	}
	/* The 802.1Q tag a NIC strips comes with each frame as auxiliary data. */
	v = 1;
	if (setsockopt(p->fd, SOL_PACKET, PACKET_AUXDATA, &v, sizeof(v)) < 0)
		goto fail;
	/* A queue deep enough for a burst (the hostile-frame tests send 5000 at once); root may
	 * exceed rmem_max, anyone else gets what the system allows. */
	v = LG_RX_SOCKBUF;
	if (setsockopt(p->fd, SOL_SOCKET, SO_RCVBUFFORCE, &v, sizeof(v)) < 0)
		setsockopt(p->fd, SOL_SOCKET, SO_RCVBUF, &v, sizeof(v));
	/* Our own transmissions must not come back as input (they would loop to the TAP). */
	v = 1;
	if (setsockopt(p->fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &v, sizeof(v)) < 0)
		goto fail;
	memset(&sll, 0, sizeof(sll));
	sll.sll_family = AF_PACKET;
	sll.sll_protocol = htons(ETH_P_ALL);
	sll.sll_ifindex = p->ifindex;
	if (bind(p->fd, (struct sockaddr *)&sll, sizeof(sll)) < 0)
		goto fail;
	memset(&mr, 0, sizeof(mr));
	mr.mr_ifindex = p->ifindex;
	mr.mr_type = PACKET_MR_PROMISC;
	if (setsockopt(p->fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr, sizeof(mr)) < 0)
		goto fail;
	int sz = 4 << 20;
	setsockopt(p->fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	/* Control frames get a socket of their own that never bypasses the qdisc, so a capture on
	 * the member shows them whatever the data path does (lg_port_set_qdisc). Protocol 0:
	 * it receives nothing. */
	p->ctlfd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	sll.sll_protocol = 0;
	if (p->ctlfd < 0 || bind(p->ctlfd, (struct sockaddr *)&sll, sizeof(sll)) < 0)
		goto fail;
	p->src = (struct lg_src){ LG_SRC_PORT, p, p->fd };
	if (lg_epoll_add(&p->src) < 0)
		goto fail;
	return 0;
fail:
	snprintf(err, errlen, "%s: AF_PACKET setup: %s", p->name, strerror(errno));
	close(p->fd);
	if (p->ctlfd >= 0)
		close(p->ctlfd);
	p->fd = p->ctlfd = -1;
	return -1;
}

/*
 * The member's link as the core sees it: down while the aggregate's TAP is down. A TAP that is
 * down takes no frames, so nothing a partner sends could be delivered: LACP stays silent and
 * nothing is forwarded until the aggregate comes up, as if_laggkit does in the BSD kernels.
 */
static void
port_tell_core(struct lg_port *p)
{
	lk_port_link(
	    p->lagg->sc, p->index, p->link_up && p->lagg->tap_up, p->speed_bps, (enum lk_duplex)p->duplex);
}

/* Tell the core a member's link, speed and duplex, when something changed. */
static void
port_set_link(struct lg_port *p, int up, uint64_t speed, int duplex)
{
	lg_carrier_believe(p->ifindex, up);
	if (up == p->link_up && speed == p->speed_bps && duplex == p->duplex)
		return;
	p->link_up = up;
	p->speed_bps = speed;
	p->duplex = duplex;
	lg_log(2, "%s: %s: link %s speed %llu duplex %d", p->lagg->name, p->name, up ? "up" : "down",
	    (unsigned long long)speed, duplex);
	port_tell_core(p);
}

/* The TAP went up or down (rtnetlink): every member's link as the core sees it follows. */
void
lg_lagg_tap_updown(struct lg_lagg *l, int up)
{
	up = up != 0;
	if (up == l->tap_up)
		return;
	l->tap_up = up;
	lg_log(2, "%s: %s", l->name, up ? "up" : "down");
	for (int i = 0; i < LK_MAX_PORTS; i++)
		if (l->ports[i].used)
			port_tell_core(&l->ports[i]);
}

/* Read the member's link/speed/duplex (ethtool: may wait for the RTNL) and tell the core. */
void
lg_port_refresh_link(struct lg_port *p)
{
	int up, duplex;
	uint64_t speed;
	if (lg_if_media(p->name, &up, &speed, &duplex) < 0) {
		up = 0;
		speed = 0;
		duplex = LK_DUPLEX_UNKNOWN;
	}
	p->media_stale = 0;
	port_set_link(p, up, speed, duplex);
}

/*
 * A member whose root qdisc is noqueue (veth, VLAN, macvlan and most virtual devices) gets
 * PACKET_QDISC_BYPASS: there is no queue to bypass, and the direct path refuses a frame the
 * device cannot take. The qdisc path does not: while `ip link set dev X down` runs, X's qdisc
 * is already the kernel's noop qdisc (it drops everything) but X is still IFF_UP, so a send
 * returns success and the frame is gone, one to seven frames of a 1 ms stream per failure
 * measured (reason QDISC_DROP in skb:kfree_skb). The direct path refuses the same frames with
 * ENOBUFS as soon as the device stops running, or loses carrier (a veth whose far end went
 * down), and port_flush() sends them elsewhere. A member with a real qdisc keeps it (its
 * shaping and its queue are the user's), and with it that window.
 */
void
lg_port_set_qdisc(struct lg_port *p, const char *kind)
{
	int want = strcmp(kind, "noqueue") == 0;
	if (p->fd < 0 || want == p->bypass)
		return;
	if (setsockopt(p->fd, SOL_PACKET, PACKET_QDISC_BYPASS, &want, sizeof(want)) < 0) {
		lg_log(1, "%s: %s: PACKET_QDISC_BYPASS: %s", p->lagg->name, p->name, strerror(errno));
		return;
	}
	p->bypass = want;
	lg_log(3, "%s: %s: root qdisc %s, %s", p->lagg->name, p->name, kind[0] ? kind : "(default)",
	    want ? "sent past it" : "sent through it");
}

/* How long after a member comes up its speed and duplex are read again (lg_port_link_event). */
#define LG_MEDIA_RECHECK_NS (100u * 1000000u)

/*
 * A member's link went up or down, as rtnetlink or a refused send says. The ethtool ioctl that
 * reads speed and duplex takes the RTNL, which whoever changed the link (and any other `ip` or
 * QEMU on the machine) holds for milliseconds, tens of them on a loaded machine; laggd's one
 * thread then forwarded nothing, on any port, while it waited: that wait was most of the
 * failover and failback gaps. So the link state is taken as given, and the core hears it at
 * once with the last known speed and duplex; those are re-read LG_MEDIA_RECHECK_NS later,
 * when the change that took the RTNL is over. A member that has never reported a speed is
 * read at once: LACP cannot aggregate it without one.
 */
void
lg_port_link_event(struct lg_port *p, int up)
{
	if (up && !p->link_up && (p->speed_bps == 0 || p->duplex == LK_DUPLEX_UNKNOWN)) {
		lg_port_refresh_link(p);
		return;
	}
	if (up) {
		/* Also when it stays up: rtnetlink's news may be a new speed without a flap. */
		p->media_stale = 1;
		struct itimerspec its = { .it_value = { .tv_nsec = LG_MEDIA_RECHECK_NS } };
		timerfd_settime(lg.media_timerfd, 0, &its, NULL);
	}
	port_set_link(p, up, p->speed_bps, p->duplex);
}

/*
 * The recheck timer: the speed and duplex of every member that came up since are asked of the
 * media reader thread (laggd_media.c); without it they are read here.
 */
void
lg_media_recheck(void)
{
	uint64_t exp;
	if (read(lg.media_timerfd, &exp, sizeof(exp)) < 0 && errno != EAGAIN)
		lg_log(1, "media timer: %s", strerror(errno));
	for (struct lg_lagg *l = lg.laggs; l; l = l->next)
		for (int i = 0; i < LK_MAX_PORTS; i++) {
			struct lg_port *p = &l->ports[i];
			if (!p->used || !p->media_stale)
				continue;
			if (lg.media_answer_fd < 0)
				lg_port_refresh_link(p);
			else if (lg_media_ask(p->name, p->ifindex) == 0)
				p->media_stale = 0;
		}
}

/* Answers from the media reader: the speed and duplex go to the core, the link stays as the
 * latest event said (the answer may be older). A member gone meanwhile is not found. */
void
lg_media_answered(void)
{
	struct lg_media_msg m;
	while (lg_media_answer(&m)) {
		struct lg_port *p = lg_port_by_ifindex(m.ifindex);
		if (!m.ok || !p || strcmp(p->name, m.name) != 0)
			continue;
		port_set_link(p, p->link_up, m.speed_bps, m.duplex);
	}
}

/* What the carrier watch read (laggd_carrier.c) and laggd did not yet believe: applied as an
 * rtnetlink link message would be, ahead of link-watch's own news of it. */
void
lg_carrier_apply(void)
{
	struct lg_carrier_change ch[64];
	int n = lg_carrier_changes(ch, 64);
	for (int i = 0; i < n; i++) {
		struct lg_port *p = lg_port_by_ifindex(ch[i].ifindex);
		if (p) {
			lg_log(2, "%s: %s: carrier %s (polled)", p->lagg->name, p->name,
			    ch[i].up ? "up" : "down");
			lg_port_link_event(p, ch[i].up);
		}
	}
}

int
lg_port_attach(
    struct lg_lagg *l, const char *ifname, uint16_t prio, uint16_t lacp_prio, char *err, size_t errlen)
{
	struct lg_port tmp;
	struct lk_port_info info;
	uint32_t idx;
	int flags, rc;

	memset(&tmp, 0, sizeof(tmp));
	tmp.fd = tmp.ctlfd = -1;
	tmp.lagg = l;
	tmp.link_up = -1;
	snprintf(tmp.name, sizeof(tmp.name), "%s", ifname);
	tmp.ifindex = (int)if_nametoindex(ifname);
	if (tmp.ifindex == 0) {
		snprintf(err, errlen, "%s: no such interface", ifname);
		return -1;
	}
	if (lg_if_get_mac(ifname, tmp.orig_mac) < 0 || lg_if_get_mtu(ifname, &tmp.orig_mtu) < 0 ||
	    lg_if_get_flags(ifname, &flags) < 0) {
		snprintf(err, errlen, "%s: cannot read interface: %s", ifname, strerror(errno));
		return -1;
	}
	tmp.orig_up = !!(flags & IFF_UP);

	/* Try: everything that can fail before the core commits to the port. */
	if (port_open(&tmp, err, errlen) < 0)
		return -1;
	memset(&info, 0, sizeof(info));
	info.name = ifname;
	memcpy(info.lladdr, tmp.orig_mac, 6);
	info.mtu = tmp.orig_mtu;
	info.prio = prio;
	l->adding = &tmp;
	rc = lk_port_add(l->sc, &info, &idx);
	l->adding = NULL;
	if (rc != 0) {
		snprintf(err, errlen, "%s: cannot add port: %s", ifname, lk_strerror(rc));
		goto unwind_socket;
	}
	/* Commit: the port now lives in ports[idx]; its epoll source must point there. */
	struct lg_port *p = &l->ports[idx];
	lg_epoll_del(&tmp.src);
	*p = tmp;
	p->used = 1;
	p->index = idx;
	p->src.obj = p;
	if (lg_epoll_add(&p->src) < 0) {
		snprintf(err, errlen, "%s: epoll: %s", ifname, strerror(errno));
		lk_port_remove(l->sc, idx);
		p->used = 0;
		port_close(p);
		return -1;
	}
	if (lacp_prio)
		lk_port_set_lacp_prio(l->sc, idx, lacp_prio);
	char qdisc[IFNAMSIZ];
	if (lg_if_qdisc(p->ifindex, qdisc, sizeof(qdisc)) == 0)
		lg_port_set_qdisc(p, qdisc);
	int rx_prog = lg_rxpath_port_prog(p);
	lg_isolate(p->ifindex, p->name, &p->iso, rx_prog);
	/* tc holds the program now; until lg_rxpath_sync says yes for this port, it drops */
	p->rx_kernel = rx_prog >= 0 && p->iso.mode == 1;
	if (rx_prog >= 0)
		close(rx_prog);
	lg_txpath_port_added(p);
	lg_carrier_watch(p->ifindex, p->name);
	/* A member must be up to carry frames; its original state comes back on removal. */
	if (!tmp.orig_up && lg_if_set_up(ifname, 1) < 0)
		lg_log(1, "%s: cannot bring up: %s", ifname, strerror(errno));
	lg_port_refresh_link(p);
	lg_log(2, "%s: port %s added (index %u)", l->name, ifname, idx);
	return 0;

unwind_socket:
	port_close(&tmp);
	return -1;
}

int
lg_port_detach(struct lg_lagg *l, struct lg_port *p, char *err, size_t errlen)
{
	int rc = lk_port_remove(l->sc, p->index);
	if (rc != 0) {
		snprintf(err, errlen, "%s: cannot remove port: %s", p->name, lk_strerror(rc));
		return -1;
	}
	lg_rxpath_port_gone(p);
	lg_carrier_unwatch(p->ifindex);
	lg_txpath_sync(l); /* before the member is given back: the kernel sends it nothing more */
	port_close(p);
	lg_isolate_undo(p->ifindex, p->name, &p->iso);
	lg_txpath_port_removed(p);
	/* The core restored MAC/MTU through the host ops; restore what laggd itself changed. */
	if (!p->orig_up)
		lg_if_set_up(p->name, 0);
	lg_log(2, "%s: port %s removed", l->name, p->name);
	memset(p, 0, sizeof(*p));
	p->fd = p->ctlfd = -1;
	/* An event for this port may still be pending in the current epoll batch: keep its
	 * source pointing here, where lg_port_readable() sees an unused port and returns. */
	p->src = (struct lg_src){ LG_SRC_PORT, p, -1 };
	return 0;
}

/* ---- Frame path ----------------------------------------------------------------------------- */

/*
 * The rest of a batch p refused because it went down (ENETDOWN, or ENOBUFS on a member sent
 * past its qdisc: lg_port_set_qdisc): the core hears of it at once (a refused send is news
 * enough; nothing is read from the kernel), so it moves p's traffic now rather than when
 * rtnetlink's news arrives (5-10 ms later on a loaded machine, every frame of which was lost),
 * and each frame goes out where the core puts it now, one send each: this happens once per
 * failure.
 */
static void
port_resend_elsewhere(struct lg_port *p, unsigned from)
{
	struct lg_lagg *l = p->lagg;
	struct lk_frame f;

	lg_port_link_event(p, 0);
	for (unsigned i = from; i < p->ntx; i++) {
		memset(&f, 0, sizeof(f));
		f.data = p->txiov[i].iov_base;
		f.caplen = f.len = (uint32_t)p->txiov[i].iov_len;
		uint32_t mask = lk_output(l->sc, 0, &f) & ~(1u << p->index);
		if (mask == 0)
			p->tx_errors++;
		while (mask) {
			struct lg_port *q = &l->ports[__builtin_ctz(mask)];
			mask &= mask - 1;
			if (!q->used || q->fd < 0 || send(q->fd, f.data, f.len, MSG_DONTWAIT) < 0)
				q->tx_errors++;
		}
	}
}

static void
port_flush(struct lg_port *p)
{
	unsigned done = 0;
	while (done < p->ntx) {
		int n = sendmmsg(p->fd, &p->txmsg[done], p->ntx - done, MSG_DONTWAIT);
		if (n <= 0) {
			if (n < 0 && errno == EINTR)
				continue;
			/* Without a queue, ENOBUFS is the device refusing the frame (not running, no
			 * carrier, or stopped), as ENETDOWN is from a noqueue device on the qdisc path. */
			int refused = errno == ENETDOWN || errno == ENXIO || (errno == ENOBUFS && p->bypass);
			if (n < 0 && refused && p->link_up) {
				port_resend_elsewhere(p, done);
				break;
			}
			/* Queue full or link gone: the rest of the batch is dropped, and counted. */
			p->tx_errors += p->ntx - done;
			break;
		}
		done += (unsigned)n;
	}
	p->ntx = 0;
}

/* io_uring failed under a batch: plain calls from now on, for this aggregate. */
static void
uring_give_up(struct lg_lagg *l)
{
	lg_log(1, "%s: io_uring failed (%s); TAP frames go one system call each", l->name, strerror(errno));
	lg_uring_fini(&l->uring);
}

/*
 * Read up to LG_BATCH frames from the TAP into the arena: tap_res[i] is slot i's length, or
 * -errno. Returns the number of slots tried; *more says the TAP may hold more.
 *
 * Through io_uring, tap_rd_batch reads go in one call. A read that finds the TAP empty costs
 * little, but posting 64 for every two frames would cost more than it saves, so the batch
 * follows the traffic: it doubles while every read finds a frame, and shrinks to twice what
 * the last batch found.
 */
static unsigned
tap_read(struct lg_lagg *l, int *more)
{
	if (l->uring.fd >= 0) {
		unsigned k = l->tap_rd_batch;
		for (unsigned i = 0; i < k; i++) {
			l->tap_iov[i].iov_base = l->arena + (size_t)i * LG_FRAME_MAX;
			l->tap_iov[i].iov_len = LG_FRAME_MAX;
		}
		int rc = lg_uring_rw(&l->uring, IORING_OP_READ, l->tapfd, l->tap_iov, k, l->tap_res);
		unsigned got = 0;
		for (unsigned i = 0; i < k; i++)
			got += l->tap_res[i] >= 0;
		if (rc < 0) {
			uring_give_up(l);
			*more = 1;
			return k;
		}
		*more = got == k;
		unsigned next = got == k ? 2 * k : 2 * got;
		l->tap_rd_batch = next < LG_TAP_RD_MIN ? LG_TAP_RD_MIN : next > LG_BATCH ? LG_BATCH : next;
		return k;
	}
	for (unsigned i = 0; i < LG_BATCH; i++) {
		ssize_t n = read(l->tapfd, l->arena + (size_t)i * LG_FRAME_MAX, LG_FRAME_MAX);
		l->tap_res[i] = n < 0 ? -errno : (int)n;
		if (n < 0) {
			*more = 0;
			return i + 1;
		}
	}
	*more = 1;
	return LG_BATCH;
}

void
lg_tap_readable(struct lg_lagg *l)
{
	struct lk_frame f;
	/* Bounded batches keep one busy aggregate from starving the others and the control path. */
	for (int round = 0; round < 8; round++) {
		int more;
		unsigned tried = tap_read(l, &more);
		for (unsigned i = 0; i < tried; i++) {
			uint8_t *buf = l->arena + (size_t)i * LG_FRAME_MAX;
			int n = l->tap_res[i];
			if (n < 0) {
				if (n != -EAGAIN && n != -EINTR && n != -ECANCELED)
					l->tap_read_errors++;
				continue;
			}
			if (n < 14)
				continue;
			memset(&f, 0, sizeof(f));
			f.data = buf;
			f.caplen = f.len = (uint32_t)n;
			uint32_t mask = lk_output(l->sc, 0, &f);
			while (mask) {
				int pi = __builtin_ctz(mask);
				mask &= mask - 1;
				struct lg_port *p = &l->ports[pi];
				if (!p->used || p->fd < 0)
					continue;
				struct mmsghdr *m = &p->txmsg[p->ntx];
				p->txiov[p->ntx].iov_base = buf;
				p->txiov[p->ntx].iov_len = (size_t)n;
				memset(m, 0, sizeof(*m));
				m->msg_hdr.msg_iov = &p->txiov[p->ntx];
				m->msg_hdr.msg_iovlen = 1;
				p->ntx++;
				l->tx_pending |= 1u << pi;
			}
		}
		uint32_t pend = l->tx_pending;
		l->tx_pending = 0;
		while (pend) {
			int pi = __builtin_ctz(pend);
			pend &= pend - 1;
			port_flush(&l->ports[pi]);
		}
		if (!more)
			break;
	}
}

/* Write the frames accepted from the members to the TAP, in one io_uring batch if it can. */
static void
tap_write_flush(struct lg_lagg *l)
{
	unsigned n = l->ntapw;
	l->ntapw = 0;
	if (n == 0)
		return;
	if (l->uring.fd >= 0 &&
	    lg_uring_rw(&l->uring, IORING_OP_WRITE, l->tapfd, l->tapw_iov, n, l->tap_res) < 0)
		uring_give_up(l);
	else if (l->uring.fd < 0)
		for (unsigned i = 0; i < n; i++)
			l->tap_res[i] = -ECANCELED;
	for (unsigned i = 0; i < n; i++) {
		if (l->tap_res[i] == -ECANCELED)
			l->tap_res[i] =
			    write(l->tapfd, l->tapw_iov[i].iov_base, l->tapw_iov[i].iov_len) < 0 ? -errno : 0;
		if (l->tap_res[i] < 0 && l->tapw_port[i]->used)
			l->tapw_port[i]->tap_write_drops++;
	}
}

/*
 * Hand one received frame to the core and act on its verdict. data has LG_RX_HEADROOM bytes
 * of room in front of it, where a stripped 802.1Q tag is put back.
 */
static void
port_rx_frame(struct lg_port *p, uint8_t *data, uint32_t len, int has_vlan, uint16_t tci)
{
	struct lg_lagg *l = p->lagg;
	struct lk_frame f;
	memset(&f, 0, sizeof(f));
	f.data = data;
	f.caplen = f.len = len;
	f.has_vlan = (uint8_t)has_vlan;
	f.vlan_tag = tci;
	switch (lk_input(l->sc, 0, p->index, &f)) {
	case LK_RX_ACCEPT:
		if (has_vlan && len < 12) {
			/* Delivering it untagged would put it on the wrong VLAN: drop and count. */
			p->tap_write_drops++;
			break;
		}
		if (has_vlan) {
			/* The NIC stripped the 802.1Q tag; the TAP must see it in the frame. */
			memmove(data - 4, data, 12);
			data -= 4;
			data[12] = 0x81;
			data[13] = 0x00;
			data[14] = (uint8_t)(tci >> 8);
			data[15] = (uint8_t)tci;
			len += 4;
		}
		/* Written with the rest of the receive batch (tap_write_flush), while data is valid. */
		l->tapw_iov[l->ntapw].iov_base = data;
		l->tapw_iov[l->ntapw].iov_len = len;
		l->tapw_port[l->ntapw++] = p;
		break;
	case LK_RX_CONTROL:
		/* Malformed PDUs are counted by the core; nothing else to do here. */
		(void)lk_control_input(l->sc, p->index, data, len);
		break;
	case LK_RX_DROP:
	default:
		break;
	}
}

/* The VLAN tag the kernel reported for a received frame, from its PACKET_AUXDATA. */
static int
rx_vlan(struct msghdr *mh, uint16_t *tci)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		if (c->cmsg_level != SOL_PACKET || c->cmsg_type != PACKET_AUXDATA ||
		    c->cmsg_len < CMSG_LEN(sizeof(struct tpacket_auxdata)))
			continue;
		struct tpacket_auxdata aux;
		memcpy(&aux, CMSG_DATA(c), sizeof(aux));
		if (!(aux.tp_status & TP_STATUS_VLAN_VALID))
			return 0;
		*tci = (uint16_t)aux.tp_vlan_tci;
		return 1;
	}
	return 0;
}

void
lg_port_readable(struct lg_port *p)
{
	struct lg_lagg *l = p->lagg;
	/*
	 * Frames on a member laggd still thinks is down: its carrier came back and rtnetlink's
	 * news of it is queued behind these frames (the far end of a veth can be first to send).
	 * Read the link now, once per wakeup, rather than drop what the core would refuse.
	 */
	if (!p->link_up && p->used && p->fd >= 0)
		lg_port_link_event(p, lg_if_link(p->name, p->ifindex) == 1);
	for (int round = 0; round < LG_RX_ROUNDS && p->used && p->fd >= 0; round++) {
		for (int i = 0; i < LG_BATCH; i++) {
			struct msghdr *mh = &l->rxmsg[i].msg_hdr;
			memset(mh, 0, sizeof(*mh));
			mh->msg_iov = &l->rxiov[i];
			mh->msg_iovlen = 1;
			mh->msg_control = l->rxctl[i].buf;
			mh->msg_controllen = sizeof(l->rxctl[i].buf);
		}
		int n = recvmmsg(p->fd, l->rxmsg, LG_BATCH, MSG_DONTWAIT | MSG_TRUNC, NULL);
		if (n <= 0)
			break;
		for (int i = 0; i < n; i++) {
			struct msghdr *mh = &l->rxmsg[i].msg_hdr;
			uint32_t len = l->rxmsg[i].msg_len;
			uint16_t tci = 0;
			if (len > LG_FRAME_MAX || (mh->msg_flags & MSG_TRUNC)) {
				p->tap_write_drops++; /* larger than any MTU laggd sets: counted, dropped */
				continue;
			}
			int vlan = rx_vlan(mh, &tci);
			port_rx_frame(p, l->rxiov[i].iov_base, len, vlan, tci);
			/* The callbacks may remove this very port (not today, but be robust). */
			if (!p->used)
				break;
		}
		/* Before the next recvmmsg reuses the slots the batch points into. */
		tap_write_flush(l);
		if (n < LG_BATCH || !p->used)
			break;
	}
}

void
lg_timer_expired(struct lg_lagg *l)
{
	uint64_t exp;
	/* Drain the expiration count; lk_tick() re-arms through ops->timer_arm. */
	if (read(l->timerfd, &exp, sizeof(exp)) < 0 && errno != EAGAIN)
		lg_log(1, "%s: timerfd: %s", l->name, strerror(errno));
	lk_tick(l->sc);
}
