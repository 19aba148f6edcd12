/*
 * laggkit core entry points: lifecycle, protocol and option changes, the lock-free frame path
 * (lk_output, lk_input), control input and the timer. Port configuration is in lk_port.c, the
 * protocol rows in lk_proto.c, the transmit table in lk_txmap.c.
 */
#include "lk_hash.h"

#define NS_PER_MS 1000000ull

static const uint32_t opt_default[LK_OPT_MAX] = {
	[LK_OPT_HASH_LAYERS] = LK_HASH_L2 | LK_HASH_L3 | LK_HASH_L4,
	[LK_OPT_HASH_SEED] = 0,
	[LK_OPT_USE_FLOWID] = 1,
	[LK_OPT_FLOWID_SHIFT] = 0,
	[LK_OPT_RR_LIMIT] = 1,
	/* NetBSD's default: the far end's failover never drops what arrives on the port it has
	 * not yet learned is the new active one (its carrier news can lag by a second) */
	[LK_OPT_FAILOVER_RX_ALL] = 1,
	[LK_OPT_FAILOVER_PREEMPT] = 1,
	[LK_OPT_LACP_FAST_TIMEOUT] = 0,
	[LK_OPT_LACP_STRICT] = 1,
	[LK_OPT_LACP_PASSIVE] = 0,
	[LK_OPT_LACP_SYS_PRIO] = 32768,
	[LK_OPT_LACP_KEY] = 0,
	[LK_OPT_LACP_MAXPORTS] = 0,
	[LK_OPT_LACP_MULTI_SPEED] = 0,
	[LK_OPT_ANNOUNCE_COUNT] = 1,
	[LK_OPT_ANNOUNCE_INTERVAL_MS] = 1000,
	[LK_OPT_LACP_FULL_WAIT] = 0,
};

/* Upper bound of each option (inclusive). */
static const uint32_t opt_max[LK_OPT_MAX] = {
	[LK_OPT_HASH_LAYERS] = LK_HASH_L2 | LK_HASH_L3 | LK_HASH_L4,
	[LK_OPT_HASH_SEED] = 0xffffffffu,
	[LK_OPT_USE_FLOWID] = 1,
	[LK_OPT_FLOWID_SHIFT] = 31,
	[LK_OPT_RR_LIMIT] = 0xffffffffu,
	[LK_OPT_FAILOVER_RX_ALL] = 1,
	[LK_OPT_FAILOVER_PREEMPT] = 1,
	[LK_OPT_LACP_FAST_TIMEOUT] = 1,
	[LK_OPT_LACP_STRICT] = 1,
	[LK_OPT_LACP_PASSIVE] = 1,
	[LK_OPT_LACP_SYS_PRIO] = 65535,
	[LK_OPT_LACP_KEY] = 65535,
	[LK_OPT_LACP_MAXPORTS] = LK_MAX_PORTS,
	[LK_OPT_LACP_MULTI_SPEED] = 1,
	[LK_OPT_ANNOUNCE_COUNT] = 100,
	[LK_OPT_ANNOUNCE_INTERVAL_MS] = 60000,
	[LK_OPT_LACP_FULL_WAIT] = 1,
};

const char *
lk_strerror(int err)
{
	switch (err) {
	case LK_OK:
		return "success";
	case LK_EINVAL:
		return "invalid argument";
	case LK_ENOSPC:
		return "no space (aggregate full)";
	case LK_EEXIST:
		return "port already a member";
	case LK_ENOENT:
		return "no such port";
	case LK_ENOMEM:
		return "out of memory";
	case LK_EBUSY:
		return "busy";
	case LK_EPROTO:
		return "malformed control frame";
	default:
		return "unknown error";
	}
}

const char *
lk_proto_name(enum lk_proto p)
{
	if ((unsigned)p >= LK_PROTO_MAX)
		return "unknown";
	return lk_proto_table[p]->name;
}

int
lk_proto_from_name(const char *name, enum lk_proto *out)
{
	if (name == NULL || out == NULL)
		return LK_EINVAL;
	if (lk_strcmp(name, "fec") == 0) {
		*out = LK_PROTO_LOADBALANCE;
		return LK_OK;
	}
	for (int i = 0; i < LK_PROTO_MAX; i++) {
		if (lk_strcmp(name, lk_proto_table[i]->name) == 0) {
			*out = (enum lk_proto)i;
			return LK_OK;
		}
	}
	return LK_EINVAL;
}

