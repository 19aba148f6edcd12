/*
 * laggkit core: the link aggregation forwarding path, in OS-free C11.
 *
 * Model
 *   One struct lk_softc per aggregate holds everything: ports, protocol state, LACP, counters,
 *   the event ring. There is no global state. The host (FreeBSD or NetBSD kernel glue, or laggd
 *   in user space) owns the packets, the locks, the clock and the timers; the core owns every
 *   decision. The host hands the core views of frames (struct lk_frame), never mbufs, and the
 *   core answers with verdicts: which ports send this frame, whether a received frame is taken.
 *
 * Concurrency contract
 *   - Configuration calls, lk_control_input(), lk_port_link() and lk_tick() are serialised by
 *     the host (its per-aggregate lock). They may call back into the host (struct lk_host_ops).
 *   - lk_output() and lk_input() are lock-free: they read only the immutable transmit table
 *     (the "txmap") that the core publishes with an atomic pointer store. The host must call
 *     them inside its read-side section (FreeBSD NET_EPOCH, NetBSD psref/pserialize, laggd's
 *     own scheme), and must free a retired txmap only after a grace period (ops->retire).
 *   - CPU slots. What the frame path writes (per-port packet, byte and drop counters, the
 *     roundrobin cursor) lives in per-CPU slots, as FreeBSD's counter(9), NetBSD's percpu
 *     if_stats and Linux's per-cpu stats do: plain adds, no locked instruction, no cache
 *     line shared between CPUs. The host says how many slots at lk_softc_size()/lk_init()
 *     and passes one in every lk_output()/lk_input() call, such that no two frame path calls
 *     run on the same slot at the same time: the current CPU's index with preemption off
 *     (FreeBSD critical_enter(), NetBSD inside pserialize_read_enter(), which raises the IPL
 *     to softserial), or one slot per thread. A slot >= ncpu is taken as slot 0. Breaking
 *     the rule can lose counts (two updates of one counter may race), never anything else.
 *     Status sums the slots.
 *   - Nothing on the frame path allocates, sleeps, or logs.
 *
 * Headers
 *   The core includes only lk_types.h (fixed-width integers, size_t, bool), never an OS header.
 *
 * Errors
 *   Functions returning int return 0 or a negative LK_E* code. A failed call changes nothing.
 */
#ifndef LK_CORE_H
#define LK_CORE_H

#include "lk_types.h"

