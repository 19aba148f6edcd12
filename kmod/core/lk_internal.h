/*
 * laggkit core internals: the softc, the member port and the transmit table ("txmap"), shared
 * by the core's own files and the LACP/marker files. Hosts never include this header; they
 * see only lk_core.h and treat struct lk_softc as opaque (lk_softc_size()).
 *
 * Header layers, each including only the one before it:
 *   lk_types.h     fixed-width types (the host may substitute its own)
 *   lk_core.h      the public API: what hosts call and implement
 *   lk_proto.h     the protocol interface: a protocol's table row, and the core services a
 *                  protocol may use (control transmit, events, timers, txmap republication)
 *   lk_lacp.h      LACP/marker: wire format, per-port and per-aggregate state, entry points
 *   lk_internal.h  the softc, port and txmap layouts, core-private helpers (this file)
 * A protocol file uses lk_proto.h's services and reaches the softc through lk_internal.h.
 *
 * Locking model (see lk_core.h): every field of struct lk_softc and struct lk_port is written
 * only under the host's per-aggregate lock, except
 *   - the CPU slots (sc->pcpu[]: per-port counters, out_no_port, the roundrobin cursor),
 *     written only by the frame path, each by the one caller that holds the slot, with
 *     relaxed atomic loads and stores (not read-modify-writes; see struct lk_pcpu);
 *   - sc->txmap, written with a release store, read with an acquire load on the frame path.
 * The frame path reads nothing else from the softc but sc->ncpu (fixed at lk_init): whatever
 * it needs to decide is a copy in the txmap, so a configuration change is seen by a frame
 * either entirely or not at all.
 */
#ifndef LK_INTERNAL_H
#define LK_INTERNAL_H

#include "lk_lacp.h" /* and through it lk_proto.h, lk_core.h, lk_types.h */

/* ---- Frame constants the core needs ---------------------------------------------------------- */

#define LK_ETHERTYPE_IPV4 0x0800u
#define LK_ETHERTYPE_ARP  0x0806u
#define LK_ETHERTYPE_VLAN 0x8100u
#define LK_ETHERTYPE_IPV6 0x86ddu
#define LK_ETHERTYPE_SLOW 0x8809u /* IEEE 802.3 slow protocols: LACP, marker */
#define LK_ETHER_HDR_LEN  14

/* ---- Member port ------------------------------------------------------------------------------ */

/* A member port: configuration and protocol state, all under the host lock. Its frame path
 * counters are in the CPU slots (struct lk_pcpu). */
struct lk_port {
	uint32_t index; /* handle given to the host, bit in every port mask */
	char name[LK_IFNAMSIZ];
	uint8_t lladdr[LK_ETHER_ADDR_LEN]; /* the port's own MAC, restored when it leaves */
	uint32_t mtu;                      /* the port's own MTU, restored when it leaves */
	uint64_t added_seq;                /* order added: failover ties go to the oldest port */
	uint16_t prio;                     /* failover priority, lower = preferred */
	uint16_t lacp_prio;                /* LACP port priority (actor port priority) */
	int link_up;
	uint64_t speed_bps; /* 0 = unknown */
	enum lk_duplex duplex;
	struct lk_lacp_port lacp; /* owned by lk_lacp*.c */
	/*
	 * The CPU slots' sums for this index when the port was added: status reports the
	 * difference, so a reused index starts from zero while the slots stay written by the
	 * frame path alone (a late reader of a retired txmap may still count on this index; the
	 * new port gets those frames, as it would had the count been reset).
	 */
	struct lk_port_counters base;
	uint64_t ctl_rx_dropped; /* control frames dropped under the host lock */
};

/* ---- CPU slots ---------------------------------------------------------------------------------- */

/*
 * What the frame path writes, one slot per CPU (see the concurrency contract in lk_core.h).
 * A slot is written only by the caller that holds it, so an update is a relaxed load and a
 * relaxed store (LK_SLOT_ADD), where a shared counter needs a locked read-modify-write: on
 * x86 that alone cost more than the rest of the flow id path. The atomics are relaxed so
 * that the status reader on another CPU, and a host that breaks the one-caller rule, race
 * only on the values, which is defined behaviour. Cache-line aligned, so slots of different
 * CPUs never share a line.
 */
