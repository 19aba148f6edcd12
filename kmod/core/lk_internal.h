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
 *   - the per-port counters and sc->out_no_port, bumped with relaxed atomics on the frame path;
 *   - sc->rr_next, the roundrobin cursor, read and written (not RMW) with relaxed atomics on
 *     the frame path (see rr_select in lk_proto.c);
 *   - sc->txmap, written with a release store, read with an acquire load on the frame path.
 * The frame path reads nothing else from the softc: whatever it needs to decide is a copy in
 * the txmap, so a configuration change is seen by a frame either entirely or not at all.
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

/* Counters bumped on the frame path with __atomic_fetch_add(..., __ATOMIC_RELAXED). */
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
	/* Last on purpose: a late reader of a retired txmap may still bump the counters of a
	 * slot being reused, so lk_port_add resets them with atomic stores and clears only the
	 * fields before them with a plain memset. */
	struct lk_port_counters counters;
};

/* ---- Transmit table --------------------------------------------------------------------------- */

/*
 * Buckets of the flow table. A flow hash picks bucket (hash % LK_TXMAP_BUCKETS); each bucket
 * names one port. See lk_txmap.c for how the buckets' owners are chosen. A power of two (the
 * frame path masks). 16384: the designed orders need a multiple of 64, and their hashed parts
 * and the scores of ports 8 and up come out more even the more buckets there are, while the
 * 16 KiB table still sits in a level-1 data cache beside the frames.
 */
#define LK_TXMAP_BUCKETS 16384u

/*
 * Immutable once published. Built by lk_txmap_rebuild() from the softc on every change that
 * can alter a frame's fate, published with an atomic release store, retired through ops->retire.
 */
struct lk_txmap {
	const struct lk_proto_ops *proto;
	uint32_t hashed;     /* proto->hashed, copied: the frame path's first test */
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

	uint8_t lladdr[LK_ETHER_ADDR_LEN]; /* aggregate MAC = LACP system id */
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
	int txmap_dirty;
	int dying; /* lk_fini: no more rebuilds, the table is about to go */
	uint64_t txmap_retry_ns;

	/* the deadline last given to ops->timer_arm, UINT64_MAX when none is pending */
	uint64_t armed_ns;

	/* frame path shared state (atomics) */
	uint32_t rr_next;
	uint64_t out_no_port;

	/* announcements after a failover */
	struct lk_announce_addr ann_addrs[LK_MAX_ANNOUNCE_ADDRS];
	int32_t ann_port;     /* port the announcements go out on, -1 none */
	uint32_t ann_left;    /* rounds still to send */
	uint64_t ann_next_ns; /* deadline of the next round */

	/* event ring */
	struct lk_event events[LK_EVENT_RING];
	uint64_t ev_next_seq; /* seq of the next event; ring slot = seq % LK_EVENT_RING */

	struct lk_lacp_softc lacp; /* owned by lk_lacp*.c */
};

#define LK_PORT_BIT(i)       (1u << (i))
#define LK_PORT_VALID(sc, i) ((i) < LK_MAX_PORTS && ((sc)->port_mask & LK_PORT_BIT(i)) != 0)

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

/* Relaxed counter bump for the frame path. */
#define LK_COUNT(field, n) __atomic_fetch_add(&(field), (uint64_t)(n), __ATOMIC_RELAXED)

#endif /* LK_INTERNAL_H */