size_t
lk_softc_size(uint32_t ncpu)
{
	if (ncpu == 0 || ncpu > LK_MAX_CPUS)
		return 0;
	return sizeof(struct lk_softc) + (size_t)ncpu * sizeof(struct lk_pcpu);
}

/* ---- services for the protocol and LACP code --------------------------------------------- */

uint64_t
lk_core_now(const struct lk_softc *sc)
{
	return sc->ops->now_ns(sc->host);
}

void
lk_core_schedule(struct lk_softc *sc, uint64_t deadline_ns)
{
	uint64_t now;

	if (deadline_ns >= sc->armed_ns)
		return;
	now = lk_core_now(sc);
	sc->armed_ns = deadline_ns;
	sc->ops->timer_arm(sc->host, deadline_ns > now ? deadline_ns - now : 0);
}

/* Something changed that a protocol's timers may care about: get lk_tick() called soon. */
static void
kick(struct lk_softc *sc)
{
	if (sc->proto == LK_PROTO_LACP)
		lk_core_schedule(sc, lk_core_now(sc));
}

int
lk_core_ctl_tx(struct lk_softc *sc, struct lk_port *p, const uint8_t *frame, uint32_t len)
{
	if (p == NULL || !LK_PORT_VALID(sc, p->index))
		return LK_ENOENT;
	return sc->ops->ctl_transmit(sc->host, p->index, frame, len);
}

/* ---- lifecycle ----------------------------------------------------------------------------- */

/* Offer an option value to every protocol row (lk_proto.h); the first refusal wins. */
static int
proto_set_opt(struct lk_softc *sc, enum lk_opt opt, uint32_t value)
{
	for (int i = 0; i < LK_PROTO_MAX; i++) {
		const struct lk_proto_ops *po = lk_proto_table[i];
		int err;

		if (po->set_opt != NULL && (err = po->set_opt(sc, opt, value)) != LK_OK)
			return err;
	}
	return LK_OK;
}

int
lk_init(struct lk_softc *sc, const struct lk_host_ops *ops, void *host, const char *name, uint32_t ncpu)
{
	if (sc == NULL || ops == NULL || ops->now_ns == NULL || ops->timer_arm == NULL ||
	    ops->ctl_transmit == NULL || ops->port_set_lladdr == NULL || ops->port_set_mtu == NULL ||
	    ops->alloc == NULL || ops->free == NULL || ops->retire == NULL || ncpu == 0 || ncpu > LK_MAX_CPUS)
		return LK_EINVAL;
	lk_memset(sc, 0, lk_softc_size(ncpu));
	sc->ncpu = ncpu;
	sc->ops = ops;
	sc->host = host;
	lk_strlcpy(sc->name, name != NULL ? name : "", sizeof(sc->name));
	for (int i = 0; i < LK_OPT_MAX; i++)
		sc->opts[i] = opt_default[i];
	sc->proto = LK_PROTO_FAILOVER;
	sc->fo_active = -1;
	sc->ann_port = -1;
	sc->armed_ns = UINT64_MAX;
	for (uint32_t i = 0; i < LK_MAX_PORTS; i++)
		sc->ports[i].index = i;
	/* every protocol keeps its administrative variables, running or not: give the defaults */
	for (int o = 0; o < LK_OPT_MAX; o++)
		(void)proto_set_opt(sc, (enum lk_opt)o, sc->opts[o]);
	if (lk_txmap_rebuild(sc) != LK_OK)
		return LK_ENOMEM;
	return LK_OK;
}

void
lk_fini(struct lk_softc *sc)
{
	struct lk_port *p;

	/* frames may still be in flight on the current table: keep it published until the end */
	sc->dying = 1;
	LK_FOREACH_PORT(sc, p)
		(void)lk_port_remove(sc, p->index);
	if (lk_proto_table[sc->proto]->detach != NULL)
		lk_proto_table[sc->proto]->detach(sc);
	lk_txmap_release(sc);
	sc->armed_ns = UINT64_MAX;
}

/* ---- protocol and options ------------------------------------------------------------------ */