struct lk_pcpu_port {
	uint64_t tx_packets, tx_bytes, rx_packets, rx_bytes;
};

struct lk_pcpu {
	struct lk_pcpu_port port[LK_MAX_PORTS];
	uint64_t rx_dropped[LK_MAX_PORTS];
	uint64_t out_no_port;
	uint32_t seq_next; /* frames this slot sent by the port sequence or roundrobin's select() */
} __attribute__((aligned(64)));

#define LK_SLOT_ADD(field, n) \
	__atomic_store_n(&(field), __atomic_load_n(&(field), __ATOMIC_RELAXED) + (n), __ATOMIC_RELAXED)

/* ---- Transmit table --------------------------------------------------------------------------- */

/*
 * Buckets of the flow table. A flow hash picks bucket (hash % LK_TXMAP_BUCKETS); each bucket
 * names one port. See lk_txmap.c for how the buckets' owners are chosen. A power of two (the
 * frame path masks). 16384: the designed orders need a multiple of 64, and their hashed parts
 * and the scores of ports 8 and up come out more even the more buckets there are, while the
 * 16 KiB table still sits in a level-1 data cache beside the frames.
 */
#define LK_TXMAP_BUCKETS 16384u
_Static_assert(LK_TXMAP_BUCKETS == LK_FLOW_BUCKETS, "the published bucket count is the table's");

/*
 * The port sequence. The port of the n-th frame a CPU slot sends under a table is seq[n %
 * LK_SEQ_LEN], n being the slot's cursor (struct lk_pcpu). It serves every protocol that sends
 * a frame to one port chosen without reading the frame:
 *   - roundrobin, when nactive * rr_limit divides LK_SEQ_LEN (both powers of two: the default
 *     stride over 2, 4, 8... ports): the rotation itself, entry n being the port the formula
 *     (n / rr_limit) % nactive gives, across the cursor's 32-bit wrap too (LK_SEQ_LEN divides
 *     2^32). Other rotations are computed, through the row's select();
 *   - failover, and broadcast with one port active: that port in every entry.
 * One path for them all, so roundrobin costs what failover does. Failover steps a cursor it
 * does not need, a load and a store on its own CPU's cache line, in place of a branch.
 */
#define LK_SEQ_LEN 64u

/*
 * What lk_output() does with a frame under a table, decided when the table is built, so the
 * frame path tests a field instead of calling the row's select() through a pointer (an
 * indirect call, dearer still under retpolines). One bit each, tested in this order.
 */
#define LK_PATH_HASHED 0x1u /* .hashed rows: the flow's bucket names the port */
#define LK_PATH_SEQ    0x2u /* the port sequence (above) */
#define LK_PATH_SELECT 0x4u /* anything else with a port active: the row's select() */
/* none of them: no active port (or protocol none), count the frame and drop it */

/*
 * Immutable once published. Built by lk_txmap_rebuild() from the softc on every change that
 * can alter a frame's fate, published with an atomic release store, retired through ops->retire.
 */
struct lk_txmap {
	const struct lk_proto_ops *proto;
	uint32_t path;       /* LK_PATH_*: how lk_output() picks the port(s) for this table */
	uint32_t flowid_ok;  /* hashed, use_flowid and a port active: a frame's flow id is used */
	uint32_t members;    /* ports that exist (a copy of sc->port_mask) */
	uint32_t active;     /* ports that may transmit (bit i = port i) */
	uint32_t collecting; /* ports whose received frames are accepted */
	uint32_t nactive;
	uint8_t order[LK_MAX_PORTS]; /* active ports, ascending index, nactive entries */
	int32_t primary;             /* failover: the port that sends, -1 none */
	uint32_t hash_layers;        /* LK_HASH_* */
	uint32_t seed;
	uint32_t use_flowid;
	uint32_t flowid_shift;
	uint32_t rr_limit;                /* >= 1 */
	uint64_t nactive_magic;           /* 2^64 / nactive + 1: roundrobin's modulo without a divide */
	uint8_t seq[LK_SEQ_LEN];          /* LK_PATH_SEQ: the port sequence */
	uint8_t bucket[LK_TXMAP_BUCKETS]; /* flow bucket -> port index (valid when nactive > 0) */
};

