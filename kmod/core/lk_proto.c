/*
 * The protocol table: one row per enum lk_proto, with designated initialisers, so adding a
 * protocol means one set of functions and one row. Configuration hooks run under the host lock;
 * build() decides which ports transmit and collect in the next txmap; select() runs on the
 * lock-free frame path and reads nothing but the txmap (and the roundrobin cursor).
 */
#include "lk_hash.h"

/* ---- shared pieces ------------------------------------------------------------------------- */

static uint32_t
link_up_ports(const struct lk_softc *sc)
{
	uint32_t mask = 0;

	for (uint32_t b = sc->port_mask; b != 0; b &= b - 1) {
		uint32_t i = (uint32_t)__builtin_ctz(b);
		if (sc->ports[i].link_up)
			mask |= LK_PORT_BIT(i);
	}
	return mask;
}

static void
build_all_up(const struct lk_softc *sc, struct lk_txmap *m)
{
	m->active = m->collecting = link_up_ports(sc);
}

/* One port per flow: the bucket the flow hash falls in names it (see lk_txmap.c). lk_output()
 * takes this path inline for every .hashed row (LK_PATH_HASHED); this entry is what the table
 * row names. */
static uint32_t
select_hashed(struct lk_pcpu *pc, const struct lk_txmap *m, const struct lk_frame *f)
{
	(void)pc;
	return LK_PORT_BIT(m->bucket[LK_BUCKET_OF(lk_flow_hash(m, f))]);
}

/* ---- none: the aggregate stays up and carries nothing ------------------------------------- */

static void
none_build(const struct lk_softc *sc, struct lk_txmap *m)
{
	(void)sc;
	m->active = m->collecting = 0;
}

static uint32_t
none_select(struct lk_pcpu *pc, const struct lk_txmap *m, const struct lk_frame *f)
{
	(void)pc;
	(void)m;
	(void)f;
	return 0;
}

/* ---- roundrobin: rr_limit frames on a port, then the next one ------------------------------ */

/*
 * n % d without a divide (Lemire's fastmod, exact for every 32-bit n): magic = 2^64 / d + 1,
 * precomputed per table. The high half of the 128-bit product is assembled from two 64-bit
 * ones, since d < 2^6 keeps them from overflowing, and not every kernel target has __int128.
 */
static inline uint32_t
fastmod(uint32_t n, uint64_t magic, uint32_t d)
{
	uint64_t low = magic * n;

	return (uint32_t)(((low >> 32) * d + (((low & 0xffffffffu) * d) >> 32)) >> 32);
}

/*
 * lk_output() takes the rotation from the port sequence when it fits there (LK_SEQ_LEN, the
 * default stride over 2, 4, 8... ports); the others come here, with the same cursor, and get
 * the port the sequence would hold: (n / rr_limit) % nactive.
 */
static uint32_t
rr_select(struct lk_pcpu *pc, const struct lk_txmap *m, const struct lk_frame *f)
{
	uint32_t n = lk_seq_step(pc);

	(void)f;
	if (m->rr_limit > 1)
		n /= m->rr_limit;
	return LK_PORT_BIT(m->order[fastmod(n, m->nactive_magic, m->nactive)]);
}

/* ---- failover: one active port; rx-all accepts on every up port ---------------------------- */

static void
fo_attach(struct lk_softc *sc)
{
	sc->fo_active = -1;
	lk_failover_update(sc);
}

static void
fo_detach(struct lk_softc *sc)
{
	sc->fo_active = -1;
	sc->ann_left = 0;
	sc->ann_port = -1;
}

static int
fo_port_add(struct lk_softc *sc, struct lk_port *p)
{
	(void)p;
	lk_failover_update(sc);
	return LK_OK;
}

static void
fo_port_link(struct lk_softc *sc, struct lk_port *p)
{
	(void)p;
	lk_failover_update(sc);
}

static void
fo_opt_changed(struct lk_softc *sc, enum lk_opt opt)
{
	if (opt == LK_OPT_FAILOVER_PREEMPT)
		lk_failover_update(sc);
}

static void
fo_build(const struct lk_softc *sc, struct lk_txmap *m)
{
	uint32_t up = link_up_ports(sc);

	m->primary = sc->fo_active;
	m->active = sc->fo_active >= 0 ? LK_PORT_BIT(sc->fo_active) & up : 0;
	m->collecting = sc->opts[LK_OPT_FAILOVER_RX_ALL] ? up : m->active;
}

static uint32_t
active_select(struct lk_pcpu *pc, const struct lk_txmap *m, const struct lk_frame *f)
{
	(void)pc;
	(void)f;
	return m->active;
}

/* ---- lacp: the LACP code decides who collects and distributes ------------------------------- */

void
lk_proto_lacp_masks(const struct lk_softc *sc, uint32_t *active, uint32_t *collecting)
{
	*active = *collecting = 0;
	for (uint32_t b = sc->port_mask; b != 0; b &= b - 1) {
		uint32_t i = (uint32_t)__builtin_ctz(b);
		const struct lk_port *p = &sc->ports[i];
		if (!p->link_up)
			continue;
		if (lk_lacp_port_distributing(sc, p))
			*active |= LK_PORT_BIT(i);
		if (lk_lacp_port_collecting(sc, p))
			*collecting |= LK_PORT_BIT(i);
	}
}

static void
lacp_build(const struct lk_softc *sc, struct lk_txmap *m)
{
	lk_proto_lacp_masks(sc, &m->active, &m->collecting);
}

/* ---- the table ---------------------------------------------------------------------------- */

static const struct lk_proto_ops proto_none = {
	.name = "none",
	.build = none_build,
	.select = none_select,
};

static const struct lk_proto_ops proto_roundrobin = {
	.name = "roundrobin",
	.rotate = 1,
	.build = build_all_up,
	.select = rr_select,
};

static const struct lk_proto_ops proto_failover = {
	.name = "failover",
	.attach = fo_attach,
	.detach = fo_detach,
	.port_add = fo_port_add,
	.port_link = fo_port_link,
	.port_removed = lk_failover_update,
	.opt_changed = fo_opt_changed,
	.build = fo_build,
	.select = active_select,
	.to_active = 1,
};

static const struct lk_proto_ops proto_loadbalance = {
	.name = "loadbalance",
	.hashed = 1,
	.build = build_all_up,
	.select = select_hashed,
};

static const struct lk_proto_ops proto_lacp = {
	.name = "lacp",
	.hashed = 1,
	.attach = lk_lacp_attach,
	.detach = lk_lacp_detach,
	.port_add = lk_lacp_port_add,
	.port_remove = lk_lacp_port_remove,
	.port_link = lk_lacp_port_link,
	.build = lacp_build,
	.select = select_hashed,
	.tick = lk_lacp_tick,
	.control_input = lk_lacp_input,
	.set_opt = lk_lacp_set_opt,
};

static const struct lk_proto_ops proto_broadcast = {
	.name = "broadcast",
	.to_active = 1,
	.build = build_all_up,
	.select = active_select,
};

const struct lk_proto_ops *const lk_proto_table[LK_PROTO_MAX] = {
	[LK_PROTO_NONE] = &proto_none,
	[LK_PROTO_ROUNDROBIN] = &proto_roundrobin,
	[LK_PROTO_FAILOVER] = &proto_failover,
	[LK_PROTO_LOADBALANCE] = &proto_loadbalance,
	[LK_PROTO_LACP] = &proto_lacp,
	[LK_PROTO_BROADCAST] = &proto_broadcast,
};
