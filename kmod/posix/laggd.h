/*
 * laggd: the laggkit core hosted in a Linux user-space daemon.
 *
 * Model
 *   One process, one thread, one epoll loop. Each aggregate is a TAP interface (IFF_TAP,
 *   IFF_NO_PI, named like the aggregate) that the Linux stack uses as a NIC, plus one AF_PACKET
 *   socket per member port (recvmmsg receive batches, sendmmsg transmit batches, past the qdisc
 *   when the member has none) and a transmit-only one for its control frames. The core
 *   (kmod/core) decides everything; this file's structures only carry frames and events to it:
 *     TAP read     -> lk_output()  -> sendmmsg on the chosen member(s)
 *     member recvmmsg -> lk_input() -> ACCEPT: write to the TAP, CONTROL: lk_control_input()
 *     rtnetlink   -> lk_port_link() (link, speed and duplex as they change, never polled)
 *     timerfd     -> lk_tick()
 *     unix socket -> laggctl commands (laggd_cmd.c), status (laggd_status.c)
 *
 * Because configuration and the frame path run on this one thread, the host's "lock" is
 * implicit, and a retired txmap can be freed at once: no lk_output()/lk_input() can be running
 * on it (see lg_host_retire()). A multi-threaded laggd would need a real grace period there.
 * For the same reason the core gets one CPU slot (LG_CORE_CPUS), slot 0, for its counters; a
 * multi-threaded laggd would give each frame thread a slot of its own.
 */
#ifndef LAGGD_H
#define LAGGD_H

#include <net/if.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/if_packet.h>
#include <linux/netlink.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "../core/lk_core.h"

#define LG_DEFAULT_SOCKET "/run/laggd.sock"
#define LG_CORE_CPUS      1            /* the core's CPU slots: one frame path thread, slot 0 */
#define LG_MAX_MSG        (256 * 1024) /* largest laggctl request or reply */
#define LG_BATCH          64           /* frames per TAP read batch / sendmmsg */
#define LG_FRAME_MAX      (9216 + 64)  /* jumbo frame plus a VLAN tag */
/*
 * The TAP's transmit queue: the frames the stack may hand laggd before it reads them. The
 * kernel drops (does not hold back) what does not fit, and on a busy machine laggd can wait
 * tens of milliseconds for a CPU: with the TAP's default 1000 a 64-byte stream lost a fifth
 * of its frames there; with 4096, none.
 */
#define LG_TAP_TXQLEN     4096
#define LG_TAP_RD_MIN     4 /* fewest TAP reads posted in one io_uring batch */
#define LG_RX_ROUNDS      8 /* receive batches per wakeup, per source */
/* Room in front of a received frame, so an 802.1Q tag the NIC stripped goes back in place. */
#define LG_RX_HEADROOM    4
#define LG_RX_SLOT        (LG_RX_HEADROOM + LG_FRAME_MAX)
#define LG_RX_SOCKBUF     (8 << 20) /* a member socket's receive queue (bytes of skb) */

/* The carrier watch's interval (laggd -m): bonding's miimon is usually 100 ms; one sysfs read
 * and one ethtool ioctl per member this often cost a few microseconds a member. */
#define LG_DEFAULT_CARRIER_POLL_MS 10u

/* What an epoll event refers to. */
enum lg_src_kind {
	LG_SRC_TAP,
	LG_SRC_PORT,
	LG_SRC_TIMER,
	LG_SRC_NETLINK,
	LG_SRC_CTL_LISTEN,
	LG_SRC_CTL_CONN,
	LG_SRC_SIGNAL,
	LG_SRC_MEDIA,
	LG_SRC_MEDIA_ANSWER,
	LG_SRC_CARRIER
};

struct lg_src {
	enum lg_src_kind kind;
	void *obj;
	int fd;
};

struct lg_lagg;

/* An io_uring instance used for batches of TAP reads or writes (laggd_uring.c). */
struct lg_uring {
	int fd; /* -1: none, the TAP is read and written with plain calls */
	unsigned entries;
	void *ring;
	size_t ring_len;
	struct io_uring_sqe *sqes;
	size_t sqes_len;
	unsigned *sq_tail, *sq_array, *cq_head, *cq_tail;
	unsigned sq_mask, cq_mask;
	struct io_uring_cqe *cqes;
};