/* ---- Announcements ---------------------------------------------------------------------------- */

struct lk_announce_addr {
	uint8_t family; /* 4 or 6; 0 = free slot */
	uint8_t addr[16];
};

/* ---- Aggregate --------------------------------------------------------------------------------- */

struct lk_softc {
	const struct lk_host_ops *ops;
	void *host;
	char name[LK_IFNAMSIZ];
	enum lk_proto proto;
	uint32_t opts[LK_OPT_MAX];
	uint32_t opt_set; /* bit per enum lk_opt the user set (seed not derived then) */

	uint8_t lladdr[LK_ETHER_ADDR_LEN]; /* aggregate MAC (not LACP's System ID: lacp.sys_mac) */
	int lladdr_user;                   /* set by lk_set_lladdr: never replaced by a port's MAC */
	uint32_t mtu;
	int mtu_user;

	struct lk_port ports[LK_MAX_PORTS];
	uint32_t port_mask; /* which ports[] entries are members */
	uint32_t nports;
	uint64_t next_added_seq;

	/* failover */
	int32_t fo_active; /* current active port or -1 */

	/* aggregate link as last reported to the host */
	int link_up;
	uint64_t link_speed;

	/* published transmit table; txmap_dirty = rebuild pending (allocation failed) */
	struct lk_txmap *txmap;
	uint32_t txmap_gen; /* bumped on every publication (lk_tx_flow_view) */
	uint32_t ncpu;      /* CPU slots in pcpu[], fixed at lk_init; beside txmap, read with it */
	int txmap_dirty;
	int dying; /* lk_fini: no more rebuilds, the table is about to go */
	uint64_t txmap_retry_ns;

	/* the deadline last given to ops->timer_arm, UINT64_MAX when none is pending */
	uint64_t armed_ns;

	/* announcements after a failover */
	struct lk_announce_addr ann_addrs[LK_MAX_ANNOUNCE_ADDRS];
	int32_t ann_port;     /* port the announcements go out on, -1 none */
	uint32_t ann_left;    /* rounds still to send */
	uint64_t ann_next_ns; /* deadline of the next round */

	/* event ring */
	struct lk_event events[LK_EVENT_RING];
	uint64_t ev_next_seq; /* seq of the next event; ring slot = seq % LK_EVENT_RING */

	struct lk_lacp_softc lacp; /* owned by lk_lacp*.c */

	/* CPU slots, ncpu of them (lk_softc_size); the frame path's only writes */
	struct lk_pcpu pcpu[];
};

#define LK_PORT_BIT(i)       (1u << (i))
#define LK_PORT_VALID(sc, i) ((i) < LK_MAX_PORTS && ((sc)->port_mask & LK_PORT_BIT(i)) != 0)

/* The caller's slot; an index out of range (a host bug) shares slot 0, which can lose counts
 * but never writes outside the softc. */
static inline struct lk_pcpu *
lk_pcpu(struct lk_softc *sc, uint32_t cpu)
{
	return &sc->pcpu[cpu < sc->ncpu ? cpu : 0];
}

/* One frame sent on one port: its tx counters in the caller's slot; the port's mask bit. */
static inline uint32_t
lk_count_tx(struct lk_pcpu *pc, uint32_t port, uint32_t len)
{
	struct lk_pcpu_port *c = &pc->port[port];

	LK_SLOT_ADD(c->tx_packets, 1u);
	LK_SLOT_ADD(c->tx_bytes, len);
	return LK_PORT_BIT(port);
}

/*
 * The cursor of the port sequence (and of roundrobin's computed rotations). Each CPU slot has
 * its own, advanced by a load and a store: its caller alone writes it (lk_core.h), so no CPU
 * waits for another's cache line and no two frames of one CPU read the same position. A cursor
 * shared by every CPU needed a locked fetch-and-add to be exact, whose latency every frame
 * paid in series (roundrobin cost 1.7x failover for it), or lost steps whenever two CPUs sent
 * at once. Each CPU's rotation is exact, so the ports' shares are even to within one frame per
 * CPU; frames of concurrent senders interleave on the wire in no defined order anyway.
 */
