/*
 * The transmit table ("txmap"): everything lk_output()/lk_input() need, built under the host
 * lock whenever configuration, link or LACP state changes, then published with one atomic
 * release store. The frame path never sees a half-updated table. The old table goes to
 * ops->retire, which frees it after the host's grace period (epoch, pserialize, RCU).
 *
 * Flow placement: the LK_TXMAP_BUCKETS buckets are assigned by rendezvous (highest random
 * weight) hashing: bucket b goes to the active port i with the greatest score(b, i). We chose
 * it over a "modulo nactive" table (the classic lagg choice) because
 *   - a bucket's owner depends only on the active set and the seed, never on history, so with
 *     the active set unchanged every flow stays on its port, even across rebuilds;
 *   - removing port i changes only the buckets whose best score was i (the others keep their
 *     maximum), so only that port's flows move, and they spread evenly over the survivors;
 *   - adding a port takes about 1/n of the buckets from every other port, nothing more.
 * The per-frame cost stays O(1) (one table load) because the O(buckets * ports) scoring is paid
 * at rebuild time, off the frame path.
 * Allocation may fail (kernel M_NOWAIT): the old table stays published, the rebuild is marked
 * pending and retried from lk_tick().
 */
#include "lk_internal.h"

#define TXMAP_RETRY_NS (10ull * 1000 * 1000)

static uint32_t
port_key(uint32_t index, uint32_t seed)
{
	return lk_hash_mix((index + 1u) * 0x9e3779b9u ^ seed);
}

static inline uint32_t
bucket_key(const struct lk_txmap *m, uint32_t b)
{
	return lk_hash_mix(b ^ (m->seed * 0x85ebca6bu));
}

/* Rendezvous winner of bucket b among the active ports: highest score, ties to lowest index. */
static uint8_t
bucket_owner(const struct lk_txmap *m, const uint32_t *pkey, uint32_t b)
{
	uint32_t bkey = bucket_key(m, b), best = 0, bestk = 0;

	for (uint32_t k = 0; k < m->nactive; k++) {
		uint32_t s = lk_hash_mix(bkey ^ pkey[m->order[k]]);
		if (k == 0 || s > best) {
			best = s;
			bestk = k;
		}
	}
	return m->order[bestk];
}

/*
 * Incremental fill. Under the same seed a bucket whose owner is still active keeps it unless
 * a newly added port outscores it: the owner was the maximum over the old set, so only the
 * added ports can beat it. Buckets of ports that left are scored again over the whole set.
 * The result is exactly the full computation's; it only keeps frequent LACP/link rebuilds
 * cheap (one or two scores per bucket instead of one per port).
 */
static void
fill_buckets(struct lk_txmap *m, const struct lk_txmap *old)
{
	uint32_t pkey[LK_MAX_PORTS];
	uint32_t added = old != NULL ? m->active & ~old->active : m->active;
	int incremental = old != NULL && old->proto->hashed && old->nactive > 0 && old->seed == m->seed;

	for (uint32_t k = 0; k < m->nactive; k++)
		pkey[m->order[k]] = port_key(m->order[k], m->seed);
	for (uint32_t b = 0; b < LK_TXMAP_BUCKETS; b++) {
		uint32_t owner = incremental ? old->bucket[b] : 0, bkey, best;

		if (!incremental || !(m->active & LK_PORT_BIT(owner))) {
			m->bucket[b] = bucket_owner(m, pkey, b);
			continue;
		}
		if (added == 0) {
			m->bucket[b] = (uint8_t)owner;
			continue;
		}
		bkey = bucket_key(m, b);
		best = lk_hash_mix(bkey ^ pkey[owner]);
		for (uint32_t a = added; a != 0; a &= a - 1) {
			uint32_t i = (uint32_t)__builtin_ctz(a);
			uint32_t s = lk_hash_mix(bkey ^ pkey[i]);
			if (s > best || (s == best && i < owner)) {
				best = s;
				owner = i;
			}
		}
		m->bucket[b] = (uint8_t)owner;
	}
}