/* How a member's own IP stack is kept from answering the aggregate's traffic (laggd_isolate.c). */
struct lg_isolation {
	int mode;                    /* 0 none, 1 tc ingress drop, 2 sysctl fallback */
	int created_qdisc;           /* laggd added the clsact qdisc (delete it on removal) */
	int rp_filter, disable_ipv6; /* originals, for the sysctl fallback */
};

/* A member port as laggd sees it; indexed by the core's port index. */
struct lg_port {
	int used;
	struct lg_lagg *lagg;
	uint32_t index; /* the core's handle */
	char name[IFNAMSIZ];
	int ifindex;
	int fd;    /* AF_PACKET, bound to ifindex */
	int ctlfd; /* AF_PACKET, transmit only: control frames, always through the qdisc */
	struct lg_src src;
	/* restored when the port leaves */
	uint8_t orig_mac[6];
	uint32_t orig_mtu;
	int orig_up;
	struct lg_isolation iso;
	/* last link state given to the core, so duplicate netlink events are ignored */
	int link_up;
	uint64_t speed_bps;
	int duplex;
	int media_stale; /* came up on the last known speed/duplex; re-read them (lg_media_recheck) */
	int bypass;      /* PACKET_QDISC_BYPASS set: the member has no queue (lg_port_set_qdisc) */
	int rx_kernel;   /* data frames go to the TAP in the kernel (laggd_rxpath.c) */
	int tx_csum_off; /* laggd turned the veth's checksum offload off (laggd_txpath.c) */
	/* laggd's own counters (the core counts decisions, these count host I/O) */
	uint64_t tx_errors, rx_ring_drops, tap_write_drops;
	uint64_t rx_socket_frames; /* frames laggd's own member socket took in (PACKET_STATISTICS) */
	/* transmit batch: frames of the current TAP batch chosen for this port */
	unsigned ntx;
	struct mmsghdr txmsg[LG_BATCH];
	struct iovec txiov[LG_BATCH];
};

struct lg_lagg {
	struct lg_lagg *next;
	char name[IFNAMSIZ];
	struct lk_softc *sc;
	int tapfd;
	int tap_ifindex;
	int carrier; /* the TAP's carrier as last set */
	int tap_up;  /* the TAP is up (IFF_UP): the members count as down to the core until it is */
	int timerfd;
	struct lg_src tap_src, timer_src;
	struct lg_port ports[LK_MAX_PORTS];
	/* During lk_port_add() the core may call back before the index is known to laggd. */
	struct lg_port *adding;
	uint8_t *arena; /* LG_BATCH frames read from the TAP */
	/* One receive batch from a member: frames, their headers and PACKET_AUXDATA (VLAN). The
	 * ports take turns with it; a batch is handed to the core before the next is read. */
	uint8_t *rx_arena; /* LG_BATCH slots of LG_RX_SLOT bytes */
	struct mmsghdr rxmsg[LG_BATCH];
	struct iovec rxiov[LG_BATCH];
	union {
		struct cmsghdr align;
		uint8_t buf[CMSG_SPACE(sizeof(struct tpacket_auxdata))];
	} rxctl[LG_BATCH];
	uint64_t tap_read_errors;
	uint32_t tx_pending; /* ports with a non-empty transmit batch */
	/* TAP I/O in batches (laggd_uring.c); with uring.fd < 0, plain read() and write(). */
	struct lg_uring uring;
	unsigned tap_rd_batch; /* reads to post next: follows what the last batches found */
	struct iovec tap_iov[LG_BATCH];
	int tap_res[LG_BATCH];
	/* frames accepted from the members, written to the TAP at the end of each receive batch */
	unsigned ntapw;
	struct iovec tapw_iov[LG_BATCH];
	struct lg_port *tapw_port[LG_BATCH];
	/* a new aggregate MAC the TAP takes in lg_lagg_settle(), once the members' backlog is in */
	uint8_t tap_mac[6];
	int tap_mac_pending;
	/* the in-kernel receive path (laggd_rxpath.c); accept_fd < 0 when it is not in use */
	struct {
		int accept_fd, count_fd; /* BPF maps: port index -> accepted now; per-CPU counts */
		uint32_t mask;           /* ports the accept map says yes for */
	} rx;
	/* the in-kernel transmit path (laggd_txpath.c); table_fd < 0 when it is not in use */
	struct {
		int table_fd, count_fd; /* BPF maps: the flow table (one entry); per-CPU counts per port */
		void *table;            /* what the kernel's entry holds (struct tx_table) */
		uint32_t gen;           /* the core's table generation it was copied from */
		uint32_t ports;         /* ports the kernel's entry sends to (bit n: port n) */
	} tx;
};