static inline uint32_t
lk_seq_step(struct lk_pcpu *pc)
{
	uint32_t n = __atomic_load_n(&pc->seq_next, __ATOMIC_RELAXED);

	__atomic_store_n(&pc->seq_next, n + 1u, __ATOMIC_RELAXED);
	return n;
}

/*
 * Iterate the member ports in index order; the body may remove the current port. `p` must be
 * a plain identifier: the loop's scratch variables are named after it, so that two nested
 * loops do not shadow each other (NetBSD's kernel builds with -Wshadow -Werror).
 */
#define LK_FOREACH_PORT(sc, p) \
	for (uint32_t _lk_m_##p = (sc)->port_mask, _lk_i_##p = 0; _lk_m_##p != 0; \
	    _lk_m_##p &= _lk_m_##p - 1) \
		if ((_lk_i_##p = (uint32_t)__builtin_ctz(_lk_m_##p)), ((p) = &(sc)->ports[_lk_i_##p]), 1)

/* ---- Core-internal (between the core's own files) ------------------------------------------------ */

/* lk_lib.c: freestanding replacements for libc */
void lk_memcpy(void *dst, const void *src, size_t n);
void lk_memset(void *dst, int c, size_t n);
int lk_memcmp(const void *a, const void *b, size_t n);
size_t lk_strlcpy(char *dst, const char *src, size_t size);
int lk_strcmp(const char *a, const char *b);
size_t lk_strlen(const char *s);

/* lk_txmap.c */
int lk_txmap_rebuild(struct lk_softc *sc);  /* 0 or LK_ENOMEM (old map kept, retried) */
void lk_txmap_release(struct lk_softc *sc); /* unpublish and retire (lk_fini) */
static inline const struct lk_txmap *
lk_txmap_get(const struct lk_softc *sc)
{
	return __atomic_load_n(&sc->txmap, __ATOMIC_ACQUIRE);
}

/* lk_proto.c: which ports LACP lets distribute and collect right now */
void lk_proto_lacp_masks(const struct lk_softc *sc, uint32_t *active, uint32_t *collecting);

/* lk_hash.c */
uint32_t lk_hash_frame(const struct lk_frame *f, uint32_t layers, uint32_t seed);
uint32_t lk_hash_mix(uint32_t h); /* final avalanche */
/* Flow hash as the frame path uses it: the NIC flow id when allowed and present. */
uint32_t lk_flow_hash(const struct lk_txmap *m, const struct lk_frame *f);

/* lk_status.c: a port index's counters summed over the CPU slots (not less its base) */
void lk_port_counters_sum(const struct lk_softc *sc, uint32_t port, struct lk_port_counters *c);

/* lk_announce.c */
void lk_announce_start(struct lk_softc *sc, uint32_t port);
uint64_t lk_announce_tick(struct lk_softc *sc, uint64_t now_ns);
size_t lk_announce_build_garp(const struct lk_softc *sc, const uint8_t ip4[4], uint8_t *buf, size_t buflen);
size_t lk_announce_build_na(const struct lk_softc *sc, const uint8_t ip6[16], uint8_t *buf, size_t buflen);

/* lk_failover.c */
void lk_failover_update(struct lk_softc *sc); /* re-elect the active port, event + announce */

/* lk_event.c */
void lk_event_reset(struct lk_softc *sc);

/* Zero a whole object: constant size, so the compiler inlines it or emits the memset every
 * kernel provides (variable-size copies go through lk_memcpy/lk_memset instead). */
#define LK_ZERO(obj) __builtin_memset((obj), 0, sizeof(*(obj)))

/* Counter bump outside the frame path, where no CPU slot is held (host lock held). */
#define LK_COUNT(field, n) __atomic_fetch_add(&(field), (uint64_t)(n), __ATOMIC_RELAXED)

#endif /* LK_INTERNAL_H */