int
lk_set_proto(struct lk_softc *sc, enum lk_proto proto)
{
	const struct lk_proto_ops *old, *new;
	enum lk_proto prev = sc->proto;
	struct lk_port *p;

	if ((unsigned)proto >= LK_PROTO_MAX)
		return LK_EINVAL;
	if (proto == prev)
		return LK_OK;
	old = lk_proto_table[prev];
	new = lk_proto_table[proto];
	if (old->detach != NULL)
		old->detach(sc);
	sc->proto = proto;
	if (new->attach != NULL)
		new->attach(sc);
	LK_FOREACH_PORT(sc, p) {
		if (new->port_add != NULL)
			(void)new->port_add(sc, p);
	}
	lk_core_event(sc, LK_EV_PROTO_CHANGED, NULL, (int32_t)prev);
	(void)lk_txmap_rebuild(sc);
	kick(sc);
	return LK_OK;
}

enum lk_proto
lk_get_proto(const struct lk_softc *sc)
{
	return sc->proto;
}

int
lk_set_opt(struct lk_softc *sc, enum lk_opt opt, uint32_t value)
{
	int err;

	if ((unsigned)opt >= LK_OPT_MAX || value > opt_max[opt])
		return LK_EINVAL;
	if (opt == LK_OPT_HASH_LAYERS && value == 0)
		return LK_EINVAL;
	err = proto_set_opt(sc, opt, value);
	if (err != LK_OK)
		return err;
	sc->opts[opt] = value;
	sc->opt_set |= 1u << opt;
	if (lk_proto_table[sc->proto]->opt_changed != NULL)
		lk_proto_table[sc->proto]->opt_changed(sc, opt);
	(void)lk_txmap_rebuild(sc);
	kick(sc);
	return LK_OK;
}

int
lk_get_opt(const struct lk_softc *sc, enum lk_opt opt, uint32_t *value)
{
	if ((unsigned)opt >= LK_OPT_MAX || value == NULL)
		return LK_EINVAL;
	*value = sc->opts[opt];
	return LK_OK;
}

/* ---- frame path ---------------------------------------------------------------------------- */

/* One frame on one port: the tx counters in the caller's slot, and the mask lk_output returns. */
static inline uint32_t
count_one(struct lk_pcpu *pc, uint32_t port, const struct lk_frame *f)
{
	return lk_count_tx(pc, port, f->len);
}

/*
 * The slower paths of lk_output, kept out of line and reached by tail calls: the header hash
 * needs registers that lk_output would otherwise save and restore on every frame, including
 * the ones that take the NIC flow id and need none.
 */
static __attribute__((noinline)) uint32_t
output_headers(struct lk_pcpu *pc, const struct lk_txmap *m, const struct lk_frame *f)
{
	return count_one(pc, m->bucket[LK_BUCKET_OF(lk_hash_frame_inline(f, m->hash_layers, m->seed))], f);
}

static __attribute__((noinline)) uint32_t
output_selected(struct lk_pcpu *pc, const struct lk_txmap *m, const struct lk_frame *f)
{
	uint32_t mask = m->proto->select(pc, m, f);

	if (mask == 0) {
		LK_SLOT_ADD(pc->out_no_port, 1u);
		return 0;
	}
	for (uint32_t b = mask; b != 0; b &= b - 1)
		(void)count_one(pc, (uint32_t)__builtin_ctz(b), f);
	return mask;
}

uint32_t
lk_output(struct lk_softc *sc, uint32_t cpu, const struct lk_frame *f)
{
	const struct lk_txmap *m = lk_txmap_get(sc);
	struct lk_pcpu *pc = lk_pcpu(sc, cpu);

	if (m == NULL)
		goto drop;
	/* A frame with the NIC's flow id under a hashed protocol: one test, one table load. */
	if (f->has_flowid && m->flowid_ok)
		return count_one(pc, m->bucket[LK_BUCKET_OF(lk_flowid_hash(m, f))], f);
	/* Hashed protocols (loadbalance, lacp) carry most traffic: the header hash and the bucket
	 * lookup, which picks exactly one port. */
	if (m->path & LK_PATH_HASHED)
		return output_headers(pc, m, f);
	/* roundrobin, failover: the slot's n-th frame goes to the sequence's n-th port */
	if (m->path & LK_PATH_SEQ)
		return count_one(pc, m->seq[lk_seq_step(pc) % LK_SEQ_LEN], f);
	if (m->path & LK_PATH_SELECT)
		return output_selected(pc, m, f);
drop:
	LK_SLOT_ADD(pc->out_no_port, 1u);
	return 0;
}