/* The daemon. */
struct lg_daemon {
	int epfd;
	int nlfd;  /* rtnetlink events */
	int ctlfd; /* listening unix socket */
	int sigfd;
	int media_timerfd;        /* when to re-read the speed/duplex of members that came up */
	int media_answer_fd;      /* the media reader's answers (laggd_media.c), or -1 */
	unsigned carrier_poll_ms; /* the carrier watch's interval (laggd_carrier.c); 0: off */
	int carrier_fd;           /* the carrier watch's wakeups, or -1 */
	const char *socket_path;
	const char *config_path;
	int foreground;
	int verbose;
	int stopping;
	struct lg_lagg *laggs;
	struct lg_src nl_src, ctl_src, sig_src, media_src, media_answer_src, carrier_src;
	uint64_t start_mono_ns, start_real_ns;
};

extern struct lg_daemon lg;

/* laggd_main.c */
void lg_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int lg_epoll_add(struct lg_src *src);
void lg_epoll_del(struct lg_src *src);
uint64_t lg_now_ns(void);

/* laggd_lagg.c: aggregates, members, the frame path */
struct lg_lagg *lg_lagg_find(const char *name);
struct lg_port *lg_port_by_name(const char *name, struct lg_lagg **lagg_out);
struct lg_port *lg_port_by_ifindex(int ifindex);
int lg_lagg_create(const char *name, char *err, size_t errlen);
void lg_lagg_destroy(struct lg_lagg *lg_);
int lg_port_attach(
    struct lg_lagg *l, const char *ifname, uint16_t prio, uint16_t lacp_prio, char *err, size_t errlen);
int lg_port_detach(struct lg_lagg *l, struct lg_port *p, char *err, size_t errlen);
void lg_tap_readable(struct lg_lagg *l);
void lg_port_readable(struct lg_port *p);
void lg_lagg_settle(void);
void lg_timer_expired(struct lg_lagg *l);
void lg_port_refresh_link(struct lg_port *p);
void lg_port_link_event(struct lg_port *p, int up);
void lg_lagg_tap_updown(struct lg_lagg *l, int up);
void lg_port_set_qdisc(struct lg_port *p, const char *kind);
void lg_media_recheck(void);
void lg_media_answered(void);
void lg_carrier_apply(void);

/* laggd_media.c: speed and duplex read off the frame thread; helper threads */
int lg_thread_start(void *(*fn)(void *)); /* detached, every signal blocked; 0 or an errno */
struct lg_media_msg {
	char name[IFNAMSIZ];
	int ifindex;
	int ok; /* answer: the read succeeded */
	uint64_t speed_bps;
	int duplex;
};
int lg_media_start(void); /* returns the fd answers arrive on, or -1 */
int lg_media_ask(const char *ifname, int ifindex);
int lg_media_answer(struct lg_media_msg *m);

/* laggd_carrier.c: every member's carrier polled off the frame thread */
struct lg_carrier_change {
	int ifindex;
	int up;
};
int lg_carrier_start(unsigned poll_ms); /* returns the fd its wakeups arrive on, or -1 */
void lg_carrier_watch(int ifindex, const char *name);
void lg_carrier_unwatch(int ifindex);
void lg_carrier_believe(int ifindex, int up);
int lg_carrier_changes(struct lg_carrier_change *out, int max);

/* laggd_uring.c: batched TAP reads and writes */
int lg_uring_init(struct lg_uring *u, unsigned entries);
void lg_uring_fini(struct lg_uring *u);
int lg_uring_rw(struct lg_uring *u, int op, int fd, const struct iovec *iov, unsigned n, int *res);

