/*
 * laggkit core: the protocol interface. A protocol is one table row (struct lk_proto_ops) in
 * lk_proto.c and the file that implements it; the core calls protocol-specific work only
 * through the row, so adding a protocol is one file and one row. The services below are
 * what a protocol may ask of the core. Everything here runs under the host's per-aggregate
 * lock, except select() and the frame path, which see only the published txmap.
 */
#ifndef LK_PROTO_H
#define LK_PROTO_H

#include "lk_core.h"

struct lk_softc;
struct lk_port;
struct lk_txmap;
struct lk_pcpu;

/* ---- Protocol table row ---------------------------------------------------------------------- */

/*
 * One row per enum lk_proto (lk_proto.c). Configuration hooks run under the host lock; select
 * and input run on the lock-free frame path and see only the txmap.
 * Protocol switch: old->detach() (no port_remove calls: detach forgets every port), then
 * new->attach(), then new->port_add() for every existing member, then a txmap rebuild.
 * Port removal: port_remove() is called while the port is still a member, then it is unlinked.
 */
struct lk_proto_ops {
	const char *name;
	int hashed;    /* output picks ports through the flow buckets */
	int rotate;    /* output takes the active ports in turn (the CPU slot's cursor, rr_limit) */
	int to_active; /* output sends every frame to every active port (failover's one, all) */
	/* protocol switched to / away from */
	void (*attach)(struct lk_softc *sc);
	void (*detach)(struct lk_softc *sc);
	int (*port_add)(struct lk_softc *sc, struct lk_port *p);
	void (*port_remove)(struct lk_softc *sc, struct lk_port *p);
	void (*port_link)(struct lk_softc *sc, struct lk_port *p);
	/* which ports transmit and which collect, for the next txmap */
	void (*build)(const struct lk_softc *sc, struct lk_txmap *m);
	/* frame path: port mask for one frame (0 = drop); pc is the caller's CPU slot */
	uint32_t (*select)(struct lk_pcpu *pc, const struct lk_txmap *m, const struct lk_frame *f);
	/* run due timers; returns the next absolute deadline in ns, or UINT64_MAX */
	uint64_t (*tick)(struct lk_softc *sc, uint64_t now_ns);
	/* rx-side: control frames this protocol consumes (0 or LK_EPROTO) */
	int (*control_input)(struct lk_softc *sc, struct lk_port *p, const uint8_t *frame, uint32_t len);
	/*
	 * Options. set_opt() of every row sees each value before it is stored, whether or not
	 * that protocol runs (a protocol keeps its administrative variables across switches),
	 * and may refuse it. opt_changed() of the running protocol sees it after.
	 */
	int (*set_opt)(struct lk_softc *sc, enum lk_opt opt, uint32_t value);
	void (*opt_changed)(struct lk_softc *sc, enum lk_opt opt);
	/* a port was unlinked (after port_remove): re-decide without it */
	void (*port_removed)(struct lk_softc *sc);
};

extern const struct lk_proto_ops *const lk_proto_table[LK_PROTO_MAX];

/* ---- Services the core offers protocols (host lock held) ------------------------------------------ */

/* Transmit a control frame the core built on port p (counted as tx on the port). */
int lk_core_ctl_tx(struct lk_softc *sc, struct lk_port *p, const uint8_t *frame, uint32_t len);
/* Append to the event ring, timestamped with the host clock. p may be NULL. */
void lk_core_event(struct lk_softc *sc, enum lk_event_type t, const struct lk_port *p, int32_t arg);
/* Collecting/distributing changed: rebuild and republish the txmap, update aggregate link. */
void lk_core_txmap_dirty(struct lk_softc *sc);
uint64_t lk_core_now(const struct lk_softc *sc);
/* Ask for lk_tick() no later than deadline_ns (absolute). */
void lk_core_schedule(struct lk_softc *sc, uint64_t deadline_ns);

#endif /* LK_PROTO_H */