/* IEEE 802.3 annex 57A: slow protocols frames are untagged; a tagged one is VLAN data. */
static int
is_slow_protocols(const struct lk_frame *f)
{
	return !f->has_vlan && f->caplen >= LK_ETHER_HDR_LEN &&
	    (((uint32_t)f->data[12] << 8) | f->data[13]) == LK_ETHERTYPE_SLOW;
}

enum lk_rx_verdict
lk_input(struct lk_softc *sc, uint32_t cpu, uint32_t port, const struct lk_frame *f)
{
	const struct lk_txmap *m = lk_txmap_get(sc);
	struct lk_pcpu *pc;

	/* not a member (as of the table this frame sees): no port to count the drop on */
	if (port >= LK_MAX_PORTS || m == NULL || (m->members & LK_PORT_BIT(port)) == 0)
		return LK_RX_DROP;
	pc = lk_pcpu(sc, cpu);
	if (f == NULL || f->data == NULL || f->caplen < LK_ETHER_HDR_LEN) {
		LK_SLOT_ADD(pc->rx_dropped[port], 1u);
		return LK_RX_DROP;
	}
	/* slow protocols frames are never delivered up: LACP consumes them, others drop them */
	if (is_slow_protocols(f)) {
		if (m->proto->control_input != NULL)
			return LK_RX_CONTROL;
		LK_SLOT_ADD(pc->rx_dropped[port], 1u);
		return LK_RX_DROP;
	}
	if ((m->collecting & LK_PORT_BIT(port)) == 0) {
		LK_SLOT_ADD(pc->rx_dropped[port], 1u);
		return LK_RX_DROP;
	}
	LK_SLOT_ADD(pc->port[port].rx_packets, 1u);
	LK_SLOT_ADD(pc->port[port].rx_bytes, f->len);
	return LK_RX_ACCEPT;
}

uint32_t
lk_rx_accept_mask(const struct lk_softc *sc)
{
	const struct lk_txmap *m = lk_txmap_get(sc);

	return m == NULL ? 0 : m->collecting & m->members;
}

int
lk_tx_flow_view(const struct lk_softc *sc, struct lk_flow_view *v)
{
	const struct lk_txmap *m = lk_txmap_get(sc);

	v->gen = sc->txmap_gen;
	if (m == NULL || !m->flowid_ok || m->nactive == 0)
		return 0;
	v->active = m->active;
	v->hash_layers = m->hash_layers;
	v->flowid_shift = m->flowid_shift;
	v->seed = m->seed;
	v->bucket = m->bucket;
	return 1;
}

int
lk_control_input(struct lk_softc *sc, uint32_t port, const uint8_t *frame, uint32_t len)
{
	const struct lk_proto_ops *po = lk_proto_table[sc->proto];
	int err;

	if (!LK_PORT_VALID(sc, port) || frame == NULL)
		return LK_EINVAL;
	if (po->control_input == NULL) {
		LK_COUNT(sc->ports[port].ctl_rx_dropped, 1);
		return LK_OK;
	}
	err = po->control_input(sc, &sc->ports[port], frame, len);
	kick(sc);
	return err;
}

void
lk_tick(struct lk_softc *sc)
{
	const struct lk_proto_ops *po = lk_proto_table[sc->proto];
	uint64_t now = lk_core_now(sc), next = UINT64_MAX, t;

	sc->armed_ns = UINT64_MAX;
	if (sc->txmap_dirty) {
		if (now >= sc->txmap_retry_ns)
			(void)lk_txmap_rebuild(sc);
		if (sc->txmap_dirty && sc->txmap_retry_ns < next)
			next = sc->txmap_retry_ns;
	}
	if (po->tick != NULL) {
		t = po->tick(sc, now);
		if (t < next)
			next = t;
	}
	t = lk_announce_tick(sc, now);
	if (t < next)
		next = t;
	if (next != UINT64_MAX)
		lk_core_schedule(sc, next);
}