#ifdef __cplusplus
extern "C" {
#endif

struct lk_softc; /* opaque to hosts: allocate lk_softc_size() bytes */

/* ---- Limits ------------------------------------------------------------------------------ */

#define LK_MAX_PORTS          32   /* ports per aggregate; port sets are uint32_t bitmasks */
#define LK_MAX_CPUS           4096 /* CPU slots (see the concurrency contract) */
#define LK_ETHER_ADDR_LEN     6
#define LK_IFNAMSIZ           16  /* names are copied for events and status only */
#define LK_EVENT_RING         256 /* entries kept per aggregate */
#define LK_MAX_ANNOUNCE_ADDRS 16

/* ---- Error codes (negative returns) ------------------------------------------------------- */

#define LK_OK     0
#define LK_EINVAL (-1) /* bad argument or option value */
#define LK_ENOSPC (-2) /* aggregate full (LK_MAX_PORTS) or table full */
#define LK_EEXIST (-3) /* port already a member */
#define LK_ENOENT (-4) /* no such port */
#define LK_ENOMEM (-5) /* host allocation failed */
#define LK_EBUSY  (-6) /* operation not allowed in this state */
#define LK_EPROTO (-7) /* malformed control frame (counted, state unchanged) */

const char *lk_strerror(int err);

/* ---- Protocols, hash layers, flags: values equal FreeBSD's net/if_lagg.h on purpose ---------- */

enum lk_proto {
	LK_PROTO_NONE = 0,
	LK_PROTO_ROUNDROBIN = 1,
	LK_PROTO_FAILOVER = 2,
	LK_PROTO_LOADBALANCE = 3, /* alias "fec" */
	LK_PROTO_LACP = 4,
	LK_PROTO_BROADCAST = 5,
	LK_PROTO_MAX
};
const char *lk_proto_name(enum lk_proto p);                   /* "failover", ... */
int lk_proto_from_name(const char *name, enum lk_proto *out); /* accepts "fec" too */

#define LK_HASH_L2 0x1u /* source and destination MAC, VLAN tag */
#define LK_HASH_L3 0x2u /* IPv4 / IPv6 source and destination */
#define LK_HASH_L4 0x4u /* TCP / UDP / SCTP ports, over IPv4 and IPv6 */

/* Port flags as reported in status (FreeBSD LAGG_PORT_*). */
#define LK_PORT_MASTER       0x00000001u
#define LK_PORT_STACK        0x00000002u
#define LK_PORT_ACTIVE       0x00000004u
#define LK_PORT_COLLECTING   0x00000008u
#define LK_PORT_DISTRIBUTING 0x00000010u
#define LK_PORT_STANDBY      0x00000100u /* laggkit: LACP selected STANDBY (maxports) */

/* IEEE 802.1AX actor/partner state bits. */
#define LK_LACP_STATE_ACTIVITY     0x01u
#define LK_LACP_STATE_TIMEOUT      0x02u /* 1 = short (fast) timeout */
#define LK_LACP_STATE_AGGREGATION  0x04u
#define LK_LACP_STATE_SYNC         0x08u
#define LK_LACP_STATE_COLLECTING   0x10u
#define LK_LACP_STATE_DISTRIBUTING 0x20u
#define LK_LACP_STATE_DEFAULTED    0x40u
#define LK_LACP_STATE_EXPIRED      0x80u

/* ---- Options ------------------------------------------------------------------------------ */

enum lk_opt {
	LK_OPT_HASH_LAYERS,          /* LK_HASH_* mask, default L2|L3|L4 */
	LK_OPT_HASH_SEED,            /* 32-bit key of the hash, default derived from the first MAC */
	LK_OPT_USE_FLOWID,           /* 0/1: use the NIC flow id when the frame has one (default 1) */
	LK_OPT_FLOWID_SHIFT,         /* 0..31: shift applied to the flow id (default 0) */
	LK_OPT_RR_LIMIT,             /* roundrobin: packets per port before rotating (0 = 1) */
	LK_OPT_FAILOVER_RX_ALL,      /* 0/1: failover accepts input on every up port (default 1) */
	LK_OPT_FAILOVER_PREEMPT,     /* 0/1: return to the primary when it recovers (default 1) */
	LK_OPT_LACP_FAST_TIMEOUT,    /* 0/1: ask the partner for fast PDUs, short timeout */
	LK_OPT_LACP_STRICT,          /* 0/1: strict (default) vs optimistic: distribute before sync */
	LK_OPT_LACP_PASSIVE,         /* 0/1: passive mode (only answer an active partner) */
	LK_OPT_LACP_SYS_PRIO,        /* 0..65535, default 32768 */
	LK_OPT_LACP_KEY,             /* 0 = automatic (from speed), else the administrative key */
	LK_OPT_LACP_MAXPORTS,        /* 0 = unlimited, else at most N ports distributing, rest STANDBY */
	LK_OPT_LACP_MULTI_SPEED,     /* 0/1: aggregate ports of different speeds in one LAG */
	LK_OPT_ANNOUNCE_COUNT,       /* gratuitous ARP / unsolicited NA per failover (default 1, 0 = off) */
	LK_OPT_ANNOUNCE_INTERVAL_MS, /* spacing between announcements (default 1000) */
	LK_OPT_LACP_FULL_WAIT,       /* 0/1: keep 802.1AX timing: the whole Aggregate_Wait_Time (2 s),
	                            * no early resend of a new link's PDU; 0 (default) ends the wait
	                            * once every port that can join is selected */
	LK_OPT_MAX
};
int lk_set_opt(struct lk_softc *sc, enum lk_opt opt, uint32_t value);
int lk_get_opt(const struct lk_softc *sc, enum lk_opt opt, uint32_t *value);

/* ---- Frames ------------------------------------------------------------------------------- */

/*
 * A view of one frame. data points at the Ethernet header; caplen bytes of it are contiguous
 * and readable (the host makes at least min(len, 128) bytes contiguous, enough for the
 * headers the hash needs). VLAN: when the NIC stripped the tag, has_vlan/vlan_tag carry it.
 */
struct lk_frame {
	const uint8_t *data;
	uint32_t caplen;   /* contiguous bytes at data */
	uint32_t len;      /* whole frame length (for byte counters) */
	uint32_t flowid;   /* NIC-supplied flow hash */
	uint16_t vlan_tag; /* 802.1Q TCI when has_vlan */
	uint8_t has_flowid;
	uint8_t has_vlan;
};

/* ---- Host callbacks ----------------------------------------------------------------------- */

enum lk_duplex { LK_DUPLEX_UNKNOWN = 0, LK_DUPLEX_HALF = 1, LK_DUPLEX_FULL = 2 };

struct lk_host_ops {
	/* Monotonic time in nanoseconds. */
	uint64_t (*now_ns)(void *host);
	/* Ask for lk_tick() to be called after delay_ns (replaces any earlier request). */
	void (*timer_arm)(void *host, uint64_t delay_ns);
	/* Send a frame the core built (LACPDU, marker, gratuitous ARP/NA) on a port. */
	int (*ctl_transmit)(void *host, uint32_t port, const uint8_t *frame, uint32_t len);
	/* Program a member port's MAC / MTU (on add, on aggregate change, and restore on remove). */
	int (*port_set_lladdr)(void *host, uint32_t port, const uint8_t mac[LK_ETHER_ADDR_LEN]);
	int (*port_set_mtu)(void *host, uint32_t port, uint32_t mtu);
	/* The aggregate's own MAC changed (first port added, or set by the user). */
	void (*lagg_lladdr_changed)(void *host, const uint8_t mac[LK_ETHER_ADDR_LEN]);
	/* Aggregate link state: up while any port is active; speed is the sum of active ports. */
	void (*lagg_link_changed)(void *host, int up, uint64_t speed_bps);
	/* Allocate/free for txmaps and internal tables. Called only from configuration context,
	 * lk_tick() and lk_control_input(); the host must not sleep (kernel: M_NOWAIT). */
	void *(*alloc)(void *host, size_t size);
	void (*free)(void *host, void *ptr);
	/* A published txmap was replaced: free it with ops->free after a grace period
	 * (no lk_output/lk_input still running on it). */
	void (*retire)(void *host, void *old_txmap);
	/* Optional diagnostics (may be NULL). Level: 0 err, 1 warn, 2 info, 3 debug. */
	void (*log)(void *host, int level, const char *msg);
};

/* ---- Lifecycle ---------------------------------------------------------------------------- */

struct lk_softc;
/*
 * The host allocates this many bytes, zeroed, aligned to 64 (a cache line: each CPU slot
 * starts on a line of its own), for ncpu CPU slots (1..LK_MAX_CPUS; 0 when out of range).
 * A kernel passes the number of CPU indices it may run on (FreeBSD mp_maxid + 1, NetBSD
 * ncpu); a host whose frame path runs on one thread passes 1.
 */
size_t lk_softc_size(uint32_t ncpu);
/* Initialise with protocol failover (lagg's default) and default options; ncpu as given to
 * lk_softc_size() for this allocation. */
int lk_init(struct lk_softc *sc, const struct lk_host_ops *ops, void *host, const char *name, uint32_t ncpu);
/* Removes every port (restoring their MAC/MTU) and frees internal tables. */
void lk_fini(struct lk_softc *sc);

/* ---- Configuration (host lock held) -------------------------------------------------------- */

/* Change the protocol. Ports are kept (unlike NetBSD lagg). */
int lk_set_proto(struct lk_softc *sc, enum lk_proto proto);
enum lk_proto lk_get_proto(const struct lk_softc *sc);

struct lk_port_info {
	const char *name;                  /* copied */
	uint8_t lladdr[LK_ETHER_ADDR_LEN]; /* the port's own MAC, restored on remove */
	uint32_t mtu;                      /* the port's own MTU, restored on remove */
	uint16_t prio;                     /* failover priority, lower = preferred; 0 = default */
};
/*
 * Add a port; on success *port_out is its index (0..LK_MAX_PORTS-1), the handle used in every
 * other call and in port masks. Link starts down until lk_port_link() says otherwise.
 */
int lk_port_add(struct lk_softc *sc, const struct lk_port_info *info, uint32_t *port_out);
int lk_port_remove(struct lk_softc *sc, uint32_t port);
int lk_port_lookup(const struct lk_softc *sc, const char *name, uint32_t *port_out);
int lk_port_set_prio(struct lk_softc *sc, uint32_t port, uint16_t prio);
int lk_port_set_lacp_prio(struct lk_softc *sc, uint32_t port, uint16_t prio);
/* Link state and media. speed_bps 0 = unknown. */
int lk_port_link(struct lk_softc *sc, uint32_t port, int up, uint64_t speed_bps, enum lk_duplex duplex);

/*
 * The aggregate's MAC: every member takes it. It is not LACP's System ID: that is fixed when
 * the aggregate first has a MAC and stays across later lk_set_lladdr calls, so a MAC change
 * does not make the partner select the ports again (IEEE 802.1AX makes the System ID a
 * property of the system, not of an interface's address).
 */
int lk_set_lladdr(struct lk_softc *sc, const uint8_t mac[LK_ETHER_ADDR_LEN]);
/*
 * LACP System ID MAC set by the administrator (as bonding's ad_actor_system or Open vSwitch's
 * lacp-system-id); NULL or all-zero goes back to the automatic one, the aggregate's current MAC.
 * A multicast address is LK_EINVAL. Changing it makes the partner select the ports again.
 */
int lk_set_lacp_sys_mac(struct lk_softc *sc, const uint8_t mac[LK_ETHER_ADDR_LEN]);
int lk_set_mtu(struct lk_softc *sc, uint32_t mtu);

/* Addresses announced after a failover (gratuitous ARP for IPv4, unsolicited NA for IPv6). */
int lk_announce_addr_add(struct lk_softc *sc, int family /* 4 or 6 */, const uint8_t *addr);
int lk_announce_addr_del(struct lk_softc *sc, int family, const uint8_t *addr);

/* ---- Frame path (lock-free, inside the host's read-side section) ---------------------------- */

/*
 * Choose the port(s) that transmit this frame. Returns a port mask (bit i = port i); 0 means
 * drop (no active port, protocol none), already counted. Broadcast returns several bits.
 * cpu: the caller's CPU slot (see the concurrency contract at the top); lk_input likewise.
 */
uint32_t lk_output(struct lk_softc *sc, uint32_t cpu, const struct lk_frame *f);

enum lk_rx_verdict {
	LK_RX_ACCEPT = 0,  /* deliver up as received on the aggregate */
	LK_RX_DROP = 1,    /* drop (port not collecting, protocol none...), counted */
	LK_RX_CONTROL = 2, /* slow-protocols frame: pass to lk_control_input() under the lock */
};
enum lk_rx_verdict lk_input(struct lk_softc *sc, uint32_t cpu, uint32_t port, const struct lk_frame *f);

/*
 * The ports whose data frames lk_input() accepts right now (bit n: port n), for a host that
 * delivers data frames by a path of its own (laggd's in-kernel receive path) and mirrors this
 * set there. It changes only when the core publishes a new table, so a host reads it after
 * anything that may publish one (a tick, a control frame, a link event, a configuration
 * call). Slow protocols frames are never data: they still go to lk_control_input().
 */
uint32_t lk_rx_accept_mask(const struct lk_softc *sc);

/*
 * The transmit table's flow-id path, for a host that sends frames carrying a flow id by a
 * path of its own (laggd's in-kernel transmit path) and mirrors the table there. Returns 1
 * when the current table sends such a frame through its buckets, as lk_output() does for a
 * hashed protocol with use_flowid set and a port active: the frame's port is then
 * v->bucket[((flowid >> v->flowid_shift) ^ v->seed) % LK_FLOW_BUCKETS]. Returns 0 otherwise
 * (*v then says only gen). v->gen changes whenever a new table is published, so a host copies
 * the buckets again only then; v->bucket points into the table and is valid until the next
 * configuration call, tick, control frame or link event (the host's lock, as for any write).
 */
#define LK_FLOW_BUCKETS 16384u
struct lk_flow_view {
	uint32_t gen;          /* the published table's generation */
	uint32_t active;       /* ports the buckets may name (bit n: port n) */
	uint32_t hash_layers;  /* LK_HASH_*: what lk_output() hashes for a frame without a flow id */
	uint32_t flowid_shift; /* the flow id's bits lk_output() drops before the seed */
	uint32_t seed;
	const uint8_t *bucket; /* LK_FLOW_BUCKETS port indexes */
};
int lk_tx_flow_view(const struct lk_softc *sc, struct lk_flow_view *v);

/* Consume a control frame (LACPDU, marker) received on a port. Validates everything before use;
 * a malformed frame returns LK_EPROTO, is counted as illegal and changes no state. */
int lk_control_input(struct lk_softc *sc, uint32_t port, const uint8_t *frame, uint32_t len);

/* Run due timers (LACP machines, periodic transmit, announcements); re-arms ops->timer_arm. */
void lk_tick(struct lk_softc *sc);

/* ---- Observability (host lock held, or a consistent copy) ---------------------------------- */

/* Per-port counters: the sums over the CPU slots, from zero when the port was added. */
struct lk_port_counters {
	uint64_t rx_packets, rx_bytes, tx_packets, tx_bytes;
	uint64_t rx_dropped, tx_dropped;
};

struct lk_lacp_peer_info {
	uint16_t sys_prio;
	uint8_t sys_mac[LK_ETHER_ADDR_LEN];
	uint16_t key;
	uint16_t port_prio;
	uint16_t port_no;
	uint8_t state; /* LK_LACP_STATE_* */
};

struct lk_lacp_port_status {
	struct lk_lacp_peer_info actor, partner;
	uint8_t rx_state, mux_state, ptx_state, sel_state; /* enum values, see lk_lacp_state_name */
	uint8_t actor_churn, partner_churn;
	uint64_t pdus_rx, pdus_tx, pdus_illegal;
	uint64_t marker_rx, marker_tx, marker_resp_rx, marker_resp_tx, unknown_rx;
};

struct lk_port_status {
	char name[LK_IFNAMSIZ];
	uint32_t flags; /* LK_PORT_* */
	uint16_t prio;
	int link_up;
	uint64_t speed_bps;
	enum lk_duplex duplex;
	struct lk_port_counters counters;
	struct lk_lacp_port_status lacp; /* meaningful when proto is LACP */
};

struct lk_status {
	enum lk_proto proto;
	uint32_t hash_layers;
	uint32_t opts[LK_OPT_MAX];
	uint8_t lladdr[LK_ETHER_ADDR_LEN];
	uint32_t mtu;
	int link_up;
	uint64_t speed_bps;
	uint32_t nports, nactive;
	uint32_t port_mask; /* which port indices exist */
	int active_port;    /* failover: current active, -1 none */
	/* LACP: the selected aggregator's id, as printed by ifconfig -v "lag id" */
	struct lk_lacp_peer_info lag_actor, lag_partner;
	/* LACP System ID MAC in use (whatever the protocol), and whether the administrator set it */
	uint8_t lacp_sys_mac[LK_ETHER_ADDR_LEN];
	int lacp_sys_mac_admin;
	uint64_t out_no_port; /* frames dropped on output for lack of a port */
};

int lk_get_status(const struct lk_softc *sc, struct lk_status *st);
int lk_get_port_status(const struct lk_softc *sc, uint32_t port, struct lk_port_status *st);
const char *lk_lacp_state_name(int machine /* 0 rx, 1 mux, 2 ptx, 3 sel */, uint8_t state);

/* ---- Event ring ----------------------------------------------------------------------------- */

enum lk_event_type {
	LK_EV_PORT_ADDED,
	LK_EV_PORT_REMOVED,
	LK_EV_LINK_UP,
	LK_EV_LINK_DOWN,
	LK_EV_PROTO_CHANGED,
	LK_EV_FAILOVER, /* port = new active, arg = old active or -1 */
	LK_EV_LACP_EXPIRED,
	LK_EV_LACP_DEFAULTED,
	LK_EV_LACP_OUT_OF_SYNC,
	LK_EV_LACP_IN_SYNC,
	LK_EV_LACP_SELECTED,
	LK_EV_LACP_STANDBY,
	LK_EV_LACP_UNSELECTED,
	LK_EV_LACP_COLLECTING,
	LK_EV_LACP_DISTRIBUTING,
	LK_EV_LACP_PARTNER_CHANGED,
	LK_EV_LACP_CHURN,
	LK_EV_MARKER_TIMEOUT,
	LK_EV_ILLEGAL_PDU,
	LK_EV_PREEMPTED,
	LK_EV_ANNOUNCE,
	LK_EV_MAX
};

struct lk_event {
	uint64_t seq;     /* increases by one per event, never reused */
	uint64_t time_ns; /* ops->now_ns() when it happened */
	uint16_t type;    /* enum lk_event_type */
	int16_t port;     /* port index or -1 */
	int32_t arg;      /* event-specific */
	char port_name[LK_IFNAMSIZ];
	char arg_name[LK_IFNAMSIZ]; /* FAILOVER, PREEMPTED: name of the old port (arg), or "" */
};

/* Copy events with seq >= from_seq, oldest first; returns how many were copied. */
uint32_t lk_events_read(const struct lk_softc *sc, uint64_t from_seq, struct lk_event *out, uint32_t max);
const char *lk_event_name(enum lk_event_type t);
/* One human line, e.g. "failover from vtnet0 to vtnet1"; always NUL-terminated. */
int lk_event_format(const struct lk_event *ev, char *buf, size_t buflen);

#ifdef __cplusplus
}
#endif
#endif /* LK_CORE_H */