/* Aggregate link: up while any port is active; tell the host only on change. */
static void
update_link(struct lk_softc *sc, const struct lk_txmap *m)
{
	uint32_t mask = m->active;
	uint64_t speed = 0;
	struct lk_port *p;
	int up;

	if (sc->proto == LK_PROTO_NONE) {
		/* no traffic, but the aggregate stays up while a member has carrier */
		mask = 0;
		LK_FOREACH_PORT(sc, p) {
			if (p->link_up)
				mask |= LK_PORT_BIT(p->index);
		}
	}
	up = mask != 0;
	if (sc->proto == LK_PROTO_FAILOVER && m->primary >= 0)
		speed = sc->ports[m->primary].speed_bps;
	else {
		LK_FOREACH_PORT(sc, p) {
			if (mask & LK_PORT_BIT(p->index))
				speed += p->speed_bps;
		}
	}
	if (up != sc->link_up || speed != sc->link_speed) {
		sc->link_up = up;
		sc->link_speed = speed;
		if (sc->ops->lagg_link_changed != NULL)
			sc->ops->lagg_link_changed(sc->host, up, speed);
	}
}

int
lk_txmap_rebuild(struct lk_softc *sc)
{
	struct lk_txmap *m, *old;
	const struct lk_proto_ops *po = lk_proto_table[sc->proto];

	if (sc->dying)
		return LK_OK;
	m = sc->ops->alloc(sc->host, sizeof(*m));
	if (m == NULL) {
		if (sc->ops->log != NULL && !sc->txmap_dirty)
			sc->ops->log(sc->host, 1,
			    "laggkit: transmit table allocation failed; "
			    "keeping the previous one and retrying");
		sc->txmap_dirty = 1;
		sc->txmap_retry_ns = lk_core_now(sc) + TXMAP_RETRY_NS;
		lk_core_schedule(sc, sc->txmap_retry_ns);
		return LK_ENOMEM;
	}
	LK_ZERO(m);
	m->proto = po;
	m->hashed = (uint32_t)po->hashed;
	m->primary = -1;
	m->hash_layers = sc->opts[LK_OPT_HASH_LAYERS];
	m->seed = sc->opts[LK_OPT_HASH_SEED];
	m->use_flowid = sc->opts[LK_OPT_USE_FLOWID];
	m->flowid_shift = sc->opts[LK_OPT_FLOWID_SHIFT];
	m->rr_limit = sc->opts[LK_OPT_RR_LIMIT] == 0 ? 1 : sc->opts[LK_OPT_RR_LIMIT];
	m->members = sc->port_mask;
	po->build(sc, m);
	m->active &= sc->port_mask;
	m->collecting &= sc->port_mask;
	for (uint32_t a = m->active; a != 0; a &= a - 1)
		m->order[m->nactive++] = (uint8_t)__builtin_ctz(a);
	if (m->nactive > 0)
		m->nactive_magic = UINT64_MAX / m->nactive + 1;
	old = sc->txmap;
	if (po->hashed && m->nactive > 0)
		fill_buckets(m, old);

	__atomic_store_n(&sc->txmap, m, __ATOMIC_RELEASE);
	if (old != NULL)
		sc->ops->retire(sc->host, old);
	sc->txmap_dirty = 0;
	update_link(sc, m);
	return LK_OK;
}

void
lk_txmap_release(struct lk_softc *sc)
{
	struct lk_txmap *old = sc->txmap;

	__atomic_store_n(&sc->txmap, (struct lk_txmap *)NULL, __ATOMIC_RELEASE);
	if (old != NULL)
		sc->ops->retire(sc->host, old);
}

/*
 * LACP calls this whenever a port may have started or stopped collecting or distributing; it
 * often has not, so compare first and skip the rebuild (and a grace period) when nothing moved.
 */
void
lk_core_txmap_dirty(struct lk_softc *sc)
{
	const struct lk_txmap *m = sc->txmap;
	uint32_t active, collecting;

	if (m != NULL && !sc->txmap_dirty && sc->proto == LK_PROTO_LACP &&
	    m->proto == lk_proto_table[LK_PROTO_LACP]) {
		lk_proto_lacp_masks(sc, &active, &collecting);
		if (active == m->active && collecting == m->collecting)
			return;
	}
	(void)lk_txmap_rebuild(sc);
}