/* laggd_sys.c: interfaces, ethtool, rtnetlink */
int lg_sys_init(void);
int lg_if_get_mac(const char *ifname, uint8_t mac[6]);
int lg_if_set_mac(const char *ifname, const uint8_t mac[6]);
int lg_if_is_veth(const char *ifname);
int lg_if_tx_csum(const char *ifname, int on); /* on < 0: read it (0/1); -1 on error */
int lg_if_get_mtu(const char *ifname, uint32_t *mtu);
int lg_if_set_mtu(const char *ifname, uint32_t mtu);
int lg_if_set_txqlen(const char *ifname, int qlen);
int lg_if_get_flags(const char *ifname, int *flags);
int lg_if_set_up(const char *ifname, int up);
int lg_if_media(const char *ifname, int *up, uint64_t *speed_bps, int *duplex);
int lg_if_link(const char *ifname, int ifindex);
int lg_if_ethtool_link(const char *ifname);
int lg_if_carrier_fd(const char *ifname, int ifindex);
int lg_if_qdisc(int ifindex, char *kind, size_t len);
int lg_nl_open_events(void);
void lg_nl_readable(void);
int lg_nl_request(struct nlmsghdr *req);
void *lg_nl_put(struct nlmsghdr *nh, size_t cap, int type, const void *data, size_t len);
void lg_nl_nest_end(struct nlmsghdr *nh, void *nest);
int lg_nl_addr(int ifindex, int family, const uint8_t *addr, int prefixlen, int add);
void lg_nl_sync_addrs(struct lg_lagg *l);

/* laggd_isolate.c: keep the member's own IP stack away from its frames */
/* prog_fd: the tc program to attach (laggd_rxpath.c), or -1 for one that drops everything */
void lg_isolate(int ifindex, const char *ifname, struct lg_isolation *iso, int prog_fd);
void lg_isolate_undo(int ifindex, const char *ifname, struct lg_isolation *iso);
/* a tc program on an interface's egress (the TAP's, laggd_txpath.c): 0 or -errno */
int lg_tc_egress_attach(int ifindex, int prog_fd, const char *name);
void lg_tc_egress_detach(int ifindex);

/* laggd_rxpath.c: data frames from the members to the TAP inside the kernel */
int lg_rxpath_open(struct lg_lagg *l); /* -1: not available, frames go through laggd */
void lg_rxpath_close(struct lg_lagg *l);
int lg_rxpath_port_prog(struct lg_port *p); /* the member's tc program, or -1 */
void lg_rxpath_port_gone(struct lg_port *p);
void lg_rxpath_sync(struct lg_lagg *l); /* mirror lk_rx_accept_mask() into the kernel */
void lg_rxpath_add_counters(const struct lg_port *p, struct lk_port_counters *c);

/* laggd_txpath.c: frames from the TAP to the members inside the kernel */
int lg_txpath_open(struct lg_lagg *l); /* -1: not available, frames go through laggd */
void lg_txpath_close(struct lg_lagg *l);
void lg_txpath_sync(struct lg_lagg *l); /* mirror lk_tx_flow_view() into the kernel */
void lg_txpath_port_added(struct lg_port *p);
void lg_txpath_port_removed(struct lg_port *p);
int lg_txpath_port_on(const struct lg_port *p); /* the kernel sends frames out of this port */
void lg_txpath_add_counters(const struct lg_port *p, struct lk_port_counters *c);
uint64_t lg_txpath_kernel_packets(const struct lg_port *p);

/* laggd_cmd.c: the ifconfig vocabulary */
/* Runs one laggctl request (argv); writes its output to out. Returns the exit status. */
int lg_cmd_run(int argc, char **argv, int from_config, char *out, size_t outlen);
/* Applies a config file; returns 0, or 1 when a line failed (every failure is logged). */
int lg_config_apply(const char *path, int at_start);

/* laggd_status.c: status block, JSON, events, counters */
struct lg_out {
	char *buf;
	size_t len, cap;
	int truncated;
};
void lg_out_printf(struct lg_out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void lg_out_json_str(struct lg_out *o, const char *s);
void lg_status_text(struct lg_out *o, struct lg_lagg *l, int verbose);
void lg_status_json(struct lg_out *o, struct lg_lagg *l, int verbose);
void lg_events_print(struct lg_out *o, struct lg_lagg *l, int json);
void lg_counters_print(struct lg_out *o, struct lg_lagg *l, int json);

#endif /* LAGGD_H */
